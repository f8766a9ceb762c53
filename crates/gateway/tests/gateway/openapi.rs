//! The OpenAPI document covers every route of the router.

use serde_json::Value;

use crate::helpers::*;

/// `{*path}` (axum catch-all) is written `{path}` in OpenAPI.
fn openapi_path(route: &str) -> String {
    route.replace("{*", "{")
}

#[test]
fn every_route_is_documented() {
    let doc: Value = serde_json::from_str(tsgate_gateway::OPENAPI_JSON).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    let routes = tsgate_gateway::routes();
    assert!(routes.len() >= 18, "{routes:?}");
    for (method, path) in &routes {
        let p = openapi_path(path);
        let m = method.as_str().to_lowercase();
        assert!(
            doc["paths"][&p][&m].is_object(),
            "{method} {path} missing from openapi.json"
        );
    }
    // And nothing documented that is not routed.
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|ops| ops.as_object().unwrap().len())
        .sum();
    assert_eq!(documented, routes.len());
    // Every $ref resolves.
    let text = tsgate_gateway::OPENAPI_JSON;
    for piece in text.split("\"#/components/schemas/").skip(1) {
        let name = &piece[..piece.find('"').unwrap()];
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling $ref {name}"
        );
    }
}

#[tokio::test]
async fn served_and_every_route_answers() {
    let app = spawn_app().await;
    let r = app
        .http
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let served: Value = r.json().await.unwrap();
    assert_eq!(
        served,
        serde_json::from_str::<Value>(tsgate_gateway::OPENAPI_JSON).unwrap()
    );
    // Every listed route is really routed: unauthenticated calls never hit the fallback.
    for (method, path) in tsgate_gateway::routes() {
        if path == "/api/v1/events" {
            continue;
        }
        let concrete = path
            .replace("{user}", U1)
            .replace("{id}", "x")
            .replace("{*path}", "x/y");
        let r = app
            .http
            .request(method.clone(), app.url(&concrete))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert!(
            !(status == 404 && text.contains("\"not_found\"")),
            "{method} {path} fell through to the fallback"
        );
        assert_ne!(status, 405, "{method} {path}");
    }
}
