//! The mall's protocol, independent of HTTP: the endpoints' paths, the cert endpoint's result
//! codes and bodies, the parameter readers, and the decisions of the cert endpoint
//! ([`cert::decide`]) and CHECKURL ([`check::decide`]). `routes/` only adapts requests to these
//! and their outcomes to answers; a rule of the mall's guide is found here, in the file named for it, and in the book's rule table (`docs/src/protocol/rules.md`).

pub mod cert;
pub mod check;
pub mod endpoints;
pub mod form;
pub mod gate;
pub mod join;
pub mod lines;
pub mod params;

use std::sync::LazyLock;
use std::time::Duration;

use crate::domain::fault::{FaultKind, ForcedCode};

/// The cert endpoint's path (the guide's spelling, typo included).
/// The body of an answer the simulator gives in the cert endpoint's shape for what the mall's
/// table has no code of its own for (HTTPS required, a store out of reach, a limit): `resultCode`
/// first, then `message`, as in every answer of the endpoint.
pub fn refusal_body(result_code: &str, message: &str) -> String {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Refusal<'a> {
        result_code: &'a str,
        message: &'a str,
    }
    serde_json::to_string(&Refusal {
        result_code,
        message,
    })
    .unwrap_or_default()
}

pub const CERT_PATH: &str = "/sso/vendorUserCertTonken";

/// CHECKURL's path.
pub const CHECK_PATH: &str = "/sso/vendorUserCheck";

/// Where a sandbox's CHECKURL and POPUPURL live: `/sb/<id>` before the base's path.
pub const SANDBOX_PATH: &str = "/sb";

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
    const ALL: [ResultCode; 5] = [
        ResultCode::Ok,
        ResultCode::IpNotAllowed,
        ResultCode::TokenMissing,
        ResultCode::TokenInvalid,
        ResultCode::TokenUsedOrUnknown,
    ];

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

    /// The body without `resultMap`, `{"resultCode":…,"message":…}`: rendered once from
    /// [`code`](Self::code) and [`message`](Self::message), then the same bytes every time.
    pub fn failure_body(self) -> &'static str {
        static BODIES: LazyLock<Vec<String>> = LazyLock::new(|| {
            ResultCode::ALL
                .iter()
                .map(|c| {
                    serde_json::to_string(&Failure {
                        result_code: c.code(),
                        message: c.message(),
                    })
                    .unwrap_or_default()
                })
                .collect()
        });
        let i = ResultCode::ALL.iter().position(|c| *c == self).unwrap_or(0);
        &BODIES[i]
    }

    /// The HTTP status when the resultCode is mirrored.
    pub fn mirrored_status(self) -> u16 {
        match self {
            ResultCode::Ok => 200,
            ResultCode::IpNotAllowed => 403,
            ResultCode::TokenMissing => 400,
            ResultCode::TokenInvalid => 401,
            ResultCode::TokenUsedOrUnknown => 404,
        }
    }
}

impl From<ForcedCode> for ResultCode {
    fn from(code: ForcedCode) -> Self {
        match code {
            ForcedCode::TokenMissing => ResultCode::TokenMissing,
            ForcedCode::TokenInvalid => ResultCode::TokenInvalid,
            ForcedCode::IpNotAllowed => ResultCode::IpNotAllowed,
            ForcedCode::TokenUsedOrUnknown => ResultCode::TokenUsedOrUnknown,
        }
    }
}

/// A failure body, fields in the mall's order.
#[derive(serde::Serialize)]
struct Failure {
    #[serde(rename = "resultCode")]
    result_code: &'static str,
    message: &'static str,
}

/// How the cert endpoint's HTTP status relates to its resultCode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CertStatus {
    /// HTTP 200 for every resultCode, as partners' code written against the real mall expects.
    #[value(name = "always-200")]
    Always200,
    /// The resultCode as HTTP status (OK as 200).
    Mirror,
}

/// What an injected fault does to one call, the same for both endpoints: wait and then answer
/// what was decided (the token is used up before the wait, as a slow real server would have
/// done the work whatever the client does), or answer something else without deciding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultPlan {
    Delay(Duration),
    Replace(Replacement),
}

/// An answer that replaces the decided one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replacement {
    /// The mall's exact body for this code; the token is not looked at.
    Result(ResultCode),
    /// HTTP 500 with a plain-text page.
    Http500,
    /// The connection closed without an answer.
    Drop,
    /// HTTP 200 with a body cut short.
    Malformed,
}

impl FaultPlan {
    /// The plan for a fault's kind.
    pub fn of(kind: &FaultKind) -> Self {
        match kind {
            FaultKind::Delay { delay_ms } => FaultPlan::Delay(Duration::from_millis(*delay_ms)),
            FaultKind::ResultCode { result_code } => {
                FaultPlan::Replace(Replacement::Result((*result_code).into()))
            }
            FaultKind::Http500 {} => FaultPlan::Replace(Replacement::Http500),
            FaultKind::Drop {} => FaultPlan::Replace(Replacement::Drop),
            FaultKind::Malformed {} => FaultPlan::Replace(Replacement::Malformed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_bodies_are_rendered_from_code_and_message() {
        for code in ResultCode::ALL {
            let body: serde_json::Value = serde_json::from_str(code.failure_body()).unwrap();
            assert_eq!(body["resultCode"], code.code());
            assert_eq!(body["message"], code.message());
        }
        // A forced code answers the mall's body for the same code.
        for forced in ["400", "401", "403", "404"] {
            let code: ForcedCode = serde_json::from_value(forced.into()).unwrap();
            assert_eq!(ResultCode::from(code).code(), forced);
        }
        assert_eq!(
            ResultCode::TokenUsedOrUnknown.failure_body(),
            r#"{"resultCode":"404","message":"OTP 토큰이 이미 사용되었거나 일치하는 사용자가 없습니다."}"#
        );
    }
}
