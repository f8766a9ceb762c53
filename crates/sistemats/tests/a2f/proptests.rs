//! Property tests: build → parse round trips, and parsers that never panic.

use proptest::prelude::*;
use sistemats::SessionCode;
use sistemats::a2f::{
    Comunicazione, CreateRequest, Errore, Identifier, InfoToken, KeyValue, Operation, Response,
    TokenRequest,
};
use sistemats::soap::{self, Body};
use time::OffsetDateTime;

/// Text without surrounding spaces, with XML metacharacters and accents.
fn text(min: usize, max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[A-Za-z0-9àèé.,'&<>\"_/-]{{{min},{max}}}")).unwrap()
}

fn opt_text(min: usize, max: usize) -> impl Strategy<Value = Option<String>> {
    proptest::option::of(text(min, max))
}

fn key_values(max: usize) -> impl Strategy<Value = Vec<KeyValue>> {
    proptest::collection::vec(
        (text(0, 40), text(0, 40)).prop_map(|(k, v)| KeyValue::new(k, v)),
        0..=max,
    )
}

fn identifier() -> impl Strategy<Value = Option<Identifier>> {
    proptest::option::of(
        (text(1, 2), text(0, 256)).prop_map(|(kind, value)| Identifier { kind, value }),
    )
}

prop_compose! {
    fn create_request()(
        user_id in opt_text(0, 16),
        identificativo in identifier(),
        cf_utente in opt_text(16, 16),
        cod_regione in opt_text(3, 3),
        cod_asl_ao in opt_text(3, 3),
        cod_ssa in opt_text(5, 6),
        codice_struttura in opt_text(0, 10),
        contesto in opt_text(1, 30),
        applicazione in opt_text(0, 30),
        opzioni in key_values(10),
        info_aggiuntive in key_values(10),
    ) -> CreateRequest {
        CreateRequest {
            user_id, identificativo, cf_utente, cod_regione, cod_asl_ao, cod_ssa,
            codice_struttura, contesto, applicazione, opzioni, info_aggiuntive,
        }
    }
}

prop_compose! {
    fn token_request()(
        user_id in opt_text(0, 16),
        identificativo in identifier(),
        cf_utente in opt_text(16, 16),
        token in text(36, 36),
        contesto in opt_text(1, 30),
        applicazione in opt_text(0, 30),
        opzioni in key_values(10),
        info_aggiuntive in key_values(10),
    ) -> TokenRequest {
        TokenRequest {
            user_id, identificativo, cf_utente, token: SessionCode::new(token), contesto,
            applicazione, opzioni, info_aggiuntive,
        }
    }
}

/// Instants between 2000 and 2100, whole milliseconds (the wire precision).
fn instant() -> impl Strategy<Value = OffsetDateTime> {
    (946_684_800_000i64..4_102_444_800_000i64).prop_map(|ms| {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap()
    })
}

prop_compose! {
    fn response(with_token: bool)(
        cod_esito in "[0-9]{1,4}",
        errori in proptest::collection::vec(
            (proptest::option::of("[WEF]"), "[0-9]{1,4}", opt_text(0, 60)).prop_map(|(t, c, d)| Errore {
                tipo_errore: t, cod_esito: c, descr_esito: d,
            }), 0..4),
        info_token in proptest::option::of((any::<i32>(), text(0, 30), instant(), instant()).prop_map(|(s, d, a, b)| InfoToken {
            stato: s, descrizione: d, data_inizio_validita: a, data_fine_validita: b,
        })),
        info in key_values(1),
        comunicazioni in proptest::collection::vec((text(0, 30), text(0, 60)).prop_map(|(c, m)| Comunicazione::new(c, m)), 0..5),
    ) -> Response {
        Response {
            cod_esito, errori,
            info_token: if with_token { info_token } else { None },
            info, comunicazioni,
        }
    }
}

fn payload(envelope: &str) -> sistemats::xml::Element {
    match soap::parse(envelope.as_bytes()).unwrap() {
        Body::Payload(p) => p,
        Body::Fault(f) => panic!("{f:?}"),
    }
}

proptest! {
    #[test]
    fn create_request_round_trip(req in create_request()) {
        prop_assert!(req.validate().is_ok());
        let read = CreateRequest::from_payload(&payload(&req.to_envelope())).unwrap();
        prop_assert_eq!(read, req);
    }

    #[test]
    fn token_request_round_trip(req in token_request(), revoke in any::<bool>()) {
        prop_assert!(req.validate().is_ok());
        let op = if revoke { Operation::Revoke } else { Operation::CheckToken };
        let (read_op, read) = TokenRequest::from_payload(&payload(&req.to_envelope(op))).unwrap();
        prop_assert_eq!(read_op, op);
        prop_assert_eq!(read, req);
    }

    #[test]
    fn check_token_response_round_trip(r in response(true)) {
        let parsed = Response::parse(Operation::CheckToken, r.to_envelope(Operation::CheckToken).as_bytes()).unwrap();
        prop_assert_eq!(parsed, r);
    }

    #[test]
    fn create_and_revoke_response_round_trip(r in response(false), create in any::<bool>()) {
        let op = if create { Operation::Create } else { Operation::Revoke };
        let parsed = Response::parse(op, r.to_envelope(op).as_bytes()).unwrap();
        // Outcomes never panic either.
        let _ = (parsed.create_outcome(), parsed.token_status(), parsed.revoke_outcome());
        prop_assert_eq!(parsed, r);
    }

    #[test]
    fn parsers_never_panic_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        for op in Operation::ALL {
            let _ = Response::parse(op, &bytes);
        }
        if let Ok(root) = sistemats::xml::parse(&bytes) {
            let _ = CreateRequest::from_payload(&root);
            let _ = TokenRequest::from_payload(&root);
        }
    }

    #[test]
    fn parsers_never_panic_on_mutated_messages(r in response(true), cut in any::<prop::sample::Index>(), insert in "[<>/&a-z:=\" ]{0,8}") {
        let env = r.to_envelope(Operation::CheckToken);
        let mut at = cut.index(env.len());
        while !env.is_char_boundary(at) { at -= 1; }
        let mutated = format!("{}{}{}", &env[..at], insert, &env[at..]);
        if let Ok(parsed) = Response::parse(Operation::CheckToken, mutated.as_bytes()) {
            let _ = parsed.token_status();
        }
        if let Ok(Body::Payload(p)) = soap::parse(mutated.as_bytes()) {
            let _ = CreateRequest::from_payload(&p);
            let _ = TokenRequest::from_payload(&p);
        }
    }

    #[test]
    fn parsers_never_panic_on_strings(s in "\\PC{0,300}") {
        for op in Operation::ALL {
            let _ = Response::parse(op, s.as_bytes());
        }
    }
}
