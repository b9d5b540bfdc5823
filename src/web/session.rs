//! The mall's member session: a cookie naming the chosen company and member, signed with a key
//! drawn at start (or shared by the replicas of one Redis store) so that a page cannot be
//! pointed at another member by editing the cookie. The same key signs the operator's sign-in
//! and the built-in partner's received token.

use std::sync::OnceLock;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpRequest;
use base64::Engine;

/// The cookie's name.
pub const COOKIE: &str = "sim_member";

static KEY: OnceLock<ring::hmac::Key> = OnceLock::new();

/// Signs with a key shared by several replicas (kept in the Redis store), so that a member or
/// an operator signed in through one replica stays signed in through another behind a load
/// balancer. Must come before the first signature; false when a key is already in use.
pub fn share_key(secret: &[u8]) -> bool {
    KEY.set(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret))
        .is_ok()
}

fn key() -> &'static ring::hmac::Key {
    KEY.get_or_init(|| {
        ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &ring::rand::SystemRandom::new())
            .expect("the system's random number generator works")
    })
}

/// The member a session names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub company: String,
    pub customer_id: String,
}

/// What a signed value is for. The purpose is part of what is signed, so a value signed for
/// one cookie is never accepted as another (a token the built-in partner received cannot pass
/// for an operator's sign-in or a member's session).
#[derive(Debug, Clone, Copy)]
pub enum Purpose {
    Member,
    Operator,
    PartnerToken,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Purpose::Member => "member",
            Purpose::Operator => "operator",
            Purpose::PartnerToken => "partner-token",
        }
    }
}

fn tag_of(purpose: Purpose, value: &str) -> ring::hmac::Tag {
    let mut ctx = ring::hmac::Context::with_key(key());
    ctx.update(purpose.label().as_bytes());
    ctx.update(b"\0");
    ctx.update(value.as_bytes());
    ctx.sign()
}

/// `value|tag`: the value with its HMAC for `purpose`, for a cookie.
pub fn sign(purpose: Purpose, value: &str) -> String {
    let tag = tag_of(purpose, value);
    let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref());
    format!("{value}|{tag}")
}

/// The value of a signed `value|tag`, if the tag is genuine for `purpose`.
pub fn verify(purpose: Purpose, signed: &str) -> Option<&str> {
    let (value, tag) = signed.rsplit_once('|')?;
    let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(tag)
        .ok()?;
    let mut with_purpose = purpose.label().as_bytes().to_vec();
    with_purpose.push(0);
    with_purpose.extend_from_slice(value.as_bytes());
    ring::hmac::verify(key(), &with_purpose, &tag).ok()?;
    Some(value)
}

impl Session {
    /// The signed cookie for this session; `Secure` when set over HTTPS.
    pub fn cookie(&self, secure: bool) -> Cookie<'static> {
        let value = format!("{}|{}", self.company, self.customer_id);
        Cookie::build(COOKIE, sign(Purpose::Member, &value))
            .path("/")
            .http_only(true)
            .secure(secure)
            .same_site(SameSite::Lax)
            .finish()
    }

    /// A cookie that ends the session.
    pub fn removal() -> Cookie<'static> {
        let mut c = Cookie::build(COOKIE, "").path("/").finish();
        c.make_removal();
        c
    }

    /// The session of the request, if its cookie is present and genuine.
    pub fn from_request(req: &HttpRequest) -> Option<Session> {
        let cookie = req.cookie(COOKIE)?;
        let value = verify(Purpose::Member, cookie.value())?;
        let (company, customer_id) = value.split_once('|')?;
        Some(Session {
            company: company.to_owned(),
            customer_id: customer_id.to_owned(),
        })
    }
}
