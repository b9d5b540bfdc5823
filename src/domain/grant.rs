//! What a token grants and what became of it: the values the stores answer with and the cert
//! endpoint decides from.

use std::net::IpAddr;
use std::sync::Arc;

/// The longest lifetime a token may be given, in seconds (one day).
pub const MAX_TTL_SECONDS: u64 = 86_400;

/// What a token was issued for. The strings are shared with the directory's records.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Grant {
    /// Company code.
    pub company: Arc<str>,
    /// Member key (`custId`).
    pub customer_id: Arc<str>,
    /// Vendor number.
    pub vendor: Arc<str>,
}

/// How a token was used up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The caller's address.
    pub by: IpAddr,
}

/// Everything the store knows about one token.
#[derive(Debug, Clone)]
pub struct TokenView {
    pub grant: Arc<Grant>,
    pub issued_ms: u64,
    pub expires_ms: u64,
    pub used: Option<Use>,
}

/// The outcome of redeeming a token, decided atomically.
#[derive(Debug, Clone)]
pub enum Redeem {
    /// The token was valid and is now used up.
    Redeemed(Arc<Grant>),
    /// The token's lifetime is over and it was never used: the cert endpoint's 401.
    Expired { view: TokenView },
    /// The token was used before: 404.
    AlreadyUsed { view: TokenView },
    /// No such token (never issued, or forgotten): 404.
    Unknown,
}
