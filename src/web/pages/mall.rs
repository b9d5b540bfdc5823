//! The mock mall: pick a company and member, see the partner shortcuts (서비스바로가기), go
//! through consent, and leave for the partner through the self-posting GATE page.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{gate_error, gate_post, message, render, see_other, thousands};
use crate::protocol::gate::{self, ConsentChoice, GateRequest, Source};
use crate::web::session::Session;
use crate::web::state::AppState;

/// `/`: where everything is.
#[derive(Template)]
#[template(path = "landing.html")]
struct Landing<'a> {
    public_url: &'a str,
    public_http_url: &'a str,
    companies: usize,
    members: usize,
    vendors: usize,
}

pub async fn landing(state: super::sandbox::BrowserState) -> HttpResponse {
    let dir = match super::directory(&state).await {
        Ok(d) => d,
        Err(page) => return page,
    };
    render(&Landing {
        public_url: &state.config.public_url,
        public_http_url: &state.config.public_http_url,
        companies: dir.companies().count(),
        members: dir.members().count(),
        vendors: dir.vendors().count(),
    })
}

struct Tile {
    vendor_no: String,
    name: String,
    consent: Option<String>,
}

/// `/mall`: the member's home with a tile per partner.
#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    company_name: String,
    company_code: String,
    point_name: String,
    member_name: String,
    customer_id: String,
    balance: String,
    tiles: Vec<Tile>,
}

/// The session's member, still existing and active; else where to send the browser.
async fn member_of(
    req: &HttpRequest,
    state: &AppState,
) -> Result<
    (
        Session,
        crate::domain::records::Member,
        crate::domain::records::Company,
    ),
    Box<HttpResponse>,
> {
    let Some(session) = Session::from_request(req, &state.cookies) else {
        return Err(Box::new(see_other("/member/login")));
    };
    let dir = super::directory(state).await.map_err(Box::new)?;
    let member = dir.member(&session.customer_id).map(|(_, m)| (**m).clone());
    let company = dir.company(&session.company).map(|(_, c)| (**c).clone());
    match (member, company) {
        (Some(m), Some(c)) if m.active && m.company == c.code => Ok((session, m, c)),
        _ => Err(Box::new(
            HttpResponse::SeeOther()
                .cookie(Session::removal())
                .insert_header(("location", "/member/login"))
                .finish(),
        )),
    }
}

pub async fn home(req: HttpRequest, state: super::sandbox::BrowserState) -> HttpResponse {
    let (_, member, company) = match member_of(&req, &state).await {
        Ok(m) => m,
        Err(redirect) => return *redirect,
    };
    let dir = match super::directory(&state).await {
        Ok(d) => d,
        Err(page) => return page,
    };
    let tiles = dir
        .vendors()
        .map(|v| Tile {
            vendor_no: v.vendor.vendor_no.clone(),
            name: v.vendor.name.clone(),
            consent: dir
                .consent(&member.customer_id, &v.vendor.vendor_no)
                .map(str::to_owned),
        })
        .collect();
    render(&Home {
        company_name: company.name,
        company_code: company.code,
        point_name: company.point_name,
        member_name: member.name,
        customer_id: member.customer_id,
        balance: thousands(member.point_balance),
        tiles,
    })
}

#[derive(Deserialize)]
pub struct GoQuery {
    #[serde(rename = "vndrNo")]
    vendor: String,
    #[serde(rename = "directUrl", default)]
    direct_url: Option<String>,
    #[serde(rename = "baroItem", default)]
    baro_item: Option<String>,
    #[serde(default)]
    hold: Option<String>,
}

async fn issue_and_post(
    state: &AppState,
    session: &Session,
    vendor: &str,
    direct_url: Option<String>,
    baro_item: Option<String>,
    consent: ConsentChoice,
    hold: bool,
) -> HttpResponse {
    let issued = gate::issue(
        &state.issuer(),
        GateRequest {
            company: session.company.clone(),
            customer_id: session.customer_id.clone(),
            vendor: vendor.to_owned(),
            direct_url: direct_url.filter(|d| !d.is_empty()),
            baro_item: baro_item.filter(|b| !b.is_empty()),
            receipt_yn: None,
            ttl_seconds: None,
            force_member_fields: false,
            consent,
            source: Source::Browser,
            edits: Default::default(),
        },
    )
    .await;
    match issued {
        Ok(g) => gate_post(&g, &g.form_action, hold),
        Err(e) => gate_error(e, "제휴사로 이동할 수 없습니다"),
    }
}

/// `/mall/go?vndrNo=...`: a tile was clicked.
pub async fn go(
    req: HttpRequest,
    state: super::sandbox::BrowserState,
    query: web::Query<GoQuery>,
) -> HttpResponse {
    let (session, member, _) = match member_of(&req, &state).await {
        Ok(m) => m,
        Err(redirect) => return *redirect,
    };
    let q = query.into_inner();
    let consented = {
        let dir = match super::directory(&state).await {
            Ok(d) => d,
            Err(page) => return page,
        };
        if dir.vendor(&q.vendor).is_none() {
            return message(
                StatusCode::NOT_FOUND,
                "알 수 없는 제휴사",
                &format!("제휴사 '{}'가 없습니다. (unknown vendor)", q.vendor),
            );
        }
        dir.consent(&member.customer_id, &q.vendor).is_some()
    };
    let hold = q.hold.is_some();
    if !consented {
        let mut to = format!("/mall/consent?vndrNo={}", enc(&q.vendor));
        for (k, v) in [("directUrl", &q.direct_url), ("baroItem", &q.baro_item)] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                to.push_str(&format!("&{k}={}", enc(v)));
            }
        }
        if hold {
            to.push_str("&hold=1");
        }
        return see_other(&to);
    }
    issue_and_post(
        &state,
        &session,
        &q.vendor,
        q.direct_url,
        q.baro_item,
        ConsentChoice::Keep,
        hold,
    )
    .await
}

/// `/mall/consent`: 개인정보 제3자 제공 동의.
#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage {
    vendor_no: String,
    vendor_name: String,
    member_name: String,
    direct_url: String,
    baro_item: String,
    hold: bool,
}

pub async fn consent(
    req: HttpRequest,
    state: super::sandbox::BrowserState,
    query: web::Query<GoQuery>,
) -> HttpResponse {
    let (_, member, _) = match member_of(&req, &state).await {
        Ok(m) => m,
        Err(redirect) => return *redirect,
    };
    let q = query.into_inner();
    let dir = match super::directory(&state).await {
        Ok(d) => d,
        Err(page) => return page,
    };
    let Some(vendor_name) = dir.vendor(&q.vendor).map(|(_, v)| v.vendor.name.clone()) else {
        return message(
            StatusCode::NOT_FOUND,
            "알 수 없는 제휴사",
            "그런 제휴사가 없습니다. (unknown vendor)",
        );
    };
    render(&ConsentPage {
        vendor_no: q.vendor,
        vendor_name,
        member_name: member.name,
        direct_url: q.direct_url.unwrap_or_default(),
        baro_item: q.baro_item.unwrap_or_default(),
        hold: q.hold.is_some(),
    })
}

#[derive(Deserialize)]
pub struct ConsentForm {
    #[serde(rename = "vndrNo")]
    vendor: String,
    /// `agree` or `decline`.
    choice: String,
    #[serde(rename = "directUrl", default)]
    direct_url: Option<String>,
    #[serde(rename = "baroItem", default)]
    baro_item: Option<String>,
    #[serde(default)]
    hold: Option<String>,
}

pub async fn consent_post(
    req: HttpRequest,
    state: super::sandbox::BrowserState,
    form: web::Form<ConsentForm>,
) -> HttpResponse {
    let (session, _, _) = match member_of(&req, &state).await {
        Ok(m) => m,
        Err(redirect) => return *redirect,
    };
    let f = form.into_inner();
    let choice = match f.choice.as_str() {
        "agree" => ConsentChoice::Agree,
        "decline" => ConsentChoice::Decline,
        _ => {
            return message(
                StatusCode::BAD_REQUEST,
                "잘못된 선택",
                "동의 또는 미동의를 선택하세요. (choice must be agree or decline)",
            )
        }
    };
    issue_and_post(
        &state,
        &session,
        &f.vendor,
        f.direct_url,
        f.baro_item,
        choice,
        f.hold.is_some_and(|h| !h.is_empty()),
    )
    .await
}

/// POPUPURL: the member's welfare-point balance under the company's point name.
#[derive(Template)]
#[template(path = "point.html")]
struct PointPage {
    point_name: String,
    member_name: String,
    balance: String,
}

/// POPUPURL: the balance of the member of the mall session that opens it, as the real popup
/// opens in the member's browser inside the mall's session; without one, the login page.
pub async fn point(req: HttpRequest, state: super::sandbox::BrowserState) -> HttpResponse {
    point_in(&req, &state).await
}

/// A sandbox's POPUPURL (`/sb/<id>/mall/point`): the member as that sandbox holds it.
pub async fn point_in_sandbox(
    req: HttpRequest,
    state: web::Data<AppState>,
    sandbox: web::Path<String>,
) -> HttpResponse {
    use actix_web::ResponseError;
    let found = match crate::web::api::sandboxes::sandbox_id(&sandbox) {
        Ok(id) => state
            .store
            .sandbox(id, crate::domain::clock::now_ms())
            .await
            .map_err(crate::web::error::ApiError::from),
        Err(e) => Err(e),
    };
    match found {
        Ok((view, _)) => point_in(&req, &state.in_sandbox(view)).await,
        Err(e) => e.error_response(),
    }
}

async fn point_in(req: &HttpRequest, state: &AppState) -> HttpResponse {
    let (_, member, company) = match member_of(req, state).await {
        Ok(m) => m,
        Err(_) => return see_other(&format!("/member/login?lc={}", enc("/mall/point"))),
    };
    render(&PointPage {
        point_name: company.point_name,
        member_name: member.name,
        balance: thousands(member.point_balance),
    })
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
