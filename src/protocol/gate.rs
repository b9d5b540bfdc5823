//! Issuing a GATE: the consent and first-time/changed rules, the token, and exactly the form
//! fields the member's browser posts to the vendor. The control API and the browser pages both
//! call [`issue`], so what a test automates and what a person clicks cannot differ.
//!
//! A pipeline: [`resolve`] finds company, member and vendor (shared with bulk issuing), the
//! consent and delivery rules fill a typed [`GateForm`] (`form.rs`), the demo page's hand edits
//! change that form, and [`encode`] turns it into the posted fields.

use std::sync::Arc;

use serde::Deserialize;

use crate::domain::clock;
use crate::domain::directory::{member_fingerprint, Delivery, Directory, VendorEntry};
use crate::domain::event::{EventKind, Omission};
use crate::domain::grant::Grant;
use crate::domain::records::{Company, Consent, Member, ReceiptYn};
use crate::protocol::endpoints::Endpoints;
use crate::store::{Decision, Store, StoreError};

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
    /// A conformance run.
    Conform,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Api => "api",
            Source::Browser => "browser",
            Source::Demo => "demo",
            Source::Conform => "conform",
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
    pub receipt_yn: Option<ReceiptYn>,
    /// This token's lifetime, overriding vendor and global settings.
    pub ttl_seconds: Option<u64>,
    pub force_member_fields: bool,
    pub consent: ConsentChoice,
    pub source: Source,
    /// Hand edits (the demo page), applied to the form before it is encoded.
    pub edits: Edits,
}

impl GateRequest {
    /// A request for `customer_id` of `company` at `vendor`: the stored consent as it is, the
    /// vendor's or the simulator's token lifetime, nothing else asked for.
    pub fn new(company: &str, customer_id: &str, vendor: &str, source: Source) -> Self {
        GateRequest {
            company: company.to_owned(),
            customer_id: customer_id.to_owned(),
            vendor: vendor.to_owned(),
            direct_url: None,
            baro_item: None,
            receipt_yn: None,
            ttl_seconds: None,
            force_member_fields: false,
            consent: ConsentChoice::Keep,
            source,
            edits: Edits::default(),
        }
    }
}

/// The GATE the browser posts.
#[derive(Debug, Clone)]
pub struct Gate {
    /// The absolute GATE URL.
    pub gate_url: String,
    /// The form action as the self-posting page writes it (a path for the built-in partner).
    pub form_action: String,
    /// The form fields as posted (encrypted where the vendor has parameter encryption), in the
    /// guide's order, by their protocol names.
    pub fields: Vec<(&'static str, String)>,
    /// The same fields before encryption.
    pub plain_fields: Vec<(&'static str, String)>,
    pub ran_num: Option<String>,
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
    Store(#[from] StoreError),
}

use super::form::apply_edits;
pub use super::form::{encode, mask, Edits, Encoded, GateForm, MemberFields};

/// The longest lifetime a single token may be given, in seconds (one day).
pub use crate::domain::grant::MAX_TTL_SECONDS;

/// Reasons, in Korean first for the page and in English for tools.
const NO_CONSENT: &str =
    "개인정보 제3자 제공 미동의 (no consent to share member data with this vendor)";

/// Company, member and vendor of a GATE, found and checked, with the token lifetime.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub company_key: Arc<str>,
    pub company: Arc<Company>,
    pub member_key: Arc<str>,
    pub member: Arc<Member>,
    pub vendor_key: Arc<str>,
    pub vendor: Arc<VendorEntry>,
    /// The token lifetime: the request's, else the vendor's, else the global one.
    pub ttl_ms: u64,
}

impl Resolved {
    /// What a token of this GATE is issued for.
    pub fn grant(&self) -> Grant {
        Grant {
            company: self.company_key.clone(),
            customer_id: self.member_key.clone(),
            vendor: self.vendor_key.clone(),
        }
    }
}

/// Finds company, member and vendor; refuses an unknown one, a member of another company and
/// an inactive member, for every way of issuing tokens alike.
pub fn resolve(
    dir: &Directory,
    company: &str,
    customer_id: &str,
    vendor: &str,
    ttl_seconds: Option<u64>,
    default_ttl_ms: u64,
) -> Result<Resolved, GateError> {
    if let Some(ttl) = ttl_seconds {
        if ttl == 0 || ttl > MAX_TTL_SECONDS {
            return Err(GateError::Invalid {
                field: "ttlSeconds",
                problem: format!("must be from 1 to {MAX_TTL_SECONDS}"),
            });
        }
    }
    let (company_key, company) = dir
        .company(company)
        .ok_or_else(|| GateError::UnknownCompany(company.to_owned()))?;
    let (member_key, member) = dir
        .member(customer_id)
        .ok_or_else(|| GateError::UnknownMember(customer_id.to_owned()))?;
    if member.company != company.code {
        return Err(GateError::MemberNotInCompany {
            member: member.customer_id.clone(),
            company: company.code.clone(),
        });
    }
    let (vendor_key, entry) = dir
        .vendor(vendor)
        .ok_or_else(|| GateError::UnknownVendor(vendor.to_owned()))?;
    if !member.active {
        return Err(GateError::InactiveMember(member.customer_id.clone()));
    }
    let ttl_ms = ttl_seconds
        .or(entry.vendor.token_ttl_seconds)
        .map(|s| s.min(MAX_TTL_SECONDS) * 1000)
        .unwrap_or(default_ttl_ms);
    Ok(Resolved {
        company_key: company_key.clone(),
        company: company.clone(),
        member_key: member_key.clone(),
        member: member.clone(),
        vendor_key: vendor_key.clone(),
        vendor: entry.clone(),
        ttl_ms,
    })
}

/// What issuing a GATE needs besides the request: the store, where the URLs point, and the
/// simulator's defaults.
pub struct Issuer<'a> {
    pub store: &'a Store,
    pub endpoints: &'a Endpoints,
    /// The token lifetime when neither the request nor the vendor sets one.
    pub token_ttl_ms: u64,
    /// `--force-member-fields`: every GATE carries the member fields.
    pub force_member_fields: bool,
}

/// What one atomic look at the directory decided for a GATE.
struct Decided {
    r: Resolved,
    consented: bool,
    /// The member fields go with this GATE (and the delivery is recorded).
    send_member: bool,
    /// The delivery before this GATE, when the member fields are left out because of it.
    previous: Option<Delivery>,
}

/// Issues a GATE: applies consent, decides member fields, draws the token, journals it.
/// Consent, the first-time/changed rule and the delivery record are one atomic store update
/// (two GATEs at once for a member never both carry the member fields), and no lock is held
/// while the token is issued.
pub async fn issue(issuer: &Issuer<'_>, req: GateRequest) -> Result<Gate, GateError> {
    let now = clock::now_ms();
    check_text("directUrl", req.direct_url.as_deref(), 2048)?;
    check_text("baroItem", req.baro_item.as_deref(), 200)?;
    check_text("pointname", req.edits.point_name.as_deref(), 200)?;
    check_text("pointnamecode", req.edits.point_name_code.as_deref(), 200)?;
    check_text("CUS_URL", req.edits.cus_url.as_deref(), 2048)?;
    if let Some(d) = &req.direct_url {
        if !(d.starts_with('/') || d.starts_with("http://") || d.starts_with("https://")) {
            return Err(GateError::Invalid {
                field: "directUrl",
                problem: "must be an http(s) URL or a path starting with /".into(),
            });
        }
    }
    let force = req.force_member_fields || issuer.force_member_fields;
    let decided = issuer
        .store
        .decide(|dir| decide(dir, &req, issuer.token_ttl_ms, force, now))
        .await??;
    let Decided {
        r,
        consented,
        send_member,
        previous,
    } = decided;
    let config = issuer;

    let vendor = &r.vendor.vendor;
    let (company, member) = (&*r.company, &*r.member);
    let mut omitted = Vec::new();
    let mut omit = |field: &'static str, reason: String| {
        omitted.push(Omission {
            field: field.into(),
            reason,
        })
    };
    let cus_url = config.endpoints.cus_url(company);
    let direct_url = req.direct_url.as_ref().map(|direct| {
        match (&vendor.direct_url_base, direct.starts_with('/')) {
            (Some(base), true) => format!("{}{}", base.trim_end_matches('/'), direct),
            _ => direct.clone(),
        }
    });
    if direct_url.is_none() {
        omit(
            "DirectURL",
            "DirectFlag is N (no detail page asked for)".into(),
        );
    }
    if !vendor.send_cus_url {
        omit(
            "CUS_URL",
            "sendCusUrl is false for this vendor: the partner must fall back to https://cert.benecafe.co.kr".into(),
        );
    }

    const MEMBER_FIELDS: [&str; 4] = ["cmpy_cd", "CFM_CUS_ID", "USER_NAME", "ReceiptYN"];
    if !consented {
        MEMBER_FIELDS
            .iter()
            .for_each(|f| omit(f, NO_CONSENT.into()));
    } else if let Some(prev) = previous.filter(|_| !send_member) {
        let reason = format!(
            "최초1회 및 회원정보변경 시에만 전달: already delivered at {}, member data unchanged since",
            clock::date_time(prev.at_ms)
        );
        MEMBER_FIELDS.iter().for_each(|f| omit(f, reason.clone()));
    }
    if req.baro_item.as_deref().is_none_or(str::is_empty) {
        omit("BaroItem", "no product code given".into());
    }
    if vendor.param_encryption.cipher().is_none() {
        omit(
            "ranNum",
            "parameter encryption is off for this vendor".into(),
        );
    }

    let (token, expires_ms) = if consented {
        let expires = now.saturating_add(r.ttl_ms);
        match config.store.issue(r.grant(), now, expires).await {
            Ok(token) => (Some(token.to_string()), Some(expires)),
            Err(e) => {
                if send_member {
                    undo_delivery(config.store, &r, previous, now).await;
                }
                return Err(e.into());
            }
        }
    } else {
        omit("OTP_TOKEN", NO_CONSENT.into());
        (None, None)
    };

    let (check_url, popup_url) = config
        .endpoints
        .check_and_popup_urls(company, config.store.sandbox_id());
    let mut form = GateForm {
        popup_url,
        direct_flag: direct_url.is_some(),
        direct_url,
        cus_url: vendor.send_cus_url.then(|| cus_url.clone()),
        member: send_member.then(|| MemberFields {
            company: company.code.clone(),
            customer_id: member.customer_id.clone(),
            name: member.name.clone(),
            receipt_yn: req.receipt_yn.unwrap_or(member.receipt_yn),
        }),
        point_name: company.point_name.clone(),
        point_name_code: company.point_name_code.clone(),
        baro_item: req.baro_item.clone().filter(|b| !b.is_empty()),
        check_url,
        otp_token: token.clone(),
    };
    apply_edits(&mut form, &req.edits);
    let encoded = encode(&form, &vendor.param_encryption);
    let (gate_url, form_action) = config.endpoints.gate(&vendor.gate_url);
    config.store.record(
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
    // Under the protocol lines' budget: a load test issuing GATEs does not flood the log.
    let line = crate::protocol::lines::CALLS.admit(now) != crate::protocol::lines::Line::Skipped;
    match token.as_deref() {
        _ if !line => {}
        Some(token) => tracing::info!(
            vendor = %vendor.vendor_no,
            company = %company.code,
            token = %mask(token),
            member_fields = send_member,
            "GATE issued"
        ),
        None => tracing::info!(
            vendor = %vendor.vendor_no,
            company = %company.code,
            "GATE issued without a token: the member has not consented"
        ),
    }
    Ok(Gate {
        gate_url,
        form_action,
        fields: encoded.fields,
        plain_fields: encoded.plain_fields,
        ran_num: encoded.ran_num,
        omitted,
        token,
        expires_ms,
        vendor_name: vendor.name.clone(),
        member_name: member.name.clone(),
    })
}

/// The consent and first-time/changed rules, decided on one directory: the change they need
/// (consent given or withdrawn, the delivery recorded) goes with the decision.
fn decide(
    dir: &Directory,
    req: &GateRequest,
    default_ttl_ms: u64,
    force: bool,
    now: u64,
) -> Result<Decision<Decided>, GateError> {
    let r = resolve(
        dir,
        &req.company,
        &req.customer_id,
        &req.vendor,
        req.ttl_seconds,
        default_ttl_ms,
    )?;
    let had_consent = dir.consent(&r.member_key, &r.vendor_key).is_some();
    let consented = match req.consent {
        ConsentChoice::Keep => had_consent,
        ConsentChoice::Agree => true,
        ConsentChoice::Decline => false,
    };
    let fingerprint = member_fingerprint(&r.member);
    let previous = dir.delivery(&r.member_key, &r.vendor_key);
    let send_member = consented && (force || previous.is_none_or(|p| p.fingerprint != fingerprint));
    let agree = (req.consent == ConsentChoice::Agree && !had_consent).then(|| Consent {
        customer_id: r.member.customer_id.clone(),
        vendor_no: r.vendor.vendor.vendor_no.clone(),
        agreed_at: clock::agr_dts(now),
    });
    let decline = req.consent == ConsentChoice::Decline && had_consent;
    let delivery = send_member.then_some(Delivery {
        fingerprint,
        at_ms: now,
    });
    let (member, vendor) = (r.member_key.clone(), r.vendor_key.clone());
    let decided = Decided {
        r,
        consented,
        send_member,
        previous,
    };
    if agree.is_none() && !decline && delivery.is_none() {
        return Ok(Decision::keep(decided));
    }
    Ok(Decision::change(decided, move |d| {
        if let Some(consent) = &agree {
            d.put_consent(consent);
        }
        if decline {
            d.remove_consent(&member, &vendor);
        }
        if let Some(delivery) = delivery {
            d.record_delivery(member.clone(), vendor.clone(), delivery);
        }
    }))
}

/// Puts the delivery memory back as it was when the token of a GATE that recorded a delivery
/// could not be issued, unless another GATE recorded one since.
async fn undo_delivery(store: &Store, r: &Resolved, previous: Option<Delivery>, at_ms: u64) {
    let (member, vendor) = (r.member_key.clone(), r.vendor_key.clone());
    let undone = store
        .decide(|dir| {
            let ours = dir
                .delivery(&member, &vendor)
                .is_some_and(|d| d.at_ms == at_ms);
            if !ours {
                return Ok::<_, StoreError>(Decision::keep(()));
            }
            let (m, v) = (member.clone(), vendor.clone());
            Ok(Decision::change((), move |d| match previous {
                Some(p) => d.record_delivery(m.clone(), v.clone(), p),
                None => d.forget_delivery(&m, &v),
            }))
        })
        .await;
    if let Err(e) = undone {
        tracing::warn!(error = %e, "a GATE that failed could not undo its delivery record");
    }
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
