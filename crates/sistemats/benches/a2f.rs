//! A2F codec benchmarks: build and parse each message, and the SanitelCF encryption.
//!
//! Run with `cargo bench -p sistemats --bench a2f`.

use std::sync::LazyLock;

use sistemats::a2f::{
    Application, CreateRequest, Errore, InfoToken, Operation, Response, Severity, TokenRequest,
    UserIdentity,
};
use sistemats::sanitel::{SanitelCertificate, generate_test_pair};
use sistemats::soap::{self, Body};
use sistemats::{Pin, SessionCode};
use time::macros::datetime;

fn main() {
    divan::main();
}

static CERT: LazyLock<SanitelCertificate> = LazyLock::new(|| {
    let (pem, _) = generate_test_pair("bench").expect("pair");
    SanitelCertificate::from_pem(&pem).expect("cert")
});

fn identity() -> UserIdentity {
    UserIdentity::new("PROVAX00X00X000Y", "PROVAX00X00X000Y", "130", "202")
}

static CREATE: LazyLock<CreateRequest> = LazyLock::new(|| {
    CreateRequest::new(
        &identity(),
        &Pin::new("1234567890"),
        Application::Prescriber,
        &CERT,
    )
    .unwrap()
});
static TOKEN: LazyLock<TokenRequest> = LazyLock::new(|| {
    TokenRequest::new(
        &identity(),
        &Pin::new("1234567890"),
        &SessionCode::new("1f6a0702-2cfc-4903-8cfc-609a7e232920"),
        Application::Prescriber,
        &CERT,
    )
    .unwrap()
});

fn create_response() -> Response {
    Response::success()
        .with_info(
            "emailStatus",
            "Email con token inviata con successo all'indirizzo di posta certificato",
        )
        .with_comunicazione("token", "1f6a0702-2cfc-4903-8cfc-609a7e232920")
        .with_comunicazione("working-mode", "TEST")
        .with_comunicazione("client-ip", "93.1.2.3")
        .with_comunicazione("execution-time-in-seconds", "0,190")
}

fn check_response() -> Response {
    Response::success().with_info_token(InfoToken {
        stato: 0,
        descrizione: "Valido".into(),
        data_inizio_validita: datetime!(2025-05-30 17:51:31 UTC),
        data_fine_validita: datetime!(2025-05-31 09:51:31 UTC),
    })
}

fn revoke_response() -> Response {
    Response::failure(Errore::new(
        "05",
        Severity::Warning,
        "ID-SESSIONE da revocare risulta già revocato.",
    ))
    .with_info("lastRevokePreviousDate", "30/05/2025 20:51:07")
}

#[divan::bench]
fn encrypt_pin() -> String {
    CERT.encrypt(divan::black_box("1234567890")).unwrap()
}

#[divan::bench]
fn build_create_request() -> String {
    let req = divan::black_box(&*CREATE);
    req.validate().unwrap();
    req.to_envelope()
}

#[divan::bench]
fn build_check_token_request() -> String {
    let req = divan::black_box(&*TOKEN);
    req.validate().unwrap();
    req.to_envelope(Operation::CheckToken)
}

#[divan::bench]
fn parse_create_request(bencher: divan::Bencher) {
    let env = CREATE.to_envelope();
    bencher.bench(
        || match soap::parse(divan::black_box(env.as_bytes())).unwrap() {
            Body::Payload(p) => CreateRequest::from_payload(&p).unwrap(),
            Body::Fault(_) => unreachable!(),
        },
    );
}

#[divan::bench]
fn parse_revoke_request(bencher: divan::Bencher) {
    let env = TOKEN.to_envelope(Operation::Revoke);
    bencher.bench(
        || match soap::parse(divan::black_box(env.as_bytes())).unwrap() {
            Body::Payload(p) => TokenRequest::from_payload(&p).unwrap(),
            Body::Fault(_) => unreachable!(),
        },
    );
}

#[divan::bench(args = [Operation::Create, Operation::CheckToken, Operation::Revoke])]
fn build_response(bencher: divan::Bencher, op: Operation) {
    let r = match op {
        Operation::Create => create_response(),
        Operation::CheckToken => check_response(),
        Operation::Revoke => revoke_response(),
    };
    bencher.bench(|| divan::black_box(&r).to_envelope(op));
}

#[divan::bench(args = [Operation::Create, Operation::CheckToken, Operation::Revoke])]
fn parse_response_and_outcome(bencher: divan::Bencher, op: Operation) {
    let env = match op {
        Operation::Create => create_response(),
        Operation::CheckToken => check_response(),
        Operation::Revoke => revoke_response(),
    }
    .to_envelope(op);
    bencher.bench(|| {
        let r = Response::parse(op, divan::black_box(env.as_bytes())).unwrap();
        match op {
            Operation::Create => drop(r.create_outcome()),
            Operation::CheckToken => drop(r.token_status()),
            Operation::Revoke => drop(r.revoke_outcome()),
        }
    });
}
