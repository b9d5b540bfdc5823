//! Issuing a GATE: the consent and first-time/changed rules, the token, and exactly the form
//! fields the member's browser posts to the vendor. The control API and the browser pages both
//! call [`issue`], so what a test automates and what a person clicks cannot differ.

use base64::Engine;
use serde::Deserialize;

use crate::clock;
use crate::directory::{member_fingerprint, Delivery};
use crate::journal::{EventKind, Omission};
use crate::state::AppState;
use crate::tokens::Grant;

/// What to do about the member's consent for this GATE.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsentChoice {
    /// Use the stored consent, or its absence.
    #[default]
    Keep,
    /// The member agrees now (recorded with the current time if not already given).
    Agree,
    /// The member declines: any stored consent is withdrawn and the GATE carries no member.
    Decline,
}

/// Where a GATE was asked for (shown in the journal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Api,
    Browser,
    Demo,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Api => "api",
            Source::Browser => "browser",
            Source::Demo => "demo",
        }
    }
}

/// A request for a GATE.
#[derive(Debug, Clone)]
pub struct GateRequest {
    pub company: String,
    pub customer_id: String,
    pub vendor: String,
    pub direct_url: Option<String>,
    pub baro_item: Option<String>,
    /// `Y` or `N`; the member's default when absent.
    pub receipt_yn: Option<String>,
    /// This token's lifetime, overriding vendor and global settings.
    pub ttl_seconds: Option<u64>,
    pub force_member_fields: bool,
    pub consent: ConsentChoice,
    pub source: Source,
}

/// The GATE the browser posts.
#[derive(Debug, Clone)]
pub struct Gate {
    /// The absolute GATE URL.
    pub gate_url: String,
    /// The form action as the self-posting page writes it (a path for the built-in partner).
    pub form_action: String,
    /// The form fields, in the guide's order, by their protocol names.
    pub fields: Vec<(&'static str, String)>,
    pub omitted: Vec<Omission>,
    pub token: Option<String>,
    pub expires_ms: Option<u64>,
    pub vendor_name: String,
    pub member_name: String,
}

/// Why a GATE cannot be issued.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("unknown company '{0}'")]
    UnknownCompany(String),
    #[error("unknown member '{0}'")]
    UnknownMember(String),
    #[error("member '{member}' does not belong to company '{company}'")]
    MemberNotInCompany { member: String, company: String },
    #[error("unknown vendor '{0}'")]
    UnknownVendor(String),
    #[error("member '{0}' is inactive and cannot use the mall")]
    InactiveMember(String),
    #[error("{field}: {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
    #[error(transparent)]
    StoreFull(#[from] crate::tokens::StoreFull),
}

/// The longest lifetime a single token may be given, in seconds (one day).
pub const MAX_TTL_SECONDS: u64 = 86_400;

/// Reasons, in Korean first for the page and in English for tools.
const NO_CONSENT: &str =
    "개인정보 제3자 제공 미동의 (no consent to share member data with this vendor)";

/// Issues a GATE: applies consent, decides member fields, draws the token, journals it.
pub fn issue(state: &AppState, req: GateRequest) -> Result<Gate, GateError> {
    let now = clock::now_ms();
    check_text("directUrl", req.direct_url.as_deref(), 2048)?;
    check_text("baroItem", req.baro_item.as_deref(), 200)?;
    if let Some(r) = &req.receipt_yn {
        if r != "Y" && r != "N" {
            return Err(GateError::Invalid {
                field: "receiptYn",
                problem: format!("must be \"Y\" or \"N\", not {r:?}"),
            });
        }
    }
    if let Some(ttl) = req.ttl_seconds {
        if ttl == 0 || ttl > MAX_TTL_SECONDS {
            return Err(GateError::Invalid {
                field: "ttlSeconds",
                problem: format!("must be from 1 to {MAX_TTL_SECONDS}"),
            });
        }
    }
    if let Some(d) = &req.direct_url {
        if !(d.starts_with('/') || d.starts_with("http://") || d.starts_with("https://")) {
            return Err(GateError::Invalid {
                field: "directUrl",
                problem: "must be an http(s) URL or a path starting with /".into(),
            });
        }
    }

    let mut dir = state.directory_mut();
    let (company_key, company) = dir
        .company(&req.company)
        .map(|(k, c)| (k.clone(), c.clone()))
        .ok_or_else(|| GateError::UnknownCompany(req.company.clone()))?;
    let (member_key, member) = dir
        .member(&req.customer_id)
        .map(|(k, m)| (k.clone(), m.clone()))
        .ok_or_else(|| GateError::UnknownMember(req.customer_id.clone()))?;
    if member.company != company.code {
        return Err(GateError::MemberNotInCompany {
            member: member.customer_id.clone(),
            company: company.code.clone(),
        });
    }
    let (vendor_key, vendor) = dir
        .vendor(&req.vendor)
        .map(|(k, v)| (k.clone(), v.clone()))
        .ok_or_else(|| GateError::UnknownVendor(req.vendor.clone()))?;
    if !member.active {
        return Err(GateError::InactiveMember(member.customer_id.clone()));
    }
    let vendor = &vendor.vendor;

    match req.consent {
        ConsentChoice::Keep => {}
        ConsentChoice::Agree => {
            if dir.consent(&member_key, &vendor_key).is_none() {
                dir.put_consent(&crate::fixtures::Consent {
                    customer_id: member.customer_id.clone(),
                    vendor_no: vendor.vendor_no.clone(),
                    agreed_at: clock::agr_dts(now),
                });
            }
        }
        ConsentChoice::Decline => {
            dir.remove_consent(&member_key, &vendor_key);
        }
    }
    let consented = dir.consent(&member_key, &vendor_key).is_some();

    let config = &state.config;
    let mut fields: Vec<(&'static str, String)> = Vec::with_capacity(15);
    let mut omitted = Vec::new();
    let popup = if consented {
        format!(
            "{}/mall/point?cmpyCd={}&custId={}",
            config.public_http_url,
            encode(&company.code),
            encode(&member.customer_id)
        )
    } else {
        format!("{}/mall/point", config.public_http_url)
    };
    fields.push(("POPUPURL", popup));
    match &req.direct_url {
        Some(direct) => {
            fields.push(("DirectFlag", "Y".into()));
            let url = match (&vendor.direct_url_base, direct.starts_with('/')) {
                (Some(base), true) => format!("{}{}", base.trim_end_matches('/'), direct),
                _ => direct.clone(),
            };
            fields.push(("DirectURL", url));
        }
        None => {
            fields.push(("DirectFlag", "N".into()));
            omitted.push(Omission {
                field: "DirectURL".into(),
                reason: "DirectFlag is N (no detail page asked for)".into(),
            });
        }
    }
    fields.push(("CUS_URL", config.public_url.clone()));

    const MEMBER_FIELDS: [&str; 4] = ["cmpy_cd", "CFM_CUS_ID", "USER_NAME", "ReceiptYN"];
    let fingerprint = member_fingerprint(&member);
    let force = req.force_member_fields || config.force_member_fields;
    let previous = dir.delivery(&member_key, &vendor_key);
    let send_member = if !consented {
        for field in MEMBER_FIELDS {
            omitted.push(Omission {
                field: field.into(),
                reason: NO_CONSENT.into(),
            });
        }
        false
    } else {
        match previous {
            Some(prev) if !force && prev.fingerprint == fingerprint => {
                let reason = format!(
                    "최초1회 및 회원정보변경 시에만 전달: already delivered at {}, member data unchanged since",
                    clock::rfc3339(prev.at_ms)
                );
                for field in MEMBER_FIELDS {
                    omitted.push(Omission {
                        field: field.into(),
                        reason: reason.clone(),
                    });
                }
                false
            }
            _ => true,
        }
    };
    if send_member {
        fields.push(("cmpy_cd", company.code.clone()));
        fields.push(("CFM_CUS_ID", member.customer_id.clone()));
        fields.push(("USER_NAME", member.name.clone()));
        fields.push((
            "ReceiptYN",
            req.receipt_yn.clone().unwrap_or(member.receipt_yn.clone()),
        ));
    }
    fields.push(("pointname", company.point_name.clone()));
    fields.push((
        "pointnameBase64",
        base64::engine::general_purpose::STANDARD.encode(company.point_name.as_bytes()),
    ));
    fields.push(("pointnamecode", company.point_name_code.clone()));
    match req.baro_item.as_deref().filter(|b| !b.is_empty()) {
        Some(item) => fields.push(("BaroItem", item.to_owned())),
        None => omitted.push(Omission {
            field: "BaroItem".into(),
            reason: "no product code given".into(),
        }),
    }
    fields.push((
        "CHECKURL",
        format!("{}/sso/vendorUserCheck", config.public_url),
    ));
    if vendor.param_encryption {
        fields.push(("ranNum", random_digits(10)));
    } else {
        omitted.push(Omission {
            field: "ranNum".into(),
            reason: "parameter encryption is off for this vendor".into(),
        });
    }

    let (token, expires_ms) = if consented {
        let ttl_ms = req
            .ttl_seconds
            .or(vendor.token_ttl_seconds)
            .map(|s| s.min(MAX_TTL_SECONDS) * 1000)
            .unwrap_or(config.token_ttl_ms);
        let expires = now.saturating_add(ttl_ms);
        let token = state.tokens.issue(
            Grant {
                company: company_key.clone(),
                customer_id: member_key.clone(),
                vendor: vendor_key.clone(),
            },
            now,
            expires,
        )?;
        let token = token.to_string();
        fields.push(("OTP_TOKEN", token.clone()));
        (Some(token), Some(expires))
    } else {
        omitted.push(Omission {
            field: "OTP_TOKEN".into(),
            reason: NO_CONSENT.into(),
        });
        (None, None)
    };
    if send_member {
        dir.record_delivery(
            member_key.clone(),
            vendor_key.clone(),
            Delivery {
                fingerprint,
                at_ms: now,
            },
        );
    }
    drop(dir);

    let (gate_url, form_action) = if vendor.gate_url.starts_with('/') {
        (
            format!("{}{}", config.public_http_url, vendor.gate_url),
            vendor.gate_url.clone(),
        )
    } else {
        (vendor.gate_url.clone(), vendor.gate_url.clone())
    };
    state.journal.record(
        now,
        EventKind::Gate {
            cmpy_cd: company.code.clone(),
            cust_id: member.customer_id.clone(),
            vndr_no: vendor.vendor_no.clone(),
            otp_token: token.clone(),
            expires_at: expires_ms.map(clock::rfc3339),
            omitted: omitted.clone(),
            source: req.source.name().into(),
        },
    );
    tracing::info!(
        vendor = %vendor.vendor_no,
        company = %company.code,
        token = token.as_deref().map(mask).unwrap_or_default(),
        member_fields = send_member,
        "GATE issued"
    );
    Ok(Gate {
        gate_url,
        form_action,
        fields,
        omitted,
        token,
        expires_ms,
        vendor_name: vendor.name.clone(),
        member_name: member.name.clone(),
    })
}

/// A token as logs may show it: `32*****5c6a669`.
pub fn mask(token: &str) -> String {
    if token.len() <= 9 || !token.is_ascii() {
        return "*****".into();
    }
    format!("{}*****{}", &token[..2], &token[token.len() - 7..])
}

fn check_text(field: &'static str, value: Option<&str>, max: usize) -> Result<(), GateError> {
    let Some(v) = value else { return Ok(()) };
    if v.len() > max {
        return Err(GateError::Invalid {
            field,
            problem: format!("longer than {max} bytes"),
        });
    }
    if v.chars().any(char::is_control) {
        return Err(GateError::Invalid {
            field,
            problem: "must not contain control characters".into(),
        });
    }
    Ok(())
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn random_digits(n: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}
