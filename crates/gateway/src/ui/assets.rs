//! Static files of the UI, embedded in the binary.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The flow diagram (certify the mailbox → request → mail → code active → renewal).
pub(crate) const FLOW_SVG: &str = include_str!("../../assets/flow.svg");

const FILES: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/app.css"),
    ),
    (
        "common.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/common.js"),
    ),
    (
        "doctor.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/doctor.js"),
    ),
    (
        "admin.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/admin.js"),
    ),
    (
        "notify-sw.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/notify-sw.js"),
    ),
    ("flow.svg", "image/svg+xml", FLOW_SVG),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../../assets/favicon.svg"),
    ),
];

/// `GET /assets/{name}`.
pub(crate) async fn serve(Path(name): Path<String>) -> Response {
    let Some((_, mime, body)) = FILES.iter().find(|(n, _, _)| *n == name) else {
        return crate::error::ApiError::NotFound.into_response();
    };
    let mut r = (StatusCode::OK, *body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    // Assets change with the binary: a short cache keeps upgrades visible.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}
