//! The mall's member session: a cookie naming the chosen company and member, signed (the
//! `cookie` crate's signed jar) so that a page cannot be pointed at another member by editing
//! the cookie. The same key material signs the operator's sign-in and the built-in partner's
//! received token; it is drawn at start, or follows from the control token or the store's shared
//! secret so that the replicas of one store accept each other's cookies.

use actix_web::cookie::{Cookie, CookieJar, Key, SameSite};
use actix_web::HttpRequest;

/// The cookie's name.
pub const COOKIE: &str = "sim_member";

/// The member a session names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub company: String,
    pub customer_id: String,
}

/// What a signed value is for. Each purpose signs with its own key, so a value signed for one
/// cookie is never accepted as another (a token the built-in partner received cannot pass for an
/// operator's sign-in or a member's session).
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

/// The keys a simulator signs its cookies with: one per [`Purpose`], each derived from the same
/// key material, so that simulators given the same material accept each other's cookies.
pub struct CookieKeys {
    member: Key,
    operator: Key,
    partner_token: Key,
}

impl CookieKeys {
    /// The keys that follow from `material` (any length; the replicas of a store agree on it).
    pub fn derive(material: &[u8]) -> Self {
        let master = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, material);
        // 32 bytes per purpose, as `Key::derive_from` wants at least.
        let key = |purpose: Purpose| {
            let sub = ring::hmac::sign(&master, purpose.label().as_bytes());
            Key::derive_from(sub.as_ref())
        };
        CookieKeys {
            member: key(Purpose::Member),
            operator: key(Purpose::Operator),
            partner_token: key(Purpose::PartnerToken),
        }
    }

    fn key(&self, purpose: Purpose) -> &Key {
        match purpose {
            Purpose::Member => &self.member,
            Purpose::Operator => &self.operator,
            Purpose::PartnerToken => &self.partner_token,
        }
    }

    /// `cookie` with its value signed for `purpose`, its name and attributes unchanged.
    pub fn sign(&self, purpose: Purpose, cookie: Cookie<'static>) -> Cookie<'static> {
        let name = cookie.name().to_owned();
        let mut jar = CookieJar::new();
        jar.signed_mut(self.key(purpose)).add(cookie);
        jar.get(&name)
            .cloned()
            .expect("a cookie just added to the jar is in it")
    }

    /// The value of the request's cookie `name`, if it is present and signed for `purpose`.
    pub fn verified(&self, purpose: Purpose, req: &HttpRequest, name: &str) -> Option<String> {
        let mut jar = CookieJar::new();
        jar.add_original(req.cookie(name)?);
        jar.signed(self.key(purpose))
            .get(name)
            .map(|c| c.value().to_owned())
    }
}

impl Session {
    /// The signed cookie for this session; `Secure` when set over HTTPS.
    pub fn cookie(&self, keys: &CookieKeys, secure: bool) -> Cookie<'static> {
        let value = format!("{}|{}", self.company, self.customer_id);
        let cookie = Cookie::build(COOKIE, value)
            .path("/")
            .http_only(true)
            .secure(secure)
            .same_site(SameSite::Lax)
            .finish();
        keys.sign(Purpose::Member, cookie)
    }

    /// A cookie that ends the session.
    pub fn removal() -> Cookie<'static> {
        let mut c = Cookie::build(COOKIE, "").path("/").finish();
        c.make_removal();
        c
    }

    /// The session of the request, if its cookie is present and genuine.
    pub fn from_request(req: &HttpRequest, keys: &CookieKeys) -> Option<Session> {
        let value = keys.verified(Purpose::Member, req, COOKIE)?;
        let (company, customer_id) = value.split_once('|')?;
        Some(Session {
            company: company.to_owned(),
            customer_id: customer_id.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{CookieKeys, Purpose};
    use actix_web::cookie::Cookie;
    use actix_web::test::TestRequest;

    fn signed(keys: &CookieKeys, purpose: Purpose, name: &str, value: &str) -> String {
        keys.sign(purpose, Cookie::new(name.to_owned(), value.to_owned()))
            .value()
            .to_owned()
    }

    fn read(keys: &CookieKeys, purpose: Purpose, name: &str, value: &str) -> Option<String> {
        let req = TestRequest::default()
            .cookie(Cookie::new(name.to_owned(), value.to_owned()))
            .to_http_request();
        keys.verified(purpose, &req, name)
    }

    #[test]
    fn a_value_passes_only_for_its_purpose_and_its_key() {
        let keys = CookieKeys::derive(b"some material");
        let all = [Purpose::Member, Purpose::Operator, Purpose::PartnerToken];
        for signer in all {
            let value = signed(&keys, signer, "c", "J01|J01A00038745");
            for reader in all {
                let read = read(&keys, reader, "c", &value);
                if signer.label() == reader.label() {
                    assert_eq!(read.as_deref(), Some("J01|J01A00038745"));
                } else {
                    assert_eq!(read, None, "{signer:?} read as {reader:?}");
                }
            }
            let again = CookieKeys::derive(b"some material");
            assert!(read(&again, signer, "c", &value).is_some(), "same material");
            let other = CookieKeys::derive(b"other material");
            assert_eq!(read(&other, signer, "c", &value), None, "other material");
            let tampered = value.replace("J01A00038745", "J01A00038746");
            assert_eq!(read(&keys, signer, "c", &tampered), None, "tampered");
        }
    }
}
