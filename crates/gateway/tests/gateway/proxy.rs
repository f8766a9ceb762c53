//! The SOAP proxy against a fake DEM upstream (a transport test; the simulator end-to-end
//! tests live with the binary).

use futures::StreamExt;
use sistemats::soap::{self, Body as SoapBody};

use crate::helpers::*;

const INVIO: &str = "/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto";
const REQUEST_XML: &str = "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><x/></soapenv:Body></soapenv:Envelope>";

fn fault_of(text: &str) -> sistemats::soap::Fault {
    match soap::parse(text.as_bytes()).expect("a SOAP envelope") {
        SoapBody::Fault(f) => f,
        other => panic!("not a fault: {other:?}"),
    }
}

async fn post(app: &TestApp, url: String, user: &str) -> reqwest::RequestBuilder {
    app.http
        .post(url)
        .header("content-type", "text/xml;charset=UTF-8")
        .header(
            "soapaction",
            "\"http://invioprescritto.wsdl.dem.sanita.finanze.it/InvioPrescritto\"",
        )
        .header("authorization", basic(user, PASSWORD))
        .body(REQUEST_XML)
}

#[tokio::test]
async fn adds_the_code_strips_the_incoming_one_and_passes_the_rest() {
    let app = spawn_app().await;
    let r = post(&app, app.proxy_url(&app.tokens.doctor, INVIO), U1)
        .await
        .header("authorization2f", "Bearer stale-or-foreign-code")
        .header("x-custom", "kept")
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), RECEIPT_OK);
    let seen = app.upstream.seen.lock().unwrap()[0].clone();
    assert_eq!(seen.path, INVIO);
    let all_2f: Vec<_> = seen.headers.get_all("authorization2f").iter().collect();
    assert_eq!(all_2f.len(), 1);
    assert_eq!(all_2f[0], format!("Bearer {CODE_U1}").as_str());
    assert_eq!(seen.headers["authorization"], basic(U1, PASSWORD).as_str());
    assert_eq!(
        seen.headers["soapaction"],
        "\"http://invioprescritto.wsdl.dem.sanita.finanze.it/InvioPrescritto\""
    );
    assert_eq!(seen.headers["x-custom"], "kept");
    assert!(seen.headers.get("accept-encoding").is_none());
    assert_eq!(seen.body, REQUEST_XML.as_bytes());
    let uses = app.uses(1).await;
    assert_eq!(uses[0], Use::of(U1, &app.ids.doctor, "ok"));
}

#[tokio::test]
async fn token_in_header_and_user_in_header() {
    let app = spawn_app().await;
    let r = app
        .http
        .post(app.url(&format!("/ts{INVIO}")))
        .header("content-type", "text/xml; charset=utf-8")
        .header("x-tsgate-token", &app.tokens.doctor)
        .header("x-tsgate-user", U1)
        .body(REQUEST_XML)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen = app.upstream.seen.lock().unwrap()[0].clone();
    assert_eq!(seen.path, INVIO);
    assert_eq!(
        seen.headers["authorization2f"],
        format!("Bearer {CODE_U1}").as_str()
    );
    assert!(seen.headers.get("x-tsgate-token").is_none());
    assert!(seen.headers.get("x-tsgate-user").is_none());
}

#[tokio::test]
async fn refusals_are_soap_faults_in_italian() {
    let app = spawn_app().await;
    // (url, token override, user, expected status, expected X-Tsgate-Error, fragment)
    let bad = "tsg_not-a-real-token";
    let cases: Vec<(String, u16, &str, &str)> = vec![
        (
            app.proxy_url(bad, INVIO),
            403,
            "workstation",
            "postazione non registrata",
        ),
        (
            app.url("/ts/"),
            403,
            "workstation",
            "postazione non registrata",
        ),
        (
            app.proxy_url(
                &app.tokens.doctor,
                "/a2f-auth-ws/soap/v1/authentication-service",
            ),
            404,
            "unknown_service",
            "servizio non gestito",
        ),
        (
            app.proxy_url(&app.tokens.doctor, "/etc/passwd"),
            404,
            "unknown_service",
            "servizio non gestito",
        ),
        (
            app.proxy_url(&app.tokens.other, INVIO),
            403,
            "not_allowed",
            "non è autorizzata",
        ),
    ];
    for (url, status, reason, fragment) in cases {
        let r = post(&app, url.clone(), U1).await.send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{url}");
        assert_eq!(r.headers()["x-tsgate-error"], reason);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/xml")
        );
        let fault = fault_of(&r.text().await.unwrap());
        assert!(fault.string.contains(fragment), "{}", fault.string);
    }
    // No user at all.
    let r = app
        .http
        .post(app.proxy_url(&app.tokens.doctor, INVIO))
        .header("content-type", "text/xml; charset=utf-8")
        .body(REQUEST_XML)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        fault_of(&r.text().await.unwrap())
            .string
            .contains("utente Sistema TS non indicato")
    );
    // Two different users: the Basic one (U2, whom this workstation does not act for)
    // and X-Tsgate-User (U1, whom it does). Forwarding would send U2's credentials with
    // U1's code; refused, whichever of the two the workstation may act for.
    for (named, basic_user) in [(U1, U2), (U2, U1)] {
        let r = app
            .http
            .post(app.proxy_url(&app.tokens.doctor, INVIO))
            .header("content-type", "text/xml; charset=utf-8")
            .header("authorization", basic(basic_user, PASSWORD))
            .header("x-tsgate-user", named)
            .header("content-type", "text/xml; charset=utf-8")
            .body(REQUEST_XML)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        assert_eq!(r.headers()["x-tsgate-error"], "two_users");
        let fault = fault_of(&r.text().await.unwrap());
        assert!(
            fault.string.contains("due utenti diversi"),
            "{}",
            fault.string
        );
        assert!(!fault.string.contains(PASSWORD));
    }
    // JSON, or no type at all, is not SOAP: 415, nothing forwarded.
    for content_type in [Some("application/json"), None] {
        let mut call = app
            .http
            .post(app.proxy_url(&app.tokens.doctor, INVIO))
            .header("authorization", basic(U1, PASSWORD))
            .body("{\"ricetta\": 1}");
        if let Some(ct) = content_type {
            call = call.header("content-type", ct);
        }
        let r = call.send().await.unwrap();
        assert_eq!(r.status(), 415, "{content_type:?}");
        assert_eq!(r.headers()["x-tsgate-error"], "not_soap");
        let fault = fault_of(&r.text().await.unwrap());
        assert!(
            fault.string.contains("non è un messaggio SOAP"),
            "{}",
            fault.string
        );
    }
    // GET is not SOAP.
    let r = app
        .http
        .get(app.proxy_url(&app.tokens.doctor, INVIO))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert!(
        app.upstream.seen.lock().unwrap().is_empty(),
        "nothing refused reached Sistema TS"
    );
}

#[tokio::test]
async fn no_usable_code_answers_at_once_with_what_to_do() {
    let app = spawn_app().await;
    app.take_code(U1).await;
    let r = post(&app, app.proxy_url(&app.tokens.doctor, INVIO), U1)
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(r.headers()["x-tsgate-error"], "no_code");
    let fault = fault_of(&r.text().await.unwrap());
    assert_eq!(fault.code, "soapenv:Server");
    assert!(
        fault.string.starts_with(&format!(
            "Nessun ID-SESSIONE valido per l'utente {U1}: richiedi il codice dalla pagina di tsgate"
        )),
        "{}",
        fault.string
    );
    assert!(app.upstream.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn receipt_with_9101_is_passed_through_and_reported() {
    let app = spawn_app().await;
    let r = post(&app, app.proxy_url(&app.tokens.doctor, INVIO), U1)
        .await
        .header("x-test-mode", "9101")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), receipt_9101());
    let uses = app.uses(1).await;
    assert_eq!(uses, vec![Use::of(U1, &app.ids.doctor, "9101")]);
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("tsgate_proxy_9101_total"), "{metrics}");
    assert!(metrics.contains("tsgate_proxy_requests_total"));
    assert!(metrics.contains("tsgate_proxy_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn sistema_ts_faults_pass_through_unchanged() {
    let app = spawn_app().await;
    let r = post(&app, app.proxy_url(&app.tokens.doctor, INVIO), U1)
        .await
        .header("x-test-mode", "fault")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    assert!(r.headers().get("x-tsgate-error").is_none());
    assert!(fault_of(&r.text().await.unwrap()).is_schema_error());
}

/// An HTML error page, a receipt cut off, XML that is no SOAP envelope: none of them reach
/// the practice software raw; each is an Italian fault that says the prescription may
/// already be registered, and the session layer hears of an upstream failure.
#[tokio::test]
async fn broken_upstream_answers_become_italian_faults() {
    for (mode, reason) in [
        ("html-500", "upstream_not_soap"),
        ("malformed", "upstream_malformed"),
        ("not-envelope", "upstream_malformed"),
    ] {
        let app = spawn_app().await;
        let r = post(&app, app.proxy_url(&app.tokens.doctor, INVIO), U1)
            .await
            .header("x-test-mode", mode)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 502, "{mode}");
        assert_eq!(r.headers()["x-tsgate-error"], reason, "{mode}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/xml")
        );
        let body = r.text().await.unwrap();
        assert!(
            !body.contains("<html>") && !body.contains("ns2:Ricevuta"),
            "{body}"
        );
        let fault = fault_of(&body);
        assert!(
            fault.string.contains("potrebbe essere stata registrata"),
            "{mode}: {}",
            fault.string
        );
        app.upstream_unavailable_reported(U1).await;
    }
}

#[tokio::test]
async fn upstream_down_is_a_502_fault_and_the_session_layer_is_told() {
    // A port nobody listens on: bind, read the port, close.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let app = spawn_app_with(|c| c.upstream_dem_base = format!("http://{dead}")).await;
    let r = post(&app, app.proxy_url(&app.tokens.doctor, INVIO), U1)
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    let fault = fault_of(&r.text().await.unwrap());
    assert!(
        fault.string.starts_with("Sistema TS non risponde"),
        "{}",
        fault.string
    );
    app.upstream_unavailable_reported(U1).await;
}

#[tokio::test]
async fn request_body_streams_up_before_it_ends() {
    let app = spawn_app().await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(2);
    let body = reqwest::Body::wrap_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|v| (v, rx))
    }));
    let request = app
        .http
        .post(app.proxy_url(&app.tokens.doctor, INVIO))
        .header("content-type", "text/xml; charset=utf-8")
        .header("x-tsgate-user", U1)
        .header("x-test-mode", "stream-up")
        .body(body)
        .send();
    let first = vec![b'a'; 64 * 1024];
    let second = vec![b'b'; 3 * 1024 * 1024];
    let feeder = async {
        tx.send(Ok(first.clone())).await.unwrap();
        // If the proxy buffered the whole body, the upstream would never see this chunk
        // before the body ends, and this wait would never finish.
        within(
            "first chunk at upstream",
            app.upstream.first_chunk_in.notified(),
        )
        .await;
        tx.send(Ok(second.clone())).await.unwrap();
        drop(tx);
    };
    let (response, ()) = tokio::join!(request, feeder);
    assert_eq!(response.unwrap().status(), 200);
    let seen = app.upstream.seen.lock().unwrap()[0].clone();
    assert_eq!(seen.body.len(), first.len() + second.len());
    assert!(seen.body[..first.len()].iter().all(|&b| b == b'a'));
    assert!(seen.body[first.len()..].iter().all(|&b| b == b'b'));
}

#[tokio::test]
async fn response_body_streams_down_and_is_scanned() {
    let app = spawn_app().await;
    let r = post(&app, app.proxy_url(&app.tokens.doctor, INVIO), U1)
        .await
        .header("x-test-mode", "stream-down")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut stream = r.bytes_stream();
    let mut got = Vec::new();
    // The upstream sends the rest only after we have read (part of) the first half: a proxy
    // that buffered the answer would wait forever here.
    while got.len() < 1024 {
        let chunk = within("first part of the answer", stream.next())
            .await
            .unwrap()
            .unwrap();
        got.extend_from_slice(&chunk);
    }
    app.upstream.release_answer.notify_one();
    while let Some(chunk) = within("rest of the answer", stream.next()).await {
        got.extend_from_slice(&chunk.unwrap());
    }
    assert!(got.ends_with(receipt_9101().as_bytes()));
    let uses = app.uses(1).await;
    assert_eq!(uses[0].outcome, "9101");
}

#[tokio::test]
async fn oversized_body_is_refused() {
    let app = spawn_app_with(|c| c.limits.proxy_body_bytes = 1024).await;
    let r = app
        .http
        .post(app.proxy_url(&app.tokens.doctor, INVIO))
        .header("content-type", "text/xml; charset=utf-8")
        .header("x-tsgate-user", U1)
        .body(vec![b'x'; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(app.upstream.seen.lock().unwrap().is_empty());
}

/// Automatic requests on for `user`, as the autopilot would record them.
fn automatic(app: &TestApp, user: &str) {
    app.domain.manager.set_auto_inputs(
        &uid(user),
        tsgate_session::auto::AutoInputs {
            enabled: true,
            off_reason: None,
            hours: tsgate_session::hours::WorkingHours::default(),
        },
    );
}

const FRESH: &str = "aaaaaaaa-2222-4333-8444-555555555555";

#[tokio::test]
async fn a_call_without_code_is_held_until_the_automatic_request_brings_one() {
    let app = spawn_app().await;
    app.take_code(U1).await;
    automatic(&app, U1);
    let later = tsgate_session::Clock::now(&app.domain.clock) + time::Duration::seconds(1);
    app.domain.upstream.valid(FRESH, later);
    let mut calls = Vec::new();
    for _ in 0..3 {
        let request = post(&app, app.proxy_url(&app.tokens.doctor, INVIO), U1).await;
        calls.push(tokio::spawn(request.send()));
    }
    // One `create` for the three held calls; then the mail brings the code.
    within("the automatic create", async {
        while app.domain.upstream.create_count() == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(
        app.upstream.seen.lock().unwrap().is_empty(),
        "held, not forwarded"
    );
    app.domain
        .manager
        .submit_code(&uid(U1), FRESH, tsgate_session::Actor::Mailbox)
        .await
        .unwrap();
    for call in calls {
        let r = within("the held call", call).await.unwrap().unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), RECEIPT_OK);
    }
    assert_eq!(app.domain.upstream.create_count(), 1);
    let seen = app.upstream.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    for s in seen {
        assert_eq!(
            s.headers["authorization2f"],
            format!("Bearer {FRESH}").as_str()
        );
        assert_eq!(
            s.body,
            REQUEST_XML.as_bytes(),
            "the held body is forwarded whole"
        );
    }
}

#[tokio::test]
async fn a_pharmacy_call_without_code_is_held_and_gets_the_pharmacy_code() {
    use tsgate_session::UserDirectory as _;
    const VISUALIZZA_EROGATO: &str = "/DemRicettaErogatoServicesWeb/services/demVisualizzaErogato";
    let app = spawn_app().await;
    // U2 is a pharmacy: its session is the EROGATORE one, which has no code yet.
    let mut pharmacy = tsgate_session::testing::profile(&uid(U2));
    pharmacy.role = tsgate_session::Role::Farmacia;
    app.domain.store.put_user(&pharmacy).await.unwrap();
    automatic(&app, U2);
    let later = tsgate_session::Clock::now(&app.domain.clock) + time::Duration::seconds(1);
    app.domain.upstream.valid(FRESH, later);
    let request = app
        .http
        .post(app.proxy_url(&app.tokens.other, VISUALIZZA_EROGATO))
        .header("content-type", "text/xml;charset=UTF-8")
        .header(
            "soapaction",
            "\"http://visualizzaerogato.wsdl.dem.sanita.finanze.it/VisualizzaErogato\"",
        )
        .header("authorization", basic(U2, PASSWORD))
        .body(REQUEST_XML);
    let call = tokio::spawn(request.send());
    within("the pharmacy's automatic create", async {
        while app.domain.upstream.create_count() == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(
        app.upstream.seen.lock().unwrap().is_empty(),
        "held, not forwarded"
    );
    let view = app
        .domain
        .manager
        .submit_code(&uid(U2), FRESH, tsgate_session::Actor::Mailbox)
        .await
        .unwrap();
    assert_eq!(view.application, tsgate_session::Application::Erogatore);
    let r = within("the held call", call).await.unwrap().unwrap();
    assert_eq!(r.status(), 200);
    let seen = app.upstream.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, VISUALIZZA_EROGATO);
    assert_eq!(
        seen[0].headers["authorization2f"],
        format!("Bearer {FRESH}").as_str()
    );
}

#[tokio::test]
async fn held_calls_are_bounded_and_give_up_with_the_usual_fault() {
    let app = spawn_app_with(|c| {
        c.limits.max_held_calls = 1;
        c.limits.proxy_hold_seconds = 2;
    })
    .await;
    app.take_code(U1).await;
    automatic(&app, U1);
    let first = tokio::spawn(
        post(&app, app.proxy_url(&app.tokens.doctor, INVIO), U1)
            .await
            .send(),
    );
    within("the first call held", async {
        while app.domain.upstream.create_count() == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await;
    let second = post(&app, app.proxy_url(&app.tokens.doctor, INVIO), U1)
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 503);
    assert_eq!(second.headers()["x-tsgate-error"], "too_many_held");
    let fault = fault_of(&second.text().await.unwrap());
    assert!(
        fault.string.contains("chiamate in attesa"),
        "{}",
        fault.string
    );
    // No mail comes: after the hold time the first gets the usual "no code" fault.
    let first = within("the held call to give up", first)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.status(), 500);
    assert_eq!(first.headers()["x-tsgate-error"], "no_code");
    assert!(app.upstream.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn rbe_paths_go_to_the_rbe_host_with_the_code() {
    const RBE_INVIO: &str =
        "/RicettaBiancaDemPrescrittoServicesWeb/services/demInvioPrescrittoRicettaBianca";
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    // The fake upstream answers only as the RBE host; the DEM host is down.
    let app = spawn_app_with(|c| {
        c.upstream_rbe_base = c.upstream_dem_base.clone();
        c.upstream_dem_base = format!("http://{dead}");
    })
    .await;
    let r = post(&app, app.proxy_url(&app.tokens.doctor, RBE_INVIO), U1)
        .await
        .header("authorization2f", "Bearer stale-or-foreign-code")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen = app.upstream.seen.lock().unwrap()[0].clone();
    assert_eq!(seen.path, RBE_INVIO);
    let all_2f: Vec<_> = seen.headers.get_all("authorization2f").iter().collect();
    assert_eq!(all_2f.len(), 1);
    assert_eq!(all_2f[0], format!("Bearer {CODE_U1}").as_str());
    assert_eq!(seen.headers["authorization"], basic(U1, PASSWORD).as_str());

    // A DEM path still goes to the DEM host (down here): 502, nothing more upstream.
    let r = post(&app, app.proxy_url(&app.tokens.doctor, INVIO), U1)
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(app.upstream.seen.lock().unwrap().len(), 1);
}
