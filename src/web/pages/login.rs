//! The ways into the mall: the login page (`/member/login?cmpyNo=X`, with the real page's ID
//! and password inputs, and a one-click member list for testers), the company-side entry
//! (`POST /sso/loginSsoGate`, which companies' portals post to, creating the member when the
//! company has auto-join), and logging out. `lc` (where to go after login) is followed only to
//! this simulator, never to another site: no open redirect.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{message, render};
use crate::domain::directory::Directory;
use crate::domain::event::EventKind;
use crate::domain::records::Member;
use crate::protocol::join::{by_login_id, JoinError};
use crate::web::session::Session;
use crate::web::state::AppState;

#[derive(Deserialize)]
pub struct LoginQuery {
    #[serde(rename = "cmpyNo")]
    company: Option<String>,
    #[serde(default)]
    lc: Option<String>,
    /// Puts this browser in a sandbox from now on (`sandbox=` takes it out).
    #[serde(default)]
    sandbox: Option<String>,
}

struct CompanyRow {
    code: String,
    name: String,
    point_name: String,
}

struct MemberRow {
    customer_id: String,
    login_id: String,
    name: String,
    employee_no: String,
    active: bool,
}

/// `/member/login?cmpyNo=XXX`: the login form and the company's members; without `cmpyNo`, the
/// companies.
#[derive(Template)]
#[template(path = "login.html")]
struct Login {
    companies: Vec<CompanyRow>,
    company: Option<CompanyRow>,
    members: Vec<MemberRow>,
    lc: String,
    failed: Option<String>,
}

fn login_page(
    dir: &Directory,
    company: Option<&str>,
    lc: &str,
    failed: Option<String>,
) -> HttpResponse {
    let row = |c: &crate::domain::records::Company| CompanyRow {
        code: c.code.clone(),
        name: c.name.clone(),
        point_name: c.point_name.clone(),
    };
    let company = match company.filter(|c| !c.is_empty()) {
        None => None,
        Some(code) => match dir.company(code) {
            Some((_, c)) => Some(row(c)),
            None => {
                return message(
                    StatusCode::NOT_FOUND,
                    "알 수 없는 고객사",
                    &format!("고객사 코드 '{code}'가 없습니다. (unknown company)"),
                )
            }
        },
    };
    let members = match &company {
        None => Vec::new(),
        Some(c) => dir
            .members()
            .filter(|m| m.company == c.code)
            .map(|m| MemberRow {
                customer_id: m.customer_id.clone(),
                login_id: m.login_id.clone(),
                name: m.name.clone(),
                employee_no: m.employee_no.clone(),
                active: m.active,
            })
            .collect(),
    };
    let mut res = render(&Login {
        companies: dir.companies().map(|c| row(c)).collect(),
        company,
        members,
        lc: lc.to_owned(),
        failed: failed.clone(),
    });
    if failed.is_some() {
        *res.status_mut() = StatusCode::UNAUTHORIZED;
    }
    res
}

pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<LoginQuery>,
) -> HttpResponse {
    let (state, chosen) = match super::sandbox::chosen(&req, &state, query.sandbox.as_deref()).await
    {
        Ok(chosen) => chosen,
        Err(page) => return page,
    };
    let dir = match super::directory(&state).await {
        Ok(d) => d,
        Err(page) => return page,
    };
    let mut res = login_page(
        &dir,
        query.company.as_deref(),
        query.lc.as_deref().unwrap_or_default(),
        None,
    );
    if let Some(c) = chosen {
        let _ = res.add_cookie(&c);
    }
    res
}

/// The login form: the ID and password (`memID`, `passwd`), or a tester's one click (`custId`).
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(rename = "cmpyNo")]
    company: String,
    #[serde(rename = "custId", default)]
    customer_id: Option<String>,
    #[serde(rename = "memID", default)]
    login_id: Option<String>,
    #[serde(default)]
    passwd: Option<String>,
    #[serde(default)]
    lc: Option<String>,
}

pub async fn login_post(
    req: HttpRequest,
    state: super::sandbox::BrowserState,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    let dir = match super::directory(&state).await {
        Ok(d) => d,
        Err(page) => return page,
    };
    let f = form.into_inner();
    let lc = f.lc.as_deref().unwrap_or_default();
    let given = f
        .login_id
        .clone()
        .or(f.customer_id.clone())
        .unwrap_or_default();
    let found = match (&f.customer_id, &f.login_id) {
        (Some(id), _) => dir
            .member(id)
            .map(|(_, m)| (**m).clone())
            .filter(|m| m.company == f.company),
        (None, Some(login)) => by_login_id(&dir, &f.company, login).filter(|m| {
            m.password
                .as_deref()
                .is_none_or(|p| Some(p) == f.passwd.as_deref())
        }),
        (None, None) => None,
    };
    let refused = |reason: &str, page: HttpResponse| {
        journal(
            &state, "login", &f.company, &given, None, "refused", reason, None,
        );
        page
    };
    let Some(member) = found else {
        let page = login_page(
            &dir,
            Some(&f.company),
            lc,
            Some("아이디 또는 비밀번호가 맞지 않습니다. (wrong ID or password)".into()),
        );
        return refused("no member with that ID and password in this company", page);
    };
    if !member.active {
        let page = message(
            StatusCode::FORBIDDEN,
            "비활성 회원",
            "비활성 회원은 복리후생관을 이용할 수 없습니다. (inactive member)",
        );
        return refused("the member is inactive", page);
    }
    let to = landing(&state, &dir, lc);
    journal(
        &state,
        "login",
        &f.company,
        &given,
        Some(&member.customer_id),
        "ok",
        "logged in",
        Some(&to),
    );
    logged_in(&req, &state, &member, &to)
}

/// The company-side entry: a company's portal posts `memID`, `cmpyNo`, `mbrNm`, `email` (and
/// optionally `lc`).
#[derive(Deserialize)]
pub struct SsoGateForm {
    #[serde(rename = "memID")]
    login_id: String,
    #[serde(rename = "cmpyNo")]
    company: String,
    #[serde(rename = "mbrNm", default)]
    name: String,
    #[serde(default)]
    #[allow(dead_code)] // part of the form; the mall keeps no e-mail for a member
    email: String,
    #[serde(default)]
    lc: Option<String>,
}

pub async fn sso_gate(
    req: HttpRequest,
    state: super::sandbox::BrowserState,
    form: web::Form<SsoGateForm>,
) -> HttpResponse {
    let f = form.into_inner();
    let lc = f.lc.as_deref().unwrap_or_default();
    let dir = match super::directory(&state).await {
        Ok(d) => d,
        Err(page) => return page,
    };
    let Some((_, company)) = dir.company(&f.company) else {
        journal(
            &state,
            "loginSsoGate",
            &f.company,
            &f.login_id,
            None,
            "refused",
            "unknown company",
            None,
        );
        return message(
            StatusCode::NOT_FOUND,
            "알 수 없는 고객사",
            &format!("고객사 코드 '{}'가 없습니다. (unknown company)", f.company),
        );
    };
    let _ = company;
    let joined =
        crate::protocol::join::member_or_join(&state.store, &f.company, &f.login_id, &f.name).await;
    let (member, result) = match joined {
        Ok((m, true)) => (m, "joined"),
        Ok((m, false)) => (m, "ok"),
        Err(JoinError::NotMember(_)) => {
            journal(
                &state,
                "loginSsoGate",
                &f.company,
                &f.login_id,
                None,
                "refused",
                "no such member, and the company does not auto-join",
                None,
            );
            return message(
                StatusCode::FORBIDDEN,
                "가입되지 않은 회원",
                "복리후생관에 가입되지 않은 회원입니다. 고객사의 자동 가입(autoJoin)이 꺼져 있습니다. (unknown member; the company has no auto-join)",
            );
        }
        Err(JoinError::Store(e)) => {
            return message(
                StatusCode::SERVICE_UNAVAILABLE,
                "잠시 후 다시 시도하세요",
                &e.to_string(),
            )
        }
        Err(e) => {
            return message(
                StatusCode::BAD_REQUEST,
                "가입할 수 없습니다",
                &format!("자동 가입 실패 ({e})"),
            )
        }
    };
    if !member.active {
        journal(
            &state,
            "loginSsoGate",
            &f.company,
            &f.login_id,
            Some(&member.customer_id),
            "refused",
            "the member is inactive",
            None,
        );
        return message(
            StatusCode::FORBIDDEN,
            "비활성 회원",
            "비활성 회원은 복리후생관을 이용할 수 없습니다. (inactive member)",
        );
    }
    let dir = match super::directory(&state).await {
        Ok(d) => d,
        Err(page) => return page,
    };
    let to = landing(&state, &dir, lc);
    let reason = if result == "joined" {
        "a new member, created by auto-join"
    } else {
        "logged in"
    };
    journal(
        &state,
        "loginSsoGate",
        &f.company,
        &f.login_id,
        Some(&member.customer_id),
        result,
        reason,
        Some(&to),
    );
    logged_in(&req, &state, &member, &to)
}

/// Where to go after logging in: `lc` when it points at this simulator (a path, or an absolute
/// URL on a host it serves as a mall), else the mall home.
pub fn landing(state: &AppState, dir: &Directory, lc: &str) -> String {
    let lc = lc.trim();
    if lc.is_empty() {
        return "/mall".into();
    }
    let local = crate::web::pages::signin::safe_next(lc);
    if local != "/" || lc == "/" {
        return local.to_owned();
    }
    let companies: Vec<&crate::domain::records::Company> = dir.companies().map(|c| &**c).collect();
    match url::Url::parse(lc) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && state.config.endpoints.is_own(&url, &companies) =>
        {
            url.into()
        }
        _ => "/mall".into(),
    }
}

fn logged_in(req: &HttpRequest, state: &AppState, member: &Member, to: &str) -> HttpResponse {
    let session = Session {
        company: member.company.clone(),
        customer_id: member.customer_id.clone(),
    };
    HttpResponse::SeeOther()
        .cookie(session.cookie(&state.cookies, req.app_config().secure()))
        .insert_header(("location", to.to_owned()))
        .finish()
}

#[allow(clippy::too_many_arguments)]
fn journal(
    state: &AppState,
    via: &'static str,
    company: &str,
    login_id: &str,
    customer_id: Option<&str>,
    result: &'static str,
    reason: &str,
    location: Option<&str>,
) {
    state.store.record(
        crate::domain::clock::now_ms(),
        EventKind::Login {
            via: via.into(),
            cmpy_cd: company.to_owned(),
            mbr_id: login_id.to_owned(),
            cust_id: customer_id.map(str::to_owned),
            result: result.into(),
            reason: reason.to_owned(),
            location: location.map(str::to_owned),
        },
    );
}

pub async fn logout() -> HttpResponse {
    HttpResponse::SeeOther()
        .cookie(Session::removal())
        .cookie(super::sandbox::removal())
        .insert_header(("location", "/member/login"))
        .finish()
}
