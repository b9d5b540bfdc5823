//! Sandboxes: isolated copies of the mall, so that test suites running at once on one simulator
//! never meet each other's tokens, faults, directory changes or journal events. Here only the
//! values: a sandbox's id (which also marks its tokens), what is known of one, and its limits.

use std::fmt;

/// A sandbox's lifetime after its last use when none is asked for (seconds).
pub const DEFAULT_TTL_S: u64 = 3600;
/// The longest lifetime a sandbox may be given (seconds).
pub const MAX_TTL_S: u64 = 86_400;
/// The longest name a sandbox may be given (characters).
pub const MAX_NAME_CHARS: usize = 100;

/// A sandbox's id: 8 random bytes, written as 16 lowercase hex characters, the first byte's top
/// bit set. A sandbox's tokens begin with it, so that a token names its sandbox by itself (the
/// cert call needs no more than the token); the other 24 bytes stay random. The base's tokens
/// have that bit clear ([`base_token`]), so a cert call with one of them asks after no sandbox.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SandboxId([u8; 8]);

impl SandboxId {
    /// A new id from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let token = super::OtpToken::generate();
        let mut id = SandboxId::of_token(&token);
        id.0[0] |= 0x80;
        id
    }

    /// Whether `token` may belong to a sandbox (its first byte's top bit set); a base token
    /// never does.
    pub fn may_name(token: &super::OtpToken) -> bool {
        token.bytes()[0] & 0x80 != 0
    }

    /// Parses an id as written: exactly 16 lowercase hex characters.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 16 {
            return None;
        }
        let mut out = [0u8; 8];
        for (i, pair) in b.chunks_exact(2).enumerate() {
            out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Some(SandboxId(out))
    }

    /// The sandbox a token would belong to: its first 8 bytes (a token of the base begins with
    /// a live sandbox's id only by a 2^-64 chance).
    pub fn of_token(token: &super::OtpToken) -> Self {
        let mut out = [0u8; 8];
        out.copy_from_slice(&token.bytes()[..8]);
        SandboxId(out)
    }

    /// `token` made one of this sandbox's: its first 8 bytes replaced by the id.
    pub fn stamp(&self, token: super::OtpToken) -> super::OtpToken {
        let mut bytes = *token.bytes();
        bytes[..8].copy_from_slice(&self.0);
        super::OtpToken::from_bytes(bytes)
    }
}

/// A new token of the base: 255 random bits, the first byte's top bit clear (its first hex digit
/// is 0 to 7), so that it can never be taken for a sandbox's.
pub fn base_token() -> super::OtpToken {
    let mut bytes = *super::OtpToken::generate().bytes();
    bytes[0] &= 0x7f;
    super::OtpToken::from_bytes(bytes)
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl fmt::Display for SandboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for SandboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SandboxId({self})")
    }
}

/// What is known of a sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxInfo {
    pub id: SandboxId,
    /// The name it was given, if any.
    pub name: Option<String>,
    /// How long it lives after its last use (seconds).
    pub ttl_s: u64,
    /// When it was made (ms since the epoch).
    pub created_ms: u64,
    /// When it goes unless used again (ms since the epoch).
    pub expires_ms: u64,
    /// The sandbox it was copied from (`None`: the base).
    pub from: Option<SandboxId>,
}

/// What making a sandbox asks for.
#[derive(Debug, Clone, Default)]
pub struct NewSandbox {
    pub name: Option<String>,
    /// `None`: [`DEFAULT_TTL_S`].
    pub ttl_s: Option<u64>,
    /// Copied from this sandbox (`None`: the base).
    pub from: Option<SandboxId>,
}

impl NewSandbox {
    /// Why it cannot be made as asked, if it cannot.
    pub fn refusal(&self) -> Option<String> {
        if let Some(ttl) = self.ttl_s {
            if ttl == 0 || ttl > MAX_TTL_S {
                return Some(format!(
                    "ttlSeconds {ttl}: a sandbox lives from 1 to {MAX_TTL_S} seconds after its last use"
                ));
            }
        }
        if let Some(name) = &self.name {
            if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
                return Some(format!(
                    "name: at most {MAX_NAME_CHARS} characters, no control characters"
                ));
            }
        }
        None
    }

    pub fn ttl_s(&self) -> u64 {
        self.ttl_s.unwrap_or(DEFAULT_TTL_S)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_reads_back_and_stamps_tokens() {
        let id = SandboxId::generate();
        assert_eq!(SandboxId::parse(&id.to_string()), Some(id));
        assert_eq!(SandboxId::parse("0123456789ABCDEF"), None);
        assert_eq!(SandboxId::parse("0123456789abcde"), None);
        let token = id.stamp(crate::domain::OtpToken::generate());
        assert_eq!(SandboxId::of_token(&token), id);
        assert!(token.to_string().starts_with(&id.to_string()));
        assert!(SandboxId::may_name(&token));
    }

    #[test]
    fn base_tokens_never_name_a_sandbox_and_sandbox_ids_always_could() {
        for _ in 0..256 {
            let base = base_token();
            assert!(!SandboxId::may_name(&base), "{base}");
            assert!(base.to_string().as_bytes()[0] <= b'7', "{base}");
            let id = SandboxId::generate();
            assert!(id.to_string().as_bytes()[0] >= b'8', "{id}");
        }
    }

    #[test]
    fn a_lifetime_past_a_day_is_refused() {
        let ask = |ttl| NewSandbox {
            ttl_s: Some(ttl),
            ..Default::default()
        };
        assert!(ask(86_401).refusal().is_some());
        assert!(ask(0).refusal().is_some());
        assert!(ask(86_400).refusal().is_none());
    }
}
