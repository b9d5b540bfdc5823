//! The cert endpoint's decision (`/sso/vendorUserCertTonken`): the checks of the guide, in its
//! order; the first that fails answers, and only the last uses the token up, atomically in the
//! store, in the call's one visit to it ([`visit`], then [`decide`] on what it found). No HTTP
//! here: the caller, the token parameter and the time come in, the resultCode, the body and the
//! reason sentence go out.

use std::borrow::Cow;
use std::sync::Arc;

use serde::Serialize;

use super::params::TokenParam;
use super::ResultCode;
use crate::domain::clock;
use crate::domain::event::Text;
use crate::domain::grant::{Redeem, TokenView};
use crate::domain::hosts::Caller;
use crate::domain::records::show_allowed;
use crate::domain::{OtpToken, TokenFormatError};
use crate::protocol::endpoints::Endpoints;
use crate::store::{Lookup, Store, StoreError, Visit};

/// The decided answer of one call.
#[derive(Debug)]
pub struct Outcome {
    pub code: ResultCode,
    /// The exact body: the mall's failure body, or the member's data.
    pub body: Cow<'static, [u8]>,
    /// Why, in words a person understands (`X-Sim-Reason`, the journal).
    pub reason: Text,
    /// The vendor of the token, when it is known.
    pub vendor: Option<String>,
}

impl Outcome {
    pub fn failure(code: ResultCode, reason: impl Into<Text>, vendor: Option<String>) -> Self {
        Outcome {
            code,
            body: Cow::Borrowed(code.failure_body().as_bytes()),
            reason: reason.into(),
            vendor,
        }
    }
}

#[derive(Serialize)]
struct Success<'a> {
    #[serde(rename = "resultCode")]
    result_code: &'static str,
    message: &'static str,
    #[serde(rename = "resultMap")]
    result_map: ResultMap<'a>,
}

#[derive(Serialize)]
struct ResultMap<'a> {
    user: User<'a>,
}

/// `resultMap.user`, with the corrected field names, every value a string.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User<'a> {
    pub mbr_no: &'a str,
    pub mbr_nm: &'a str,
    pub mbr_id: &'a str,
    pub hme_tel_no: &'a str,
    pub post_no: &'a str,
    pub base_addr: &'a str,
    pub dtls_addr: &'a str,
    pub empen: &'a str,
    pub dob: &'a str,
    pub vndr_no: &'a str,
    pub vndr_itwk_info_no: &'a str,
    pub otp_token: &'a str,
    pub cust_id: &'a str,
    pub agr_dts: &'a str,
    pub pnt_nm: &'a str,
    pub mobl_pnt_nm: &'a str,
}

/// One call as the endpoint received it.
#[derive(Debug, Clone, Copy)]
pub struct CertCall<'a> {
    pub caller: Caller,
    pub param: Option<&'a TokenParam>,
    /// The host the call was addressed to (`Host`), when known.
    pub host: Option<&'a str>,
    pub now_ms: u64,
}

/// The token parameter as sent: absent, a token, or why it is not one.
pub type Parsed = Option<Result<OtpToken, TokenFormatError>>;

/// Reads the token parameter.
pub fn parse(param: Option<&TokenParam>) -> Parsed {
    param.map(|p| match &p.problem {
        Some(_) => Err(TokenFormatError::Malformed),
        None => OtpToken::parse(&p.value),
    })
}

/// The call's one visit to the store: the fault for it, and the token looked up and, when its
/// vendor admits the caller, used up. `Err` only when the store is out of reach (nothing was
/// changed).
pub async fn visit(
    store: &Store,
    call: &CertCall<'_>,
    parsed: &Parsed,
) -> Result<Visit, StoreError> {
    let token = match parsed {
        Some(Ok(token)) => Some(token),
        _ => None,
    };
    let caller = call.caller.unusable.is_none().then_some(call.caller.ip);
    store.cert_visit(token, caller, call.now_ms).await
}

/// Decides one call from what its visit found, in the guide's order of checks.
pub fn decide(visit: Visit, parsed: Parsed, endpoints: &Endpoints, call: CertCall<'_>) -> Outcome {
    let CertCall {
        caller,
        param,
        host,
        now_ms,
    } = call;
    let Visit {
        dir,
        vendor,
        lookup,
        ..
    } = visit;
    let vendor = vendor.map(|v| v.to_string());

    // 1. The caller's address: the token's vendor's list when the token is known, else the
    // union of all vendors' lists. A trusted proxy that names no usable client leaves the
    // caller unknown: refused, whatever the list.
    if let Some(why) = caller.unusable {
        let reason = format!(
            "the trusted proxy {} did not name a usable client address: {why}",
            caller.peer
        );
        return Outcome::failure(ResultCode::IpNotAllowed, reason, vendor);
    }
    match &lookup {
        // Known, and left alone: its vendor does not admit the caller.
        Lookup::Seen(view) => {
            let entry = dir.vendor(&view.grant.vendor).map(|(_, v)| v);
            let list = entry
                .map(|v| {
                    let list: Vec<String> = v.vendor.allowed_ips.iter().map(show_allowed).collect();
                    list.join(", ")
                })
                .unwrap_or_else(|| "none (vendor removed)".into());
            let reason = format!(
                "caller {} is not in {}'s allowed IPs: {list}",
                caller.ip, view.grant.vendor
            );
            return Outcome::failure(ResultCode::IpNotAllowed, reason, vendor);
        }
        Lookup::Used(_) => {}
        Lookup::Unknown | Lookup::NotAsked if !dir.any_vendor_allows(caller.ip) => {
            let reason = format!(
                "caller {} is not in any vendor's allowed IPs (the token names no known vendor)",
                caller.ip
            );
            return Outcome::failure(ResultCode::IpNotAllowed, reason, None);
        }
        Lookup::Unknown | Lookup::NotAsked => {}
    }

    // 2. and 3. Present, and of this simulator's format.
    let token = match parsed {
        None => {
            return Outcome::failure(
                ResultCode::TokenMissing,
                "no otpTokenp or otpToken parameter in the query or a form body",
                None,
            )
        }
        Some(Err(TokenFormatError::Blank)) => {
            return Outcome::failure(
                ResultCode::TokenMissing,
                "the token parameter is empty",
                None,
            )
        }
        Some(Err(TokenFormatError::Malformed)) => {
            let reason = param
                .and_then(|p| p.problem.clone())
                .or_else(|| param.and_then(|p| looks_encrypted(&p.value)))
                .unwrap_or_else(|| {
                    "the token is not 64 lowercase hex characters, as this simulator issues them"
                        .into()
                });
            return Outcome::failure(ResultCode::TokenInvalid, reason, None);
        }
        Some(Ok(token)) => token,
    };

    // 3. (expiry), 4. and 5.: decided atomically by the store.
    let Lookup::Used(redeemed) = lookup else {
        // Never issued (or forgotten): nothing can make it appear now.
        return Outcome::failure(ResultCode::TokenUsedOrUnknown, UNKNOWN_REASON, None);
    };
    match redeemed {
        Redeem::Expired { view } => Outcome::failure(
            ResultCode::TokenInvalid,
            expired_reason(&view, now_ms),
            vendor,
        ),
        Redeem::AlreadyUsed { view } => {
            Outcome::failure(ResultCode::TokenUsedOrUnknown, used_reason(&view), vendor)
        }
        Redeem::Unknown => Outcome::failure(ResultCode::TokenUsedOrUnknown, UNKNOWN_REASON, vendor),
        Redeem::Redeemed(grant) => {
            let mut outcome = success(&dir, &grant, &token, vendor);
            if let Some(note) = host.and_then(|h| foreign_host(&dir, endpoints, &grant.company, h))
            {
                outcome.reason = format!("{}; {note}", outcome.reason).into();
            }
            outcome
        }
    }
}

/// Why a token sent as it is looks like the encrypted `OTP_TOKEN` of a GATE with parameter
/// encryption (standard Base64 of whole cipher blocks): the partner must decrypt it first.
fn looks_encrypted(value: &str) -> Option<String> {
    use base64::Engine;
    if value.bytes().all(|b| b.is_ascii_hexdigit() || b == b' ') {
        return None; // a token spelled differently, not an encrypted one
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value)
        .ok()?;
    (!bytes.is_empty() && bytes.len() % 16 == 0).then(|| {
        format!(
            "the token looks encrypted (Base64 of {} cipher bytes): decrypt OTP_TOKEN with the vendor's key and the GATE's ranNum, then send the 64 hex characters",
            bytes.len()
        )
    })
}

/// The note for a token redeemed through a host that is not its company's mall domain (the
/// real mall's hosts share one backend, so the answer is the normal one; a partner that
/// hard-codes one domain works for one company and fails for the next).
fn foreign_host(
    dir: &crate::domain::directory::Directory,
    endpoints: &Endpoints,
    company: &str,
    host: &str,
) -> Option<String> {
    // On the hot path (every OK): no URL parsing, no allocation unless there is a note.
    let (_, own) = dir.company(company)?;
    let called = crate::domain::hosts::host_of(host).trim_end_matches('.');
    let expected = match own.cus_url.as_deref() {
        Some(url) => mall_host(url),
        None => endpoints.public_host(),
    };
    if called.eq_ignore_ascii_case(expected) {
        return None;
    }
    // Other names of the simulator itself are its own domain, for a company without one.
    let another_mall = dir.companies().any(|c| {
        c.cus_url
            .as_deref()
            .is_some_and(|u| mall_host(u).eq_ignore_ascii_case(called))
    });
    (own.cus_url.is_some() || another_mall).then(|| {
        format!(
            "token of company {company} redeemed through host {called}; its CUS_URL is {}",
            endpoints.cus_url(own)
        )
    })
}

/// The host of a mall domain as the fixtures hold it (`https://host[:port][/]`, validated).
fn mall_host(url: &str) -> &str {
    let rest = url.strip_prefix("https://").unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or_default();
    crate::domain::hosts::host_of(authority)
}

/// The member's data for a redeemed token.
fn success(
    dir: &crate::domain::directory::Directory,
    grant: &Arc<crate::domain::grant::Grant>,
    token: &OtpToken,
    vendor: Option<String>,
) -> Outcome {
    let found = (
        dir.member(&grant.customer_id),
        dir.company(&grant.company),
        dir.vendor(&grant.vendor),
    );
    let (Some((_, member)), Some((_, company)), Some((_, entry))) = found else {
        return Outcome::failure(
            ResultCode::TokenUsedOrUnknown,
            format!(
                "the token was valid but its member {} or vendor {} has been removed",
                grant.customer_id, grant.vendor
            ),
            vendor,
        );
    };
    let token_text = token.to_string();
    let agreed = dir.consent(&grant.customer_id, &grant.vendor).unwrap_or("");
    let body = serde_json::to_vec(&Success {
        result_code: ResultCode::Ok.code(),
        message: ResultCode::Ok.message(),
        result_map: ResultMap {
            user: User {
                mbr_no: &member.member_no,
                mbr_nm: &member.name,
                mbr_id: &member.login_id,
                hme_tel_no: &member.home_phone,
                post_no: &member.postal_code,
                base_addr: &member.base_address,
                dtls_addr: &member.detail_address,
                empen: &member.employee_no,
                dob: &member.birth_date,
                vndr_no: &entry.vendor.vendor_no,
                vndr_itwk_info_no: &entry.vendor.interwork_no,
                otp_token: &token_text,
                cust_id: &member.customer_id,
                agr_dts: agreed,
                pnt_nm: &company.point_name,
                mobl_pnt_nm: &company.mobile_point_name,
            },
        },
    })
    .unwrap_or_default();
    Outcome {
        code: ResultCode::Ok,
        body: Cow::Owned(body),
        reason: format!(
            "token valid: member {} of {} for vendor {}; now used up",
            grant.customer_id, grant.company, grant.vendor
        )
        .into(),
        vendor,
    }
}

pub const UNKNOWN_REASON: &str =
    "no such token: never issued by this simulator, or forgotten after its retention";

/// "expired 3.2 s ago" and the like.
pub fn expired_reason(view: &TokenView, now_ms: u64) -> String {
    let ago = now_ms.saturating_sub(view.expires_ms) as f64 / 1000.0;
    format!(
        "token expired {ago:.1} s ago (at {})",
        clock::time_of_day(view.expires_ms)
    )
}

/// "used at 10:02:11 KST by 127.0.0.1".
pub fn used_reason(view: &TokenView) -> String {
    match &view.used {
        Some(u) => format!(
            "token already used at {} by {}",
            clock::time_of_day(u.at_ms),
            u.by
        ),
        None => "token already used".into(),
    }
}

#[cfg(test)]
#[path = "cert_tests.rs"]
mod tests;
