//! The JSON API under `/api/v1`, the event stream and the operational endpoints.

pub(crate) mod admin;
mod audit;
mod edit;
pub(crate) mod events;
pub(crate) mod import;
mod mailbox;
pub(crate) mod ops;
mod paging;
mod practices;
pub(crate) mod requests;
mod schedule;
mod session;
mod support;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts};
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, on};

use crate::error::ApiError;
use crate::state::AppState;

/// JSON body extractor whose rejections are [`ApiError`]s (Italian, JSON-shaped).
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub(crate) struct ApiJson<T>(pub T);

/// Query extractor whose rejections are [`ApiError`]s.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub(crate) struct ApiQuery<T>(pub T);

/// A router that remembers what it routes, so that the OpenAPI document can be checked
/// against the real routes rather than against a second list kept by hand.
pub(crate) struct RouteTable {
    router: Router<AppState>,
    routes: Vec<(Method, &'static str)>,
}

impl RouteTable {
    pub(crate) fn new() -> Self {
        Self {
            router: Router::new(),
            routes: Vec::new(),
        }
    }

    pub(crate) fn add<H, T>(mut self, method: Method, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone())
            .unwrap_or_else(|_| panic!("unsupported method {method} for {path}"));
        self.router = self.router.route(path, on(filter, handler));
        self.routes.push((method, path));
        self
    }

    pub(crate) fn merge(mut self, other: RouteTable) -> Self {
        self.router = self.router.merge(other.router);
        self.routes.extend(other.routes);
        self
    }

    pub(crate) fn into_parts(self) -> (Router<AppState>, Vec<(Method, &'static str)>) {
        (self.router, self.routes)
    }
}

/// The path of the event stream: excluded from the request timeout.
pub(crate) const EVENTS_PATH: &str = "/api/v1/events";

/// Every JSON API route (under `/api/v1`).
pub(crate) fn api_routes() -> RouteTable {
    RouteTable::new()
        .add(Method::GET, "/api/v1/users", session::list_users)
        .add(Method::POST, "/api/v1/users", admin::add_user)
        .add(Method::PUT, "/api/v1/users/{user}", edit::update_user)
        .add(Method::DELETE, "/api/v1/users/{user}", admin::remove_user)
        .add(
            Method::PUT,
            "/api/v1/users/{user}/credentials",
            edit::set_credentials,
        )
        .add(Method::GET, "/api/v1/users/{user}/session", session::status)
        .add(
            Method::DELETE,
            "/api/v1/users/{user}/session",
            session::revoke,
        )
        .add(
            Method::POST,
            "/api/v1/users/{user}/session/request",
            session::request,
        )
        .add(
            Method::POST,
            "/api/v1/users/{user}/session/code",
            session::submit_code,
        )
        .add(
            Method::GET,
            "/api/v1/users/{user}/session/code",
            session::reveal_code,
        )
        .add(
            Method::GET,
            "/api/v1/users/{user}/session/requests",
            requests::list,
        )
        .add(Method::GET, "/api/v1/users/{user}/mailbox", mailbox::status)
        .add(
            Method::PUT,
            "/api/v1/users/{user}/mailbox",
            mailbox::configure,
        )
        .add(
            Method::GET,
            "/api/v1/workstations",
            admin::list_workstations,
        )
        .add(Method::POST, "/api/v1/workstations", admin::add_workstation)
        .add(
            Method::DELETE,
            "/api/v1/workstations/{id}",
            admin::revoke_workstation,
        )
        .add(
            Method::PUT,
            "/api/v1/workstations/{id}/users",
            edit::set_workstation_users,
        )
        .add(Method::GET, "/api/v1/practices", practices::list)
        .add(Method::POST, "/api/v1/practices", practices::put)
        .add(Method::GET, "/api/v1/practices/{id}", practices::show)
        .add(
            Method::PUT,
            "/api/v1/practices/{id}/members/{user}",
            practices::add_member,
        )
        .add(
            Method::DELETE,
            "/api/v1/practices/{id}/members/{user}",
            practices::remove_member,
        )
        .add(Method::POST, import::IMPORT_PATH, import::import)
        .add(Method::GET, "/api/v1/audit", audit::query)
        .add(Method::GET, support::SUPPORT_BUNDLE_PATH, support::download)
        .add(Method::GET, EVENTS_PATH, events::stream)
        .add(Method::GET, "/api/v1/openapi.json", ops::openapi)
        // Working hours and automatic requests.
        .merge(schedule::routes())
}

/// Liveness, readiness, metrics.
pub(crate) fn ops_routes() -> RouteTable {
    RouteTable::new()
        .add(Method::GET, "/healthz", ops::healthz)
        .add(Method::GET, "/readyz", ops::readyz)
        .add(Method::GET, "/metrics", ops::metrics)
}

pub(crate) use ops::OPENAPI;
