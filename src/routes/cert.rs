//! `/sso/vendorUserCertTonken`: the partner's server-to-server call that turns a one-time token
//! into the member's data. The checks run in the order of the guide; the first that fails
//! answers, and only the last one uses the token up.

use actix_web::http::header::{HeaderValue, CONTENT_TYPE};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use crate::client_ip::{self, Caller};
use crate::clock;
use crate::domain::{OtpToken, TokenFormatError};
use crate::faults::{Endpoint, FaultKind};
use crate::journal::{EventKind, Text};
use crate::settings::CertStatus;
use crate::state::AppState;
use crate::tokens::{Redeem, TokenView};

/// The path of the endpoint (the guide's spelling, typo included).
pub const PATH: &str = "/sso/vendorUserCertTonken";

/// The header that carries the reason sentence; the body stays exactly the mall's.
pub const REASON_HEADER: &str = "x-sim-reason";

/// `X-Sim-Reason` beyond loopback for a caller without the control token: the journal keeps
/// the detail (allow-lists, who used a token) for the operator.
pub const ANONYMOUS_REASON: &str =
    "details are in the simulator's journal (or send the control token to see them here)";

/// The JSON content type the real mall answers with.
pub const JSON_UTF8: &str = "application/json;charset=UTF-8";

/// The protocol's result codes with their messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultCode {
    Ok,
    IpNotAllowed,
    TokenMissing,
    TokenInvalid,
    TokenUsedOrUnknown,
}

impl ResultCode {
    pub fn code(self) -> &'static str {
        match self {
            ResultCode::Ok => "OK",
            ResultCode::IpNotAllowed => "403",
            ResultCode::TokenMissing => "400",
            ResultCode::TokenInvalid => "401",
            ResultCode::TokenUsedOrUnknown => "404",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            ResultCode::Ok => "OTP 토큰 인증 되었습니다.",
            ResultCode::IpNotAllowed => "허용된 아이피가 아닙니다.",
            ResultCode::TokenMissing => "OTP 토큰이 누락되었습니다.",
            ResultCode::TokenInvalid => "OTP 값이 유효하지 않습니다.",
            ResultCode::TokenUsedOrUnknown => {
                "OTP 토큰이 이미 사용되었거나 일치하는 사용자가 없습니다."
            }
        }
    }

    /// The whole failure body, `{"resultCode":…,"message":…}`, written once: the same bytes
    /// every time, so a refused call costs no rendering.
    pub fn failure_body(self) -> &'static str {
        match self {
            ResultCode::Ok => r#"{"resultCode":"OK","message":"OTP 토큰 인증 되었습니다."}"#,
            ResultCode::IpNotAllowed => {
                r#"{"resultCode":"403","message":"허용된 아이피가 아닙니다."}"#
            }
            ResultCode::TokenMissing => {
                r#"{"resultCode":"400","message":"OTP 토큰이 누락되었습니다."}"#
            }
            ResultCode::TokenInvalid => {
                r#"{"resultCode":"401","message":"OTP 값이 유효하지 않습니다."}"#
            }
            ResultCode::TokenUsedOrUnknown => {
                r#"{"resultCode":"404","message":"OTP 토큰이 이미 사용되었거나 일치하는 사용자가 없습니다."}"#
            }
        }
    }

    /// The HTTP status when the resultCode is mirrored.
    pub fn mirrored_status(self) -> StatusCode {
        match self {
            ResultCode::Ok => StatusCode::OK,
            ResultCode::IpNotAllowed => StatusCode::FORBIDDEN,
            ResultCode::TokenMissing => StatusCode::BAD_REQUEST,
            ResultCode::TokenInvalid => StatusCode::UNAUTHORIZED,
            ResultCode::TokenUsedOrUnknown => StatusCode::NOT_FOUND,
        }
    }

    /// Parses a resultCode as written (for forced results).
    pub fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "OK" => ResultCode::Ok,
            "403" => ResultCode::IpNotAllowed,
            "400" => ResultCode::TokenMissing,
            "401" => ResultCode::TokenInvalid,
            "404" => ResultCode::TokenUsedOrUnknown,
            _ => return None,
        })
    }
}

/// Which parameter carried the token and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spelling {
    /// `otpTokenp`, the guide's spelling.
    Guide,
    /// `otpToken`, what partners in the wild send.
    Common,
}

impl Spelling {
    pub fn name(self) -> &'static str {
        match self {
            Spelling::Guide => "otpTokenp",
            Spelling::Common => "otpToken",
        }
    }
}

/// The token parameter as found in the request.
#[derive(Debug, Clone)]
pub struct TokenParam {
    pub value: String,
    pub spelling: Spelling,
    /// `query` or `form`.
    pub place: &'static str,
    /// Set when the parameter cannot be taken at face value: the token then counts as not of
    /// the simulator's format (401), and the sentence says why.
    pub problem: Option<String>,
}

/// Finds the token parameter in the query and a form body. Every occurrence of `otpTokenp` and
/// `otpToken` is read: the same value repeated is fine; different values, or a value that is
/// not valid percent-encoding or UTF-8, make the parameter unusable (with the reason).
pub fn find_token(query: &str, form: Option<&[u8]>) -> Option<TokenParam> {
    let mut found: Vec<(
        Spelling,
        &'static str,
        Result<String, crate::params::Problem>,
    )> = Vec::new();
    let mut collect = |bytes: &[u8], place: &'static str| {
        for pair in crate::params::pairs(bytes) {
            let spelling = match pair.name.as_ref() {
                "otpTokenp" => Spelling::Guide,
                "otpToken" => Spelling::Common,
                _ => continue,
            };
            found.push((spelling, place, pair.value));
        }
    };
    collect(query.as_bytes(), "query");
    if let Some(body) = form {
        collect(body, "form");
    }
    // The guide's spelling first, then the query before the form.
    let chosen = found
        .iter()
        .position(|(s, _, _)| *s == Spelling::Guide)
        .or(if found.is_empty() { None } else { Some(0) })?;
    let (spelling, place, first) = found.swap_remove(chosen);
    let mut param = TokenParam {
        value: String::new(),
        spelling,
        place,
        problem: None,
    };
    match first {
        Err(p) => {
            param.problem = Some(format!(
                "the {} parameter {}",
                spelling.name(),
                p.describe()
            ));
            return Some(param);
        }
        Ok(v) => param.value = v,
    }
    for (s, at, v) in &found {
        match v {
            Err(p) => {
                param.problem = Some(format!(
                    "a {} parameter in the {at} {}",
                    s.name(),
                    p.describe()
                ));
            }
            Ok(v) if *v != param.value => {
                param.problem = Some(
                    "the token is given more than once with different values (otpTokenp/otpToken, query/form)"
                        .into(),
                );
            }
            Ok(_) => {}
        }
    }
    Some(param)
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

/// The decided answer of one call.
struct Outcome {
    code: ResultCode,
    body: web::Bytes,
    reason: Text,
    vendor: Option<String>,
}

impl Outcome {
    fn failure(code: ResultCode, reason: impl Into<Text>, vendor: Option<String>) -> Self {
        Outcome {
            code,
            body: web::Bytes::from_static(code.failure_body().as_bytes()),
            reason: reason.into(),
            vendor,
        }
    }
}

/// GET and POST handler.
pub async fn handle(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let tls = req.app_config().secure();
    let caller = client_ip::caller(
        &req,
        &state.config.trusted_proxies,
        state.config.forwarded_header,
    );
    if !tls && !state.config.allow_plain_http_cert {
        return https_required(&state, &req, caller);
    }
    let form = is_form(&req).then_some(&body[..]);
    let param = find_token(req.query_string(), form);
    let call = Call {
        state: &state,
        req: &req,
        caller,
        tls,
        param: param.as_ref(),
    };

    let fault = if state.faults.is_empty() {
        None
    } else {
        let vendor = param
            .as_ref()
            .and_then(|p| OtpToken::parse(&p.value).ok())
            .and_then(|t| state.tokens.peek(&t))
            .map(|v| v.grant.vendor.clone());
        state
            .faults
            .take(Endpoint::Cert, vendor.as_deref())
            .map(|kind| (kind, vendor))
    };
    let mut fault_note = None;
    if let Some((kind, vendor)) = fault {
        let note = kind.describe();
        let vendor = vendor.map(|v| v.to_string());
        match kind {
            FaultKind::Delay { delay_ms } => {
                actix_web::rt::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
                fault_note = Some(note);
            }
            FaultKind::ResultCode { result_code } => {
                let code = ResultCode::from_code(&result_code).unwrap_or(ResultCode::TokenInvalid);
                let outcome = Outcome::failure(
                    code,
                    format!("forced by an injected fault ({note}); the token was not looked at"),
                    vendor,
                );
                return call.answer(outcome, Some(note));
            }
            FaultKind::Http500 => {
                call.journal("500", 500, vendor, "injected fault: HTTP 500", Some(note));
                return HttpResponse::InternalServerError()
                    .content_type("text/plain;charset=UTF-8")
                    .body("Internal Server Error");
            }
            FaultKind::Drop => {
                call.journal(
                    "-",
                    0,
                    vendor,
                    "injected fault: connection dropped",
                    Some(note),
                );
                return HttpResponse::Ok().body(DroppedConnection);
            }
            FaultKind::Malformed => {
                call.journal(
                    "OK",
                    200,
                    vendor,
                    "injected fault: malformed body",
                    Some(note),
                );
                return HttpResponse::Ok()
                    .insert_header((CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8)))
                    .body(r#"{"resultCode":"OK","message":"OTP 토큰 인증 되었습니다.","resultMap":{"user":{"mbrNo":"#);
            }
        }
    }
    let mut outcome = decide(&state, caller, param.as_ref());
    if outcome.code == ResultCode::TokenMissing && form.is_none() && !body.is_empty() {
        let kind = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none");
        outcome.reason = format!(
            "{}; the body (Content-Type {kind}) was not read: the token goes in the query or an application/x-www-form-urlencoded body",
            outcome.reason
        )
        .into();
    }
    call.answer(outcome, fault_note)
}

/// One cert call, for answering and journaling it.
struct Call<'a> {
    state: &'a AppState,
    req: &'a HttpRequest,
    caller: Caller,
    tls: bool,
    param: Option<&'a TokenParam>,
}

impl Call<'_> {
    fn answer(&self, outcome: Outcome, fault: Option<String>) -> HttpResponse {
        let status = match self.state.config.cert_status {
            CertStatus::Always200 => StatusCode::OK,
            CertStatus::Mirror => outcome.code.mirrored_status(),
        };
        tracing::debug!(
            result = outcome.code.code(),
            ip = %self.caller.ip,
            reason = %outcome.reason,
            "cert call"
        );
        let reason_header = if !crate::access::may_see_detail(self.req, self.state) {
            HeaderValue::from_static(ANONYMOUS_REASON)
        } else {
            match &outcome.reason {
                // The fixed sentences are plain ASCII already.
                Text::Borrowed(s) => HeaderValue::from_static(s),
                Text::Owned(s) => header_safe(s),
            }
        };
        self.journal(
            outcome.code.code(),
            status.as_u16(),
            outcome.vendor,
            outcome.reason,
            fault,
        );
        HttpResponse::build(status)
            .insert_header((CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8)))
            .insert_header((REASON_HEADER, reason_header))
            .body(outcome.body)
    }

    fn journal(
        &self,
        result_code: &str,
        http_status: u16,
        vendor: Option<String>,
        reason: impl Into<Text>,
        fault: Option<String>,
    ) {
        self.state.journal.record(
            clock::now_ms(),
            EventKind::Cert {
                endpoint: "cert".into(),
                method: crate::journal::method_text(self.req.method()),
                param: self.param.map(|p| p.spelling.name().into()),
                param_in: self.param.map(|p| p.place.into()),
                otp_token: self.param.map(|p| crate::journal::truncate(&p.value, 128)),
                ip: self.caller.ip,
                peer: self.caller.peer,
                tls: self.tls,
                vndr_no: vendor,
                result_code: result_code.to_owned(),
                http_status,
                reason: reason.into(),
                fault,
            },
        );
    }
}

/// A body that fails at once: the server closes the connection without sending an answer.
pub struct DroppedConnection;

impl actix_web::body::MessageBody for DroppedConnection {
    type Error = std::io::Error;

    fn size(&self) -> actix_web::body::BodySize {
        actix_web::body::BodySize::Stream
    }

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<web::Bytes, Self::Error>>> {
        std::task::Poll::Ready(Some(Err(std::io::Error::other(
            "injected fault: connection dropped",
        ))))
    }
}

fn decide(state: &AppState, caller: Caller, param: Option<&TokenParam>) -> Outcome {
    let parsed = param.map(|p| match &p.problem {
        Some(_) => Err(TokenFormatError::Malformed),
        None => OtpToken::parse(&p.value),
    });
    let known = match &parsed {
        Some(Ok(token)) => state.tokens.peek(token),
        _ => None,
    };

    // 1. The caller's address: the token's vendor's list when the token is known. A trusted
    // proxy that names no usable client leaves the caller unknown: refused, whatever the list.
    if let Some(why) = caller.unusable {
        return Outcome::failure(
            ResultCode::IpNotAllowed,
            format!(
                "the trusted proxy {} did not name a usable client address: {why}",
                caller.peer
            ),
            known.as_ref().map(|v| v.grant.vendor.to_string()),
        );
    }
    {
        let dir = state.directory();
        match &known {
            Some(view) => {
                let vendor = dir.vendor(&view.grant.vendor).map(|(_, v)| v);
                if !vendor.is_some_and(|v| v.allows(caller.ip)) {
                    let list = vendor
                        .map(|v| v.vendor.allowed_ips.join(", "))
                        .unwrap_or_else(|| "none (vendor removed)".into());
                    return Outcome::failure(
                        ResultCode::IpNotAllowed,
                        format!(
                            "caller {} is not in {}'s allowed IPs: {}",
                            caller.ip, view.grant.vendor, list
                        ),
                        Some(view.grant.vendor.to_string()),
                    );
                }
            }
            None => {
                if !dir.any_vendor_allows(caller.ip) {
                    return Outcome::failure(
                        ResultCode::IpNotAllowed,
                        format!(
                            "caller {} is not in any vendor's allowed IPs (the token names no known vendor)",
                            caller.ip
                        ),
                        None,
                    );
                }
            }
        }
    }
    let vendor = known.as_ref().map(|v| v.grant.vendor.to_string());

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
            let reason = param.and_then(|p| p.problem.clone()).unwrap_or_else(|| {
                "the token is not 64 lowercase hex characters, as this simulator issues them".into()
            });
            return Outcome::failure(ResultCode::TokenInvalid, reason, None);
        }
        Some(Ok(_)) if known.is_none() => {
            // Never issued (or forgotten): nothing can make it appear now, so no second look.
            return Outcome::failure(ResultCode::TokenUsedOrUnknown, UNKNOWN_REASON, None);
        }
        Some(Ok(token)) => token,
    };

    // 3. (expiry), 4. and 5.: decided atomically by the store.
    let now = clock::now_ms();
    match state.tokens.redeem(&token, now, caller.ip) {
        Redeem::Expired { view } => {
            Outcome::failure(ResultCode::TokenInvalid, expired_reason(&view, now), vendor)
        }
        Redeem::AlreadyUsed { view } => {
            Outcome::failure(ResultCode::TokenUsedOrUnknown, used_reason(&view), vendor)
        }
        Redeem::Unknown => Outcome::failure(ResultCode::TokenUsedOrUnknown, UNKNOWN_REASON, vendor),
        Redeem::Redeemed(grant) => {
            let token_text = token.to_string();
            let dir = state.directory();
            let found = (
                dir.member(&grant.customer_id),
                dir.company(&grant.company),
                dir.vendor(&grant.vendor),
            );
            let (Some((_, member)), Some((_, company)), Some((_, vendor_entry))) = found else {
                return Outcome::failure(
                    ResultCode::TokenUsedOrUnknown,
                    format!(
                        "the token was valid but its member {} or vendor {} has been removed",
                        grant.customer_id, grant.vendor
                    ),
                    vendor,
                );
            };
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
                        vndr_no: &vendor_entry.vendor.vendor_no,
                        vndr_itwk_info_no: &vendor_entry.vendor.interwork_no,
                        otp_token: &token_text,
                        cust_id: &member.customer_id,
                        agr_dts: agreed,
                        pnt_nm: &company.point_name,
                        mobl_pnt_nm: &company.mobile_point_name,
                    },
                },
            })
            .expect("plain strings serialize");
            Outcome {
                code: ResultCode::Ok,
                body: body.into(),
                reason: format!(
                    "token valid: member {} of {} for vendor {}; now used up",
                    grant.customer_id, grant.company, grant.vendor
                )
                .into(),
                vendor,
            }
        }
    }
}

const UNKNOWN_REASON: &str =
    "no such token: never issued by this simulator, or forgotten after its retention";

/// "expired 3.2 s ago" and the like.
pub fn expired_reason(view: &TokenView, now_ms: u64) -> String {
    let ago = now_ms.saturating_sub(view.expires_ms) as f64 / 1000.0;
    let mut s = format!(
        "token expired {ago:.1} s ago (at {})",
        clock::time_of_day(view.expires_ms)
    );
    if let Some(u) = &view.used {
        s.push_str(&format!(
            "; it had been used at {} by {}",
            clock::time_of_day(u.at_ms),
            u.by
        ));
    }
    s
}

/// "used at 10:02:11 by 127.0.0.1".
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

fn https_required(state: &AppState, req: &HttpRequest, caller: Caller) -> HttpResponse {
    let url = format!("{}{}", state.config.public_url, PATH);
    let reason = format!("plain HTTP refused: the cert endpoint accepts HTTPS only ({url})");
    state.journal.record(
        clock::now_ms(),
        EventKind::Cert {
            endpoint: "cert".into(),
            method: crate::journal::method_text(req.method()),
            param: None,
            param_in: None,
            otp_token: None,
            ip: caller.ip,
            peer: caller.peer,
            tls: false,
            vndr_no: None,
            result_code: "HTTPS_REQUIRED".into(),
            http_status: 403,
            reason: reason.clone().into(),
            fault: None,
        },
    );
    let body = serde_json::json!({
        "resultCode": "HTTPS_REQUIRED",
        "message": format!("HTTPS만 연결 가능합니다. HTTPS required: call {url}"),
    });
    HttpResponse::Forbidden()
        .insert_header((CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8)))
        .insert_header((REASON_HEADER, header_safe(&reason)))
        .body(body.to_string())
}

/// Whether the body is a form (`application/x-www-form-urlencoded`, any parameters).
pub fn is_form(req: &HttpRequest) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// A header value made of visible ASCII only: anything else (CR, LF, non-ASCII) becomes `?`,
/// so nothing a caller sends can split or forge a header.
pub fn header_safe(s: &str) -> HeaderValue {
    let clean: String = s
        .chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .collect();
    HeaderValue::from_maybe_shared(web::Bytes::from(clean))
        .unwrap_or_else(|_| HeaderValue::from_static("-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guide_spelling_wins_and_the_query_comes_before_the_form() {
        let p = find_token("otpToken=a&otpTokenp=a", None).unwrap();
        assert_eq!((p.value.as_str(), p.spelling), ("a", Spelling::Guide));
        assert!(p.problem.is_none());
        let p = find_token("x=1", Some(b"otpToken=c")).unwrap();
        assert_eq!((p.value.as_str(), p.place), ("c", "form"));
        assert!(find_token("other=1", Some(b"also=2")).is_none());
    }

    #[test]
    fn different_values_or_bad_encoding_make_the_parameter_unusable() {
        assert!(find_token("otpToken=a&otpTokenp=b", None)
            .unwrap()
            .problem
            .is_some());
        assert!(find_token("otpToken=q", Some(b"otpTokenp=f"))
            .unwrap()
            .problem
            .is_some());
        assert!(find_token("otpTokenp=%zz", None).unwrap().problem.is_some());
        assert!(find_token("otpTokenp=%ff", None).unwrap().problem.is_some());
        assert!(find_token("otpTokenp=a&otpTokenp=a", None)
            .unwrap()
            .problem
            .is_none());
    }

    #[test]
    fn the_written_failure_bodies_are_what_serde_would_render() {
        for code in [
            ResultCode::IpNotAllowed,
            ResultCode::TokenMissing,
            ResultCode::TokenInvalid,
            ResultCode::TokenUsedOrUnknown,
        ] {
            let rendered =
                serde_json::json!({"resultCode": code.code(), "message": code.message()});
            let written: serde_json::Value = serde_json::from_str(code.failure_body()).unwrap();
            assert_eq!(written, rendered);
        }
    }

    #[test]
    fn header_values_never_carry_line_breaks() {
        let v = header_safe("a\r\nSet-Cookie: x=1 한");
        assert_eq!(v.to_str().unwrap(), "a??Set-Cookie: x=1 ?");
    }
}
