//! Requests built and read back; responses in the official manual's layouts.

use sistemats::a2f::{
    A2fErrorKind, Application, CreateOutcome, CreateRequest, Errore, Identifier, InfoToken,
    KeyValue, Operation, Response, RevokeOutcome, Severity, TokenRequest, TokenStatus,
};
use sistemats::error::{Error, ParseError};
use sistemats::soap::{self, Body};
use sistemats::{Pin, SessionCode};
use time::macros::datetime;

use crate::support::{CODE, doctor, pair};

const AUTH: &str = "http://authservice.xsd.wsdl.auth.a2f.sts.sanita.finanze.it";
const DAT: &str = "http://datatype.xsd.wsdl.auth.a2f.sts.sanita.finanze.it";

fn wrap(payload: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>{payload}</soap:Body></soap:Envelope>"#
    )
}

fn payload_of(envelope: &str) -> sistemats::xml::Element {
    match soap::parse(envelope.as_bytes()).unwrap() {
        Body::Payload(p) => p,
        Body::Fault(f) => panic!("fault {f:?}"),
    }
}

#[test]
fn create_request_from_identity() {
    let (cert, key, ..) = pair();
    let pin = Pin::new("1234567890");
    let req = CreateRequest::new(&doctor(), &pin, Application::Prescriber, cert).unwrap();
    let env = req.to_envelope();
    assert!(env.contains("<aut:CreateAuthReq>"));
    assert!(env.contains("<aut:codSsa>000000</aut:codSsa>"));
    assert!(env.contains("<aut:codiceStruttura/>"));
    assert!(env.contains("<aut:contesto>RICETTA-DEM</aut:contesto>"));
    assert!(env.contains("<aut:applicazione>PRESCRITTORE</aut:applicazione>"));
    assert!(env.contains("<dat:tipo>P</dat:tipo>"));
    assert!(!env.contains("1234567890"), "PIN in clear");
    let read = CreateRequest::from_payload(&payload_of(&env)).unwrap();
    assert_eq!(read, req);
    let id = read.identificativo.unwrap();
    assert_eq!(id.value.len(), 172);
    assert_eq!(key.decrypt(&id.value).unwrap(), "1234567890");
}

#[test]
fn token_requests_from_identity() {
    let (cert, ..) = pair();
    let code = SessionCode::new(CODE);
    let req = TokenRequest::new(
        &doctor(),
        &Pin::new("1"),
        &code,
        Application::Dispenser,
        cert,
    )
    .unwrap();
    for op in [Operation::CheckToken, Operation::Revoke] {
        let env = req.to_envelope(op);
        let payload = payload_of(&env);
        assert!(payload.is(AUTH, op.request_root()));
        let (read_op, read) = TokenRequest::from_payload(&payload).unwrap();
        assert_eq!(read_op, op);
        assert_eq!(read, req);
        assert_eq!(read.applicazione.as_deref(), Some("EROGATORE"));
    }
    // The builder refuses the test wildcard: it is not 36 characters.
    let wildcard = SessionCode::new("PROVAX00X00X000Y-2026-03-RICETTA-DEM-PRESCRITTORE");
    let err = TokenRequest::new(
        &doctor(),
        &Pin::new("1"),
        &wildcard,
        Application::Prescriber,
        cert,
    )
    .unwrap_err();
    match err {
        Error::Field(f) => assert_eq!(f.field, "token"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn facets_checked_before_sending_and_named() {
    let (cert, ..) = pair();
    let pin = Pin::new("1234567890");
    type Mutation = Box<dyn Fn(&mut sistemats::a2f::UserIdentity)>;
    let cases: Vec<(&str, Mutation)> = vec![
        ("userId", Box::new(|i| i.user_id = "X".repeat(17))),
        (
            "cfUtente",
            Box::new(|i| i.fiscal_code = "PROVAX00X00X000".into()),
        ),
        ("codRegione", Box::new(|i| i.region = "13".into())),
        ("codAslAo", Box::new(|i| i.asl = "2020".into())),
        ("codSsa", Box::new(|i| i.ssa = "0000".into())),
        (
            "codiceStruttura",
            Box::new(|i| i.structure = "12345678901".into()),
        ),
        (
            "cfUtente",
            Box::new(|i| i.fiscal_code = "PROVAX00X00X00\u{0}Y".into()),
        ),
    ];
    for (field, mutate) in cases {
        let mut identity = doctor();
        mutate(&mut identity);
        match CreateRequest::new(&identity, &pin, Application::Prescriber, cert) {
            Err(Error::Field(f)) => {
                assert_eq!(f.field, field);
                let text = f.to_string();
                assert!(text.contains(field), "{text}");
            }
            other => panic!("{field}: expected a field error, got {other:?}"),
        }
    }
    // codSsa may be omitted (empty SSA) and the structure may be empty.
    let mut identity = doctor();
    identity.ssa.clear();
    let req = CreateRequest::new(&identity, &pin, Application::Prescriber, cert).unwrap();
    assert!(req.cod_ssa.is_none());
    assert!(!req.to_envelope().contains("codSsa"));
    // Options: at most 10.
    let req = CreateRequest {
        opzioni: (0..11)
            .map(|i| KeyValue::new(format!("k{i}"), "v"))
            .collect(),
        ..CreateRequest::default()
    };
    assert_eq!(req.validate().unwrap_err().field, "opzioni");
    let req = CreateRequest {
        identificativo: Some(Identifier {
            kind: "PIN".into(),
            value: String::new(),
        }),
        ..CreateRequest::default()
    };
    assert_eq!(req.validate().unwrap_err().field, "tipo");
}

#[test]
fn from_payload_refuses_wrong_roots() {
    let env = soap::envelope(&[], "<x:CreateAuthReq xmlns:x=\"urn:other\"/>");
    assert!(matches!(
        CreateRequest::from_payload(&payload_of(&env)),
        Err(ParseError::UnexpectedRoot { .. })
    ));
    let env = soap::envelope(&[], &format!("<a:CheckTokenReq xmlns:a=\"{AUTH}\"/>"));
    assert!(matches!(
        TokenRequest::from_payload(&payload_of(&env)),
        Err(ParseError::Missing("token"))
    ));
}

// ---- responses, as in the official manual (ns2 + default namespace) ----

#[test]
fn create_production_sent() {
    let xml = wrap(&format!(
        r#"<ns2:CreateAuthRes xmlns:ns2="{AUTH}" xmlns="{DAT}"><ns2:codEsito>0</ns2:codEsito><ns2:info><chiave>emailStatus</chiave><valore>Email con token inviata con successo all'indirizzo di posta certificato</valore></ns2:info></ns2:CreateAuthRes>"#
    ));
    let r = Response::parse(Operation::Create, xml.as_bytes()).unwrap();
    match r.create_outcome() {
        CreateOutcome::Sent { email_status } => {
            assert!(email_status.unwrap().starts_with("Email con token inviata"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn create_test_environment_issues_code_and_debug_masks_it() {
    let xml = wrap(&format!(
        r#"<ns2:CreateAuthRes xmlns:ns2="{AUTH}" xmlns="{DAT}">
  <ns2:codEsito>0</ns2:codEsito>
  <ns2:info><chiave>emailStatus</chiave><valore>Email con token inviata con successo all'indirizzo di posta certificato</valore></ns2:info>
  <ns2:comunicazioni>
    <comunicazione><codice>token</codice><messaggio>{CODE}</messaggio></comunicazione>
    <comunicazione><codice>working-mode</codice><messaggio>TEST</messaggio></comunicazione>
    <comunicazione><codice>client-ip</codice><messaggio>93.1.2.3</messaggio></comunicazione>
    <comunicazione><codice>execution-time-in-seconds</codice><messaggio>0,190</messaggio></comunicazione>
  </ns2:comunicazioni>
</ns2:CreateAuthRes>"#
    ));
    let r = Response::parse(Operation::Create, xml.as_bytes()).unwrap();
    assert_eq!(r.comunicazioni.len(), 4);
    assert_eq!(r.comunicazione("working-mode"), Some("TEST"));
    let outcome = r.create_outcome();
    assert!(
        !format!("{r:?} {outcome:?}").contains("609a7e232920"),
        "code leaked in Debug"
    );
    match outcome {
        CreateOutcome::Issued { code, email_status } => {
            assert_eq!(code.expose_secret(), CODE);
            assert!(email_status.is_some());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn create_refused_306_and_200() {
    let xml = wrap(&format!(
        r#"<ns2:CreateAuthRes xmlns:ns2="{AUTH}" xmlns="{DAT}"><ns2:codEsito>1</ns2:codEsito><ns2:errori><errore><tipoErrore>E</tipoErrore><codEsito>306</codEsito><descrEsito>Codice fiscale errato. PROVAX00X00X000Y</descrEsito></errore></ns2:errori></ns2:CreateAuthRes>"#
    ));
    match Response::parse(Operation::Create, xml.as_bytes())
        .unwrap()
        .create_outcome()
    {
        CreateOutcome::Refused(e) => {
            assert_eq!(e.kind, A2fErrorKind::WrongFiscalCode);
            assert_eq!(e.severity, Severity::Error);
            assert!(e.message().contains("codice fiscale"));
        }
        other => panic!("{other:?}"),
    }
    let r = Response::failure(Errore::new(
        "200",
        Severity::Error,
        "Nessun contatto email certificato",
    ));
    let parsed = Response::parse(
        Operation::Create,
        r.to_envelope(Operation::Create).as_bytes(),
    )
    .unwrap();
    match parsed.create_outcome() {
        CreateOutcome::Refused(e) => {
            assert_eq!(e.kind, A2fErrorKind::NoCertifiedMail);
            assert!(e.message().contains("Sicurezza"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn check_token_valid_with_millis_and_offset() {
    let xml = wrap(&format!(
        r#"<ns2:CheckTokenRes xmlns:ns2="{AUTH}" xmlns="{DAT}"><ns2:codEsito>0</ns2:codEsito><ns2:infoToken><stato>0</stato><descrizione>Valido</descrizione><dataInizioValidita>2025-05-30T19:51:31.000+02:00</dataInizioValidita><dataFineValidita>2025-05-31T11:51:31.000+02:00</dataFineValidita></ns2:infoToken></ns2:CheckTokenRes>"#
    ));
    match Response::parse(Operation::CheckToken, xml.as_bytes())
        .unwrap()
        .token_status()
    {
        TokenStatus::Valid {
            valid_from,
            valid_until,
        } => {
            assert_eq!(valid_from, datetime!(2025-05-30 17:51:31 UTC));
            assert_eq!(valid_until, datetime!(2025-05-31 09:51:31 UTC));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn check_token_revoked_and_expired() {
    let revoked = wrap(&format!(
        r#"<ns2:CheckTokenRes xmlns:ns2="{AUTH}" xmlns="{DAT}"><ns2:codEsito>1</ns2:codEsito><ns2:errori><errore><tipoErrore>W</tipoErrore><codEsito>06</codEsito><descrEsito>ID-SESSIONE richiesto in consultazione risulta già revocato</descrEsito></errore></ns2:errori><ns2:infoToken><stato>1</stato><descrizione>Revocato</descrizione><dataInizioValidita>2025-05-30T19:51:31+02:00</dataInizioValidita><dataFineValidita>2025-05-31T11:51:31+02:00</dataFineValidita></ns2:infoToken></ns2:CheckTokenRes>"#
    ));
    match Response::parse(Operation::CheckToken, revoked.as_bytes())
        .unwrap()
        .token_status()
    {
        TokenStatus::Revoked { validity } => {
            assert_eq!(validity.unwrap().until, datetime!(2025-05-31 09:51:31 UTC))
        }
        other => panic!("{other:?}"),
    }
    let expired = Response::failure(Errore::new("07", Severity::Warning, "non più valido"))
        .with_info_token(InfoToken {
            stato: 2,
            descrizione: "Scaduto".into(),
            data_inizio_validita: datetime!(2025-05-30 17:51:31 UTC),
            data_fine_validita: datetime!(2025-05-31 09:51:31 UTC),
        });
    let parsed = Response::parse(
        Operation::CheckToken,
        expired.to_envelope(Operation::CheckToken).as_bytes(),
    )
    .unwrap();
    assert_eq!(parsed, expired);
    assert!(matches!(
        parsed.token_status(),
        TokenStatus::Expired { validity: Some(_) }
    ));
    // Warning without tipoErrore and without infoToken.
    let bare = Response {
        errori: vec![Errore {
            tipo_errore: None,
            cod_esito: "06".into(),
            descr_esito: None,
        }],
        ..Response::failure(Errore::new("06", Severity::Warning, ""))
    };
    assert!(matches!(
        bare.token_status(),
        TokenStatus::Revoked { validity: None }
    ));
    // Unknown code.
    let unknown = Response::failure(Errore::new(
        "603",
        Severity::Error,
        "ID-SESSIONE inesistente",
    ));
    match unknown.token_status() {
        TokenStatus::Refused(e) => assert_eq!(e.kind, A2fErrorKind::NoCode),
        other => panic!("{other:?}"),
    }
}

#[test]
fn revoke_ok_and_already_revoked() {
    let ok = wrap(&format!(
        r#"<ns2:RevokeAuthRes xmlns:ns2="{AUTH}" xmlns="{DAT}"><ns2:codEsito>0</ns2:codEsito><ns2:info><chiave>revokeStatus</chiave><valore>Revoca del token eseguita correttamente</valore></ns2:info></ns2:RevokeAuthRes>"#
    ));
    assert_eq!(
        Response::parse(Operation::Revoke, ok.as_bytes())
            .unwrap()
            .revoke_outcome(),
        RevokeOutcome::Revoked
    );
    let again = wrap(&format!(
        r#"<ns2:RevokeAuthRes xmlns:ns2="{AUTH}" xmlns="{DAT}"><ns2:codEsito>1</ns2:codEsito><ns2:errori><errore><tipoErrore>W</tipoErrore><codEsito>05</codEsito><descrEsito>ID-SESSIONE da revocare risulta già revocato.</descrEsito></errore></ns2:errori><ns2:info><chiave>lastRevokePreviousDate</chiave><valore>30/05/2025 20:51:07</valore></ns2:info></ns2:RevokeAuthRes>"#
    ));
    assert_eq!(
        Response::parse(Operation::Revoke, again.as_bytes())
            .unwrap()
            .revoke_outcome(),
        RevokeOutcome::AlreadyRevoked {
            at: Some(datetime!(2025-05-30 18:51:07 UTC))
        }
    );
    let refused = Response::failure(Errore::new("602", Severity::Error, "utente diverso"));
    match refused.revoke_outcome() {
        RevokeOutcome::Refused(e) => assert_eq!(e.kind, A2fErrorKind::UserMismatch),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unprefixed_and_other_prefixes_are_read() {
    // No namespaces at all (third-party examples).
    let bare = wrap(
        "<CheckTokenRes><codEsito>0</codEsito><infoToken><stato>0</stato><descrizione>Valido</descrizione><dataInizioValidita>2025-05-30T19:51:31</dataInizioValidita><dataFineValidita>2025-05-31T11:51:31</dataFineValidita></infoToken></CheckTokenRes>",
    );
    match Response::parse(Operation::CheckToken, bare.as_bytes())
        .unwrap()
        .token_status()
    {
        // Without offset: Italian summer time.
        TokenStatus::Valid { valid_until, .. } => {
            assert_eq!(valid_until, datetime!(2025-05-31 09:51:31 UTC))
        }
        other => panic!("{other:?}"),
    }
    // Everything prefixed, different prefixes.
    let prefixed = wrap(&format!(
        r#"<a:RevokeAuthRes xmlns:a="{AUTH}" xmlns:d="{DAT}"><a:codEsito>0</a:codEsito><a:info><d:chiave>revokeStatus</d:chiave><d:valore>ok</d:valore></a:info></a:RevokeAuthRes>"#
    ));
    let r = Response::parse(Operation::Revoke, prefixed.as_bytes()).unwrap();
    assert_eq!(r.info_value("revokeStatus"), Some("ok"));
}

#[test]
fn response_errors() {
    let wrong_root = wrap(&format!(
        r#"<a:CreateAuthRes xmlns:a="{AUTH}"><a:codEsito>0</a:codEsito></a:CreateAuthRes>"#
    ));
    assert!(matches!(
        Response::parse(Operation::Revoke, wrong_root.as_bytes()),
        Err(ParseError::UnexpectedRoot { .. })
    ));
    let no_code = wrap(&format!(r#"<a:CreateAuthRes xmlns:a="{AUTH}"/>"#));
    assert!(matches!(
        Response::parse(Operation::Create, no_code.as_bytes()),
        Err(ParseError::Missing("codEsito"))
    ));
    let bad_date = wrap(&format!(
        r#"<a:CheckTokenRes xmlns:a="{AUTH}"><a:codEsito>0</a:codEsito><a:infoToken><stato>0</stato><descrizione>x</descrizione><dataInizioValidita>ieri</dataInizioValidita><dataFineValidita>oggi</dataFineValidita></a:infoToken></a:CheckTokenRes>"#
    ));
    assert!(matches!(
        Response::parse(Operation::CheckToken, bad_date.as_bytes()),
        Err(ParseError::Invalid {
            field: "dataInizioValidita",
            ..
        })
    ));
    let fault = sistemats::soap::Fault::client("Errore generico di autenticazione").to_envelope();
    assert!(matches!(
        Response::parse(Operation::Create, fault.as_bytes()),
        Err(ParseError::Fault(_))
    ));
    assert!(Response::parse(Operation::Create, b"garbage").is_err());
}

#[test]
fn response_serialized_exactly_as_production() {
    let r = Response::success().with_info_token(InfoToken {
        stato: 0,
        descrizione: "Valido".into(),
        data_inizio_validita: datetime!(2025-05-30 17:51:31 UTC),
        data_fine_validita: datetime!(2025-05-31 09:51:31 UTC),
    });
    let payload = r.to_payload(Operation::CheckToken);
    assert_eq!(
        payload,
        format!(
            r#"<ns2:CheckTokenRes xmlns:ns2="{AUTH}" xmlns="{DAT}"><ns2:codEsito>0</ns2:codEsito><ns2:infoToken><stato>0</stato><descrizione>Valido</descrizione><dataInizioValidita>2025-05-30T19:51:31.000+02:00</dataInizioValidita><dataFineValidita>2025-05-31T11:51:31.000+02:00</dataFineValidita></ns2:infoToken></ns2:CheckTokenRes>"#
        )
    );
    // infoToken is not part of create/revoke responses.
    assert!(!r.to_payload(Operation::Create).contains("infoToken"));
    // Winter dates get +01:00.
    let w = Response::success().with_info_token(InfoToken {
        stato: 0,
        descrizione: "Valido".into(),
        data_inizio_validita: datetime!(2025-12-01 08:00:00 UTC),
        data_fine_validita: datetime!(2025-12-02 00:00:00 UTC),
    });
    assert!(
        w.to_payload(Operation::CheckToken)
            .contains("2025-12-01T09:00:00.000+01:00")
    );
}
