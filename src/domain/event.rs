//! What goes in the journal: one event per thing that happened (a token issued, a cert or
//! CHECKURL call, a login), with each text field cut to a few hundred bytes when it is recorded,
//! because callers choose what goes in it. The stores keep the events ([`crate::store`]).

use serde::{Deserialize, Serialize};

/// A fixed word (`cert`, `otpTokenp`) or one read back from a saved state file.
pub type Text = std::borrow::Cow<'static, str>;

/// One thing that happened.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    /// Increasing number, unique for the life of the process.
    pub id: u64,
    /// When, written as RFC 3339 (formatted only when read, not on the hot path).
    #[serde(with = "rfc3339_ms")]
    pub at: u64,
    /// Milliseconds since the Unix epoch (for filtering by time).
    #[serde(rename = "atMs")]
    pub at_ms: u64,
    /// The replica that recorded it (`--replica-id`); absent in events saved by a version that
    /// did not name replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica: Option<std::sync::Arc<str>>,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// A field left out of a GATE form, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Omission {
    pub field: Text,
    pub reason: String,
}

/// What happened, with what a tester needs to see of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum EventKind {
    /// A GATE form was issued (through the control API or the browser pages).
    #[serde(rename_all = "camelCase")]
    Gate {
        cmpy_cd: String,
        cust_id: String,
        vndr_no: String,
        /// The token issued, if any (none without consent).
        otp_token: Option<String>,
        expires_at: Option<String>,
        omitted: Vec<Omission>,
        /// `api`, `browser` or `demo`.
        source: Text,
    },
    /// A call to the cert endpoint.
    #[serde(rename_all = "camelCase")]
    Cert {
        endpoint: Text,
        method: Text,
        /// Which parameter carried the token: `otpTokenp`, `otpToken`, or none.
        param: Option<Text>,
        /// Where it was: `query` or `form`.
        param_in: Option<Text>,
        /// The token as sent (truncated if absurdly long).
        otp_token: Option<String>,
        /// The caller's address as decided (peer, or forwarded by a trusted proxy).
        ip: std::net::IpAddr,
        /// The TCP peer.
        peer: std::net::IpAddr,
        tls: bool,
        /// The host the call was addressed to (`Host`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        vndr_no: Option<String>,
        result_code: String,
        http_status: u16,
        /// Why, in words a person understands.
        reason: Text,
        /// Set when an injected fault shaped the answer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fault: Option<String>,
    },
    /// A member entered the mall: the login page, or the company-side entry
    /// (`/sso/loginSsoGate`).
    #[serde(rename_all = "camelCase")]
    Login {
        /// `login` or `loginSsoGate`.
        via: Text,
        cmpy_cd: String,
        /// The ID given (`mbrId`, `memID`).
        mbr_id: String,
        /// The member logged in, when one was.
        cust_id: Option<String>,
        /// `ok`, `joined` (created by auto-join) or `refused`.
        result: Text,
        reason: String,
        /// Where the browser was sent.
        location: Option<String>,
    },
    /// A call to CHECKURL.
    #[serde(rename_all = "camelCase")]
    Check {
        endpoint: Text,
        method: Text,
        ip: std::net::IpAddr,
        /// The TCP peer.
        #[serde(default = "unspecified")]
        peer: std::net::IpAddr,
        #[serde(default)]
        tls: bool,
        /// The vendor the caller's address belongs to, when exactly one vendor allows it.
        #[serde(default)]
        vndr_no: Option<String>,
        cmpy_cd: Option<String>,
        cust_id: Option<String>,
        user_name: Option<String>,
        answer: Text,
        reason: String,
        /// Set when an injected fault shaped the answer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fault: Option<String>,
    },
}

fn unspecified() -> std::net::IpAddr {
    std::net::Ipv4Addr::UNSPECIFIED.into()
}

/// Who made a protocol call and how: the same for the cert endpoint and CHECKURL.
#[derive(Debug, Clone)]
pub struct CallInfo {
    pub method: Text,
    /// The host the call was addressed to.
    pub host: Option<String>,
    /// The caller as decided (peer, or forwarded by a trusted proxy).
    pub ip: std::net::IpAddr,
    pub peer: std::net::IpAddr,
    pub tls: bool,
}

/// What a cert call was made with.
#[derive(Debug, Clone, Default)]
pub struct TokenSent {
    /// `otpTokenp` or `otpToken`.
    pub param: Option<Text>,
    /// `query` or `form`.
    pub place: Option<Text>,
    pub value: Option<String>,
}

impl EventKind {
    /// A cert call and its answer.
    pub fn cert(
        call: CallInfo,
        sent: TokenSent,
        vndr_no: Option<String>,
        result_code: &str,
        http_status: u16,
        reason: impl Into<Text>,
        fault: Option<String>,
    ) -> Self {
        EventKind::Cert {
            endpoint: "cert".into(),
            method: call.method,
            param: sent.param,
            param_in: sent.place,
            otp_token: sent.value,
            ip: call.ip,
            peer: call.peer,
            tls: call.tls,
            host: call.host,
            vndr_no,
            result_code: result_code.to_owned(),
            http_status,
            reason: reason.into(),
            fault,
        }
    }
}

/// The most bytes a text field of an event keeps (more is cut, with `…`).
pub const MAX_FIELD_BYTES: usize = 256;

/// Cuts `s` to at most `max` bytes on a character boundary, marking the cut with `…`.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn cut(s: &mut String) {
    if s.len() > MAX_FIELD_BYTES {
        *s = truncate(s, MAX_FIELD_BYTES);
    }
}

fn cut_text(t: &mut Text) {
    if t.len() > MAX_FIELD_BYTES {
        *t = Text::Owned(truncate(t, MAX_FIELD_BYTES));
    }
}

impl EventKind {
    /// Cuts every text field a caller can fill to [`MAX_FIELD_BYTES`].
    pub fn bound(&mut self) {
        match self {
            EventKind::Gate {
                cmpy_cd,
                cust_id,
                vndr_no,
                otp_token,
                omitted,
                ..
            } => {
                for s in [cmpy_cd, cust_id, vndr_no] {
                    cut(s);
                }
                otp_token.iter_mut().for_each(cut);
                omitted.iter_mut().for_each(|o| cut(&mut o.reason));
            }
            EventKind::Cert {
                otp_token,
                vndr_no,
                reason,
                host,
                ..
            } => {
                otp_token.iter_mut().for_each(cut);
                vndr_no.iter_mut().for_each(cut);
                host.iter_mut().for_each(cut);
                cut_text(reason);
            }
            EventKind::Login {
                cmpy_cd,
                mbr_id,
                cust_id,
                reason,
                location,
                ..
            } => {
                for s in [cmpy_cd, mbr_id, reason] {
                    cut(s);
                }
                cust_id.iter_mut().for_each(cut);
                location.iter_mut().for_each(cut);
            }
            EventKind::Check {
                cmpy_cd,
                cust_id,
                user_name,
                reason,
                vndr_no,
                ..
            } => {
                for s in [cmpy_cd, cust_id, user_name, vndr_no] {
                    s.iter_mut().for_each(cut);
                }
                cut(reason);
            }
        }
    }

    /// About how many bytes the event holds (its text and a fixed part), for the byte bound.
    pub(crate) fn size(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        256 + match self {
            EventKind::Gate {
                cmpy_cd,
                cust_id,
                vndr_no,
                otp_token,
                expires_at,
                omitted,
                ..
            } => {
                cmpy_cd.len()
                    + cust_id.len()
                    + vndr_no.len()
                    + opt(otp_token)
                    + opt(expires_at)
                    + omitted.iter().map(|o| 64 + o.reason.len()).sum::<usize>()
            }
            EventKind::Cert {
                otp_token,
                vndr_no,
                reason,
                fault,
                host,
                ..
            } => opt(otp_token) + opt(vndr_no) + reason.len() + opt(fault) + opt(host),
            EventKind::Login {
                cmpy_cd,
                mbr_id,
                cust_id,
                reason,
                location,
                ..
            } => cmpy_cd.len() + mbr_id.len() + opt(cust_id) + reason.len() + opt(location),
            EventKind::Check {
                cmpy_cd,
                cust_id,
                user_name,
                reason,
                fault,
                vndr_no,
                ..
            } => {
                opt(cmpy_cd)
                    + opt(cust_id)
                    + opt(user_name)
                    + reason.len()
                    + opt(fault)
                    + opt(vndr_no)
            }
        }
    }

    /// The endpoint name used for filtering: `gate`, `cert` or `check`.
    pub fn endpoint(&self) -> &'static str {
        match self {
            EventKind::Gate { .. } => "gate",
            EventKind::Cert { .. } => "cert",
            EventKind::Check { .. } => "check",
            EventKind::Login { .. } => "login",
        }
    }
}

/// `u64` milliseconds as an RFC 3339 string in KST, and back.
mod rfc3339_ms {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ms: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::domain::clock::rfc3339(*ms))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text = String::deserialize(d)?;
        chrono::DateTime::parse_from_rfc3339(&text)
            .map(|t| t.timestamp_millis().max(0) as u64)
            .map_err(serde::de::Error::custom)
    }
}
