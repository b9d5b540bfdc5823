//! Every route, registered in one place: [`register`] is the one table, used both to build the
//! app and to list the routes (the OpenAPI test compares the document with that list).

pub mod api;
pub mod cert;
pub mod check;
pub mod health;
pub mod openapi;
pub mod pages;

use actix_web::http::Method;
use actix_web::{web, FromRequest, Handler, Responder};

use crate::fixtures::{Company, Member, Vendor};

/// Something routes can be added to: the app's configuration, or a plain list.
pub trait Routes {
    fn add<F, Args>(&mut self, method: Method, path: &'static str, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static;
}

impl Routes for web::ServiceConfig {
    fn add<F, Args>(&mut self, method: Method, path: &'static str, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(path, web::method(method).to(handler));
    }
}

/// The routes as (method, path) pairs.
#[derive(Default)]
pub struct RouteList(pub Vec<(Method, &'static str)>);

impl Routes for RouteList {
    fn add<F, Args>(&mut self, method: Method, path: &'static str, _: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.0.push((method, path));
    }
}

/// The one table of routes.
pub fn register(r: &mut impl Routes) {
    use api::admin;
    r.add(Method::GET, cert::PATH, cert::handle);
    r.add(Method::POST, cert::PATH, cert::handle);
    r.add(Method::GET, check::PATH, check::handle);
    r.add(Method::POST, check::PATH, check::handle);
    r.add(Method::GET, "/_sim/healthz", health::handle);
    r.add(Method::GET, "/_sim/openapi.json", openapi::get);

    r.add(Method::POST, "/_sim/api/gate", api::gate::post);
    r.add(Method::GET, "/_sim/api/companies", api::lists::companies);
    r.add(
        Method::PUT,
        "/_sim/api/companies/{cmpyCd}",
        admin::put::<Company>,
    );
    r.add(
        Method::PATCH,
        "/_sim/api/companies/{cmpyCd}",
        admin::patch::<Company>,
    );
    r.add(
        Method::DELETE,
        "/_sim/api/companies/{cmpyCd}",
        admin::delete::<Company>,
    );
    r.add(Method::GET, "/_sim/api/members", api::lists::members);
    r.add(
        Method::PUT,
        "/_sim/api/members/{custId}",
        admin::put::<Member>,
    );
    r.add(
        Method::PATCH,
        "/_sim/api/members/{custId}",
        admin::patch::<Member>,
    );
    r.add(
        Method::DELETE,
        "/_sim/api/members/{custId}",
        admin::delete::<Member>,
    );
    r.add(Method::GET, "/_sim/api/vendors", api::lists::vendors);
    r.add(
        Method::PUT,
        "/_sim/api/vendors/{vndrNo}",
        admin::put::<Vendor>,
    );
    r.add(
        Method::PATCH,
        "/_sim/api/vendors/{vndrNo}",
        admin::patch::<Vendor>,
    );
    r.add(
        Method::DELETE,
        "/_sim/api/vendors/{vndrNo}",
        admin::delete::<Vendor>,
    );
    r.add(Method::GET, "/_sim/api/consents", admin::consents);
    r.add(
        Method::PUT,
        "/_sim/api/consents/{custId}/{vndrNo}",
        admin::put_consent,
    );
    r.add(
        Method::DELETE,
        "/_sim/api/consents/{custId}/{vndrNo}",
        admin::delete_consent,
    );
    r.add(Method::POST, "/_sim/api/tokens/bulk", api::bulk::post);
    r.add(Method::GET, "/_sim/api/tokens/{token}", api::tokens::get);
    r.add(
        Method::POST,
        "/_sim/api/tokens/{token}/expire",
        api::tokens::expire,
    );
    r.add(Method::GET, "/_sim/api/journal", api::journal::get);
    r.add(Method::DELETE, "/_sim/api/journal", api::journal::clear);
    r.add(Method::GET, "/_sim/api/faults", api::faults::list);
    r.add(Method::POST, "/_sim/api/faults", api::faults::add);
    r.add(Method::DELETE, "/_sim/api/faults", api::faults::clear);
    r.add(Method::DELETE, "/_sim/api/faults/{id}", api::faults::remove);
    r.add(Method::POST, "/_sim/api/reset", admin::reset);

    use pages::{demo, journal, mall, partner};
    r.add(Method::GET, "/", mall::landing);
    r.add(Method::GET, "/member/login", mall::login);
    r.add(Method::POST, "/member/login", mall::login_post);
    r.add(Method::GET, "/member/logout", mall::logout);
    r.add(Method::GET, "/mall", mall::home);
    r.add(Method::GET, "/mall/go", mall::go);
    r.add(Method::GET, "/mall/consent", mall::consent);
    r.add(Method::POST, "/mall/consent", mall::consent_post);
    r.add(Method::GET, "/mall/point", mall::point);
    r.add(Method::GET, "/_sim/demo", demo::form);
    r.add(Method::POST, "/_sim/demo", demo::submit);
    r.add(Method::GET, "/_sim/partner/gate", partner::info);
    r.add(Method::POST, "/_sim/partner/gate", partner::gate);
    r.add(Method::POST, "/_sim/partner/recheck", partner::recheck);
    r.add(Method::GET, "/_sim/journal", journal::page);
}

/// Registers the routes on an app.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::JsonConfig::default().error_handler(crate::error::json_error))
        .app_data(web::QueryConfig::default().error_handler(crate::error::query_error))
        .app_data(web::PathConfig::default().error_handler(crate::error::path_error));
    register(cfg);
}

/// The routes as (method, path) pairs.
pub fn list() -> Vec<(Method, &'static str)> {
    let mut list = RouteList::default();
    register(&mut list);
    list.0
}
