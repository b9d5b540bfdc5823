//! The HTTP edge (actix-web). Every route is registered here, in one place: [`register`] is the
//! one table, used both to build the app and to list the routes (the OpenAPI test compares the
//! document with that list). Each route passes its guard ([`guard`]), then a thin adapter turns
//! the request into the protocol's terms (`cert.rs`, `check.rs`), or serves the control API
//! (`api/`) or a page (`pages/`).

pub(crate) mod api;
pub(crate) mod call;
pub(crate) mod cert;
pub(crate) mod check;
pub mod client_ip;
pub(crate) mod error;
pub mod guard;
pub(crate) mod health;
pub mod in_flight;
pub(crate) mod log;
pub mod observe;
pub(crate) mod openapi;
pub(crate) mod pages;
pub(crate) mod probes;
pub mod prometheus;
pub(crate) mod session;
pub mod state;
pub(crate) mod version;

use actix_web::http::Method;
use actix_web::{web, FromRequest, Handler, Responder};

use crate::domain::records::{Company, Member, Vendor};
use crate::web::guard::Access;

/// Something routes can be added to: the app's configuration, or a plain list.
pub trait Routes {
    fn add<F, Args>(&mut self, access: Access, method: Method, path: &'static str, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static;
}

impl Routes for web::ServiceConfig {
    /// Each route is its own resource (guarded by its method, so that routes sharing a path fall
    /// through to each other as `ServiceConfig::route` does), with its access rule wrapped
    /// around it: the rule runs on what the router matched, however the path was spelled.
    fn add<F, Args>(&mut self, access: Access, method: Method, path: &'static str, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.service(
            web::resource(path)
                .guard(actix_web::guard::Method(method))
                .wrap(crate::web::guard::Guard(access))
                .to(handler),
        );
    }
}

/// The routes as (access, method, path).
#[derive(Default)]
pub struct RouteList(pub Vec<(Access, Method, &'static str)>);

impl Routes for RouteList {
    fn add<F, Args>(&mut self, access: Access, method: Method, path: &'static str, _: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.0.push((access, method, path));
    }
}

/// The one table of routes, each with what it needs of its caller.
pub fn register(r: &mut impl Routes) {
    use api::admin;
    use Access::{Control, Entry, Operator, Protocol, Public, Receiver};
    r.add(
        Protocol,
        Method::GET,
        crate::protocol::CERT_PATH,
        cert::handle,
    );
    r.add(
        Protocol,
        Method::POST,
        crate::protocol::CERT_PATH,
        cert::handle,
    );
    r.add(
        Protocol,
        Method::GET,
        crate::protocol::CHECK_PATH,
        check::handle,
    );
    r.add(
        Protocol,
        Method::POST,
        crate::protocol::CHECK_PATH,
        check::handle,
    );
    for method in [Method::GET, Method::POST] {
        r.add(
            Protocol,
            method,
            "/sb/{sandbox}/sso/vendorUserCheck",
            check::handle_sandbox,
        );
    }
    r.add(Public, Method::GET, "/_sim/healthz", health::handle);
    r.add(Public, Method::GET, "/_sim/livez", probes::livez);
    r.add(Public, Method::GET, "/_sim/readyz", probes::readyz);
    r.add(Public, Method::GET, "/_sim/openapi.json", openapi::get);
    r.add(Public, Method::GET, "/_sim/ca.pem", health::ca_pem);
    r.add(Public, Method::GET, "/_sim/version", version::get);
    // The control API's rule: open on loopback, else the bearer token.
    r.add(Control, Method::GET, "/_sim/metrics", prometheus::get);

    r.add(Control, Method::POST, "/_sim/api/gate", api::gate::post);
    r.add(
        Control,
        Method::GET,
        "/_sim/api/companies",
        api::lists::companies,
    );
    r.add(
        Control,
        Method::PUT,
        "/_sim/api/companies/{cmpyCd}",
        admin::put::<Company>,
    );
    r.add(
        Control,
        Method::PATCH,
        "/_sim/api/companies/{cmpyCd}",
        admin::patch::<Company>,
    );
    r.add(
        Control,
        Method::DELETE,
        "/_sim/api/companies/{cmpyCd}",
        admin::delete::<Company>,
    );
    r.add(
        Control,
        Method::GET,
        "/_sim/api/members",
        api::lists::members,
    );
    r.add(
        Control,
        Method::PUT,
        "/_sim/api/members/{custId}",
        admin::put::<Member>,
    );
    r.add(
        Control,
        Method::PATCH,
        "/_sim/api/members/{custId}",
        admin::patch::<Member>,
    );
    r.add(
        Control,
        Method::DELETE,
        "/_sim/api/members/{custId}",
        admin::delete::<Member>,
    );
    r.add(
        Control,
        Method::GET,
        "/_sim/api/vendors",
        api::lists::vendors,
    );
    r.add(
        Control,
        Method::PUT,
        "/_sim/api/vendors/{vndrNo}",
        admin::put::<Vendor>,
    );
    r.add(
        Control,
        Method::PATCH,
        "/_sim/api/vendors/{vndrNo}",
        admin::patch::<Vendor>,
    );
    r.add(
        Control,
        Method::DELETE,
        "/_sim/api/vendors/{vndrNo}",
        admin::delete::<Vendor>,
    );
    r.add(Control, Method::GET, "/_sim/api/consents", admin::consents);
    r.add(
        Control,
        Method::PUT,
        "/_sim/api/consents/{custId}/{vndrNo}",
        admin::put_consent,
    );
    r.add(
        Control,
        Method::DELETE,
        "/_sim/api/consents/{custId}/{vndrNo}",
        admin::delete_consent,
    );
    r.add(
        Control,
        Method::POST,
        "/_sim/api/tokens/bulk",
        api::bulk::post,
    );
    r.add(
        Control,
        Method::POST,
        "/_sim/api/decrypt",
        api::decrypt::post,
    );
    r.add(
        Control,
        Method::POST,
        "/_sim/api/conform",
        api::conform::post,
    );
    r.add(
        Control,
        Method::GET,
        "/_sim/api/tokens/{token}",
        api::tokens::get,
    );
    r.add(
        Control,
        Method::POST,
        "/_sim/api/tokens/{token}/expire",
        api::tokens::expire,
    );
    r.add(Control, Method::GET, "/_sim/api/journal", api::journal::get);
    r.add(
        Control,
        Method::DELETE,
        "/_sim/api/journal",
        api::journal::clear,
    );
    r.add(Control, Method::GET, "/_sim/api/faults", api::faults::list);
    r.add(Control, Method::POST, "/_sim/api/faults", api::faults::add);
    r.add(
        Control,
        Method::DELETE,
        "/_sim/api/faults",
        api::faults::clear,
    );
    r.add(
        Control,
        Method::DELETE,
        "/_sim/api/faults/{id}",
        api::faults::remove,
    );
    r.add(Control, Method::POST, "/_sim/api/reset", admin::reset);
    r.add(
        Control,
        Method::GET,
        "/_sim/api/fixtures",
        api::lists::fixtures,
    );
    use api::sandboxes;
    r.add(
        Control,
        Method::POST,
        "/_sim/api/sandboxes",
        sandboxes::make,
    );
    r.add(Control, Method::GET, "/_sim/api/sandboxes", sandboxes::list);
    r.add(
        Control,
        Method::GET,
        "/_sim/api/sandboxes/{id}",
        sandboxes::get,
    );
    r.add(
        Control,
        Method::DELETE,
        "/_sim/api/sandboxes/{id}",
        sandboxes::remove,
    );

    use pages::{demo, journal, login, mall, partner, signin};
    r.add(Public, Method::GET, "/", mall::landing);
    r.add(Public, Method::GET, "/_sim/signin", signin::form);
    r.add(Public, Method::POST, "/_sim/signin", signin::submit);
    r.add(Operator, Method::GET, "/member/login", login::login);
    r.add(Operator, Method::POST, "/member/login", login::login_post);
    r.add(Operator, Method::GET, "/member/logout", login::logout);
    r.add(Entry, Method::POST, "/sso/loginSsoGate", login::sso_gate);
    r.add(Operator, Method::GET, "/mall", mall::home);
    r.add(Operator, Method::GET, "/mall/go", mall::go);
    r.add(Operator, Method::GET, "/mall/consent", mall::consent);
    r.add(Operator, Method::POST, "/mall/consent", mall::consent_post);
    r.add(Operator, Method::GET, "/mall/point", mall::point);
    r.add(
        Operator,
        Method::GET,
        "/sb/{sandbox}/mall/point",
        mall::point_in_sandbox,
    );
    r.add(Operator, Method::GET, "/_sim/demo", demo::form);
    r.add(Operator, Method::POST, "/_sim/demo", demo::submit);
    r.add(Receiver, Method::GET, "/_sim/partner/gate", partner::info);
    r.add(Receiver, Method::POST, "/_sim/partner/gate", partner::gate);
    r.add(
        Operator,
        Method::POST,
        "/_sim/partner/recheck",
        partner::recheck,
    );
    r.add(Operator, Method::GET, "/_sim/journal", journal::page);
    r.add(Operator, Method::GET, "/_sim/conform", api::conform::page);
    r.add(
        Operator,
        Method::POST,
        "/_sim/conform",
        api::conform::run_page,
    );
}

/// Registers the routes on an app.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::JsonConfig::default().error_handler(crate::web::error::json_error))
        .app_data(web::QueryConfig::default().error_handler(crate::web::error::query_error))
        .app_data(web::PathConfig::default().error_handler(crate::web::error::path_error));
    register(cfg);
    cfg.default_service(web::to(no_such_route));
}

/// What a request for no route gets: the control API's `{"error"}` under `/_sim/api/` (a
/// client there reads JSON), an empty 404 elsewhere, as before.
async fn no_such_route(req: actix_web::HttpRequest) -> actix_web::HttpResponse {
    if !req.path().starts_with("/_sim/api/") {
        return actix_web::HttpResponse::NotFound().finish();
    }
    let path: String = req.path().chars().take(200).collect();
    actix_web::HttpResponse::NotFound()
        .insert_header(("cache-control", "no-store"))
        .insert_header(("x-content-type-options", "nosniff"))
        .json(serde_json::json!({
        "error": format!("no such route: {} {path} (the routes are in /_sim/openapi.json)", req.method())
    }))
}

/// The routes as (access, method, path).
pub fn list() -> Vec<(Access, Method, &'static str)> {
    let mut list = RouteList::default();
    register(&mut list);
    list.0
}
