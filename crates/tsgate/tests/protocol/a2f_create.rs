//! A2F `create`: every outcome and every refusal, production and test mode.

use sistemats::Password;
use sistemats::a2f::{A2fErrorKind, CreateOutcome};
use sistemats::client::Credentials;
use sistemats::error::Error;
use tsgate_sim::{Enforcement, Mode};

use crate::support::Harness;

fn refused(outcome: Result<CreateOutcome, Error>) -> sistemats::a2f::A2fError {
    match outcome {
        Ok(CreateOutcome::Refused(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn production_create_sends_the_code_by_mail() {
    let h = Harness::start(Mode::Production, Enforcement::Block).await;
    let user = h.titolare().clone();

    let outcome = h.create(&user).await.expect("create answers");
    assert!(
        matches!(
            outcome,
            CreateOutcome::Sent {
                email_status: Some(_)
            }
        ),
        "production never returns the code: {outcome:?}"
    );

    let mails = h.outbox().await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail["to"], user.email.as_deref().unwrap());
    let body = mail["body_text"].as_str().unwrap();
    let code = h.code_from_outbox(&user).await;
    assert_eq!(code.expose_secret().len(), 36);
    assert!(
        body.contains(code.expose_secret()),
        "the mail carries the code"
    );

    // The validity printed in the mail is the one checkToken reports.
    let sistemats::a2f::TokenStatus::Valid {
        valid_from,
        valid_until,
    } = h.check(&user, &code).await
    else {
        panic!("a new code is valid");
    };
    let it = time::macros::format_description!("[day]/[month]/[year] [hour]:[minute]:[second]");
    let validity = format!(
        "dal {} al {}",
        valid_from.format(&it).unwrap(),
        valid_until.format(&it).unwrap()
    );
    assert!(
        body.contains(&validity),
        "the mail states the validity ({validity})"
    );

    let stats = h.stats().await;
    assert_eq!(stats["creates_by_user"][&user.user_id], 1);
    assert_eq!(stats["mails_sent"], 1);
    h.finish().await;
}

#[tokio::test]
async fn test_mode_create_returns_the_code() {
    let h = Harness::start(Mode::Test, Enforcement::Block).await;
    let user = h.titolare().clone();
    let outcome = h.create(&user).await.expect("create answers");
    let CreateOutcome::Issued { code, .. } = outcome else {
        panic!("test mode returns the code: {outcome:?}");
    };
    assert_eq!(code.expose_secret().len(), 36);
    // The code works: checkToken says it is valid.
    assert!(h.check(&user, &code).await.is_usable());
    h.finish().await;
}

#[tokio::test]
async fn create_refusals_are_typed() {
    let h = Harness::start(Mode::Production, Enforcement::Block).await;
    let titolare = h.titolare().clone();
    let sostituto = h.sostituto().clone();

    // Wrong password: HTTP 401.
    let wrong_password = Credentials::new(
        &titolare.user_id,
        Password::new("Sbagliata.2026"),
        titolare.pin.clone(),
    );
    h.secret("Sbagliata.2026");
    let result = h
        .create_with(&wrong_password, &h.create_request(&titolare))
        .await;
    assert!(matches!(result, Err(Error::PasswordRefused)), "{result:?}");

    // Unknown user: HTTP 500 "Errore generico di autenticazione".
    let unknown = Credentials::new(
        "PROVAX00X00X999Q",
        titolare.password.clone(),
        titolare.pin.clone(),
    );
    let result = h.create_with(&unknown, &h.create_request(&titolare)).await;
    assert!(matches!(result, Err(Error::UnknownUser)), "{result:?}");

    // Wrong PIN: 302.
    let mut wrong_pin = titolare.clone();
    wrong_pin.pin = sistemats::Pin::new("9999999999");
    h.secret("9999999999");
    let e = refused(
        h.create_with(&titolare.credentials(), &h.create_request(&wrong_pin))
            .await,
    );
    assert_eq!((e.kind, e.code.as_str()), (A2fErrorKind::PinInvalid, "302"));
    assert!(e.kind.must_not_retry());

    // Wrong fiscal code: 306.
    let mut wrong_cf = titolare.clone();
    wrong_cf.cf = sostituto.cf.clone();
    let e = refused(
        h.create_with(&titolare.credentials(), &h.create_request(&wrong_cf))
            .await,
    );
    assert_eq!(
        (e.kind, e.code.as_str()),
        (A2fErrorKind::WrongFiscalCode, "306")
    );

    // Region / ASL not the user's: 307.
    let mut wrong_region = titolare.clone();
    wrong_region.region = "120".into();
    let e = refused(
        h.create_with(&titolare.credentials(), &h.create_request(&wrong_region))
            .await,
    );
    assert_eq!(
        (e.kind, e.code.as_str()),
        (A2fErrorKind::WrongRegionAsl, "307")
    );
    let mut wrong_asl = titolare.clone();
    wrong_asl.asl = "999".into();
    let e = refused(
        h.create_with(&titolare.credentials(), &h.create_request(&wrong_asl))
            .await,
    );
    assert_eq!(e.kind, A2fErrorKind::WrongRegionAsl);

    // userId different from the Basic user: 602.
    let e = refused(
        h.create_with(&titolare.credentials(), &h.create_request(&sostituto))
            .await,
    );
    assert_eq!(
        (e.kind, e.code.as_str()),
        (A2fErrorKind::UserMismatch, "602")
    );

    // No code was issued and no mail sent by any of these.
    let stats = h.stats().await;
    assert_eq!(stats["mails_sent"], 0);
    assert!(h.outbox().await.is_empty());
    h.finish().await;
}

#[tokio::test]
async fn user_without_certified_mail_is_told_to_certify_it() {
    let h = Harness::start(Mode::Production, Enforcement::Block).await;
    let user = h.without_mail().clone();
    let e = refused(h.create(&user).await);
    assert_eq!(
        (e.kind, e.code.as_str()),
        (A2fErrorKind::NoCertifiedMail, "200")
    );
    let message = e.message();
    h.record(&e);
    assert!(message.contains("portale"), "says where to go: {message}");
    assert!(message.contains("Certifica mail"), "{message}");
    assert!(h.outbox().await.is_empty());
    h.finish().await;
}

#[tokio::test]
async fn invalid_field_is_refused_before_sending() {
    let h = Harness::start(Mode::Production, Enforcement::Block).await;
    let user = h.titolare().clone();

    // Through the builder: a 15-character fiscal code.
    let mut short_cf = user.identity();
    short_cf.fiscal_code.pop();
    let built = sistemats::a2f::CreateRequest::new(
        &short_cf,
        &user.pin,
        sistemats::a2f::Application::Prescriber,
        &h.cert,
    );
    match &built {
        Err(Error::Field(f)) => assert_eq!(f.field, "cfUtente"),
        other => panic!("expected a field error, got {other:?}"),
    }
    h.record_result(&built);

    // Through the client: a request edited after building is validated again.
    let mut request = h.create_request(&user);
    request.cod_regione = Some("1300".into());
    let result = h.create_with(&user.credentials(), &request).await;
    match &result {
        Err(Error::Field(f)) => {
            assert_eq!(f.field, "codRegione");
            assert!(
                result
                    .as_ref()
                    .unwrap_err()
                    .to_string()
                    .contains("codRegione")
            );
        }
        other => panic!("expected a field error, got {other:?}"),
    }

    assert_eq!(
        h.op_count("create").await,
        0,
        "nothing reached the simulator"
    );
    h.finish().await;
}
