//! Every message the library can build, validated with `xmllint` against the official XSD.

use sistemats::a2f::{
    Application, CreateRequest, Errore, Identifier, InfoToken, KeyValue, Operation, Response,
    Severity, TokenRequest,
};
use sistemats::soap::{self, Body};
use sistemats::{Pin, SessionCode};
use time::macros::datetime;

use crate::support::{CODE, assert_valid, doctor, pair, xmllint_a2f};

fn full_options() -> Vec<KeyValue> {
    (0..10)
        .map(|i| KeyValue::new(format!("chiave{i}"), format!("valore & <{i}>")))
        .collect()
}

/// The envelope carries the same element as the standalone payload that xmllint checked.
fn assert_envelope_matches(envelope: &str, payload: &str) {
    let from_envelope = match soap::parse(envelope.as_bytes()).unwrap() {
        Body::Payload(p) => p,
        Body::Fault(f) => panic!("{f:?}"),
    };
    let standalone = sistemats::xml::parse(payload.as_bytes()).unwrap();
    assert_eq!(from_envelope, standalone);
}

#[test]
fn create_requests_are_valid() {
    let (cert, ..) = pair();
    let pin = Pin::new("1234567890");
    let mut variants = Vec::new();
    for app in [
        Application::Prescriber,
        Application::Dispenser,
        Application::None,
    ] {
        variants.push(CreateRequest::new(&doctor(), &pin, app, cert).unwrap());
    }
    let mut pharmacy =
        sistemats::a2f::UserIdentity::new("UV386Q5B", "BBTMRZ54L19H501T", "130", "204");
    pharmacy.ssa = "78909".into();
    pharmacy.structure = "1234567890".into();
    variants.push(CreateRequest::new(&pharmacy, &pin, Application::Dispenser, cert).unwrap());
    let mut no_ssa = doctor();
    no_ssa.ssa.clear();
    variants.push(CreateRequest::new(&no_ssa, &pin, Application::Prescriber, cert).unwrap());
    let mut full = CreateRequest::new(&doctor(), &pin, Application::Prescriber, cert).unwrap();
    full.opzioni = full_options();
    full.info_aggiuntive = vec![KeyValue::new("APP", "tsgate_000")];
    variants.push(full);
    variants.push(CreateRequest::default());
    variants.push(CreateRequest {
        identificativo: Some(Identifier {
            kind: "I".into(),
            value: String::new(),
        }),
        ..CreateRequest::default()
    });
    for req in &variants {
        req.validate().unwrap();
        let payload = req.to_payload();
        assert_valid(&payload);
        assert_envelope_matches(&req.to_envelope(), &payload);
    }
}

#[test]
fn token_requests_are_valid() {
    let (cert, ..) = pair();
    let code = SessionCode::new(CODE);
    let mut variants = vec![
        TokenRequest::new(
            &doctor(),
            &Pin::new("1234567890"),
            &code,
            Application::Prescriber,
            cert,
        )
        .unwrap(),
        TokenRequest::new(
            &doctor(),
            &Pin::new("1234567890"),
            &code,
            Application::None,
            cert,
        )
        .unwrap(),
        TokenRequest {
            user_id: None,
            identificativo: None,
            cf_utente: None,
            token: code.clone(),
            contesto: None,
            applicazione: None,
            opzioni: Vec::new(),
            info_aggiuntive: Vec::new(),
        },
    ];
    let mut full = variants[0].clone();
    full.opzioni = full_options();
    full.info_aggiuntive = full_options();
    variants.push(full);
    for req in &variants {
        req.validate().unwrap();
        for op in [Operation::CheckToken, Operation::Revoke] {
            let payload = req.to_payload(op);
            assert_valid(&payload);
            assert_envelope_matches(&req.to_envelope(op), &payload);
        }
    }
}

#[test]
fn responses_are_valid() {
    let info_token = InfoToken {
        stato: 1,
        descrizione: "Revocato".into(),
        data_inizio_validita: datetime!(2025-05-30 17:51:31 UTC),
        data_fine_validita: datetime!(2025-05-31 09:51:31 UTC),
    };
    let responses = vec![
        Response::success(),
        Response::success().with_info("emailStatus", "Email con token inviata con successo"),
        Response::success()
            .with_info("emailStatus", "ok")
            .with_comunicazione("token", CODE)
            .with_comunicazione("working-mode", "TEST")
            .with_comunicazione("execution-time-in-seconds", "0,190"),
        Response::failure(Errore::new(
            "306",
            Severity::Error,
            "Codice fiscale errato. X",
        )),
        Response::failure(Errore::new("06", Severity::Warning, "già revocato"))
            .with_info_token(info_token.clone()),
        Response::success().with_info_token(InfoToken {
            stato: 0,
            ..info_token.clone()
        }),
        Response::failure(Errore::new("05", Severity::Warning, "già revocato"))
            .with_info("lastRevokePreviousDate", "30/05/2025 20:51:07"),
        Response::failure(Errore {
            tipo_errore: None,
            cod_esito: "9999".into(),
            descr_esito: None,
        }),
    ];
    for r in &responses {
        for op in Operation::ALL {
            let payload = r.to_payload(op);
            assert_valid(&payload);
            assert_envelope_matches(&r.to_envelope(op), &payload);
        }
    }
}

#[test]
fn validator_catches_invalid_messages() {
    // Unqualified children are wrong (PROTOCOL §2.2): the helper must say so.
    let bad = r#"<aut:CreateAuthReq xmlns:aut="http://authservice.xsd.wsdl.auth.a2f.sts.sanita.finanze.it"><userId>X</userId></aut:CreateAuthReq>"#;
    assert!(xmllint_a2f(bad).is_err());
    // And a request that skipped validation (33-char token) is refused by the XSD too.
    let mut req = TokenRequest {
        user_id: None,
        identificativo: None,
        cf_utente: None,
        token: SessionCode::new("too-short"),
        contesto: None,
        applicazione: None,
        opzioni: Vec::new(),
        info_aggiuntive: Vec::new(),
    };
    assert!(req.validate().is_err());
    assert!(xmllint_a2f(&req.to_payload(Operation::CheckToken)).is_err());
    req.token = SessionCode::new(CODE);
    assert!(xmllint_a2f(&req.to_payload(Operation::CheckToken)).is_ok());
}
