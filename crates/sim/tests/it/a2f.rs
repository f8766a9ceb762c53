use crate::common::*;
use tsgate_sim::SimConfig;

pub struct CreateArgs<'a> {
    pub user: &'a str,
    pub pin: Option<String>,
    pub cf: Option<String>,
    pub region: Option<&'a str>,
    pub tipo: &'a str,
    pub contesto: Option<&'a str>,
}

impl<'a> CreateArgs<'a> {
    pub fn new(user: &'a str) -> Self {
        Self {
            user,
            pin: None,
            cf: None,
            region: None,
            tipo: "P",
            contesto: Some("RICETTA-DEM"),
        }
    }
}

pub fn create_body(env: &Env, args: CreateArgs<'_>) -> String {
    let pin = args.pin.unwrap_or_else(|| env.field(args.user, "pin"));
    let cf = args.cf.unwrap_or_else(|| env.field(args.user, "cf"));
    let region = args
        .region
        .map(str::to_owned)
        .unwrap_or_else(|| env.field(args.user, "region"));
    let contesto = args
        .contesto
        .map(|c| format!("<aut:contesto>{c}</aut:contesto>"))
        .unwrap_or_default();
    let app = if env.field(args.user, "role") == "farmacia" {
        "EROGATORE"
    } else {
        "PRESCRITTORE"
    };
    let payload = format!(
        "<aut:CreateAuthReq><aut:userId>{user}</aut:userId><aut:identificativo><dat:tipo>{tipo}</dat:tipo>\
         <dat:valore>{pin}</dat:valore></aut:identificativo><aut:cfUtente>{cf}</aut:cfUtente>\
         <aut:codRegione>{region}</aut:codRegione><aut:codAslAo>{asl}</aut:codAslAo><aut:codSsa>{ssa}</aut:codSsa>\
         <aut:codiceStruttura></aut:codiceStruttura>{contesto}<aut:applicazione>{app}</aut:applicazione></aut:CreateAuthReq>",
        user = args.user,
        tipo = args.tipo,
        pin = env.enc(&pin),
        asl = env.field(args.user, "asl"),
        ssa = env.field(args.user, "ssa"),
    );
    envelope(&[("aut", AUT), ("dat", DAT)], &payload)
}

pub fn token_body(env: &Env, op: &str, user: &str, token: &str) -> String {
    let root = if op == "checkToken" {
        "CheckTokenReq"
    } else {
        "RevokeAuthReq"
    };
    let payload = format!(
        "<aut:{root}><aut:userId>{user}</aut:userId><aut:identificativo><dat:tipo>P</dat:tipo>\
         <dat:valore>{pin}</dat:valore></aut:identificativo><aut:cfUtente>{cf}</aut:cfUtente>\
         <aut:token>{token}</aut:token><aut:contesto>RICETTA-DEM</aut:contesto>\
         <aut:applicazione>PRESCRITTORE</aut:applicazione></aut:{root}>",
        pin = env.enc(&env.field(user, "pin")),
        cf = env.field(user, "cf"),
    );
    envelope(&[("aut", AUT), ("dat", DAT)], &payload)
}

pub async fn create(env: &Env, user: &str) -> Reply {
    env.post(
        user,
        A2F_PATH,
        &a2f_action("create"),
        None,
        create_body(env, CreateArgs::new(user)),
    )
    .await
}

/// Creates a code in test mode and returns it (from `comunicazioni`).
pub async fn new_code(env: &Env, user: &str) -> String {
    let reply = create(env, user).await;
    assert_eq!(reply.value("codEsito"), "0", "{}", reply.text);
    token_from(&reply)
}

pub fn token_from(reply: &Reply) -> String {
    let payload = reply.payload();
    let comunicazioni = payload.child(AUT, "comunicazioni").expect("comunicazioni");
    comunicazioni
        .children
        .iter()
        .find(|c| c.child_text(DAT, "codice") == Some("token"))
        .and_then(|c| c.child_text(DAT, "messaggio"))
        .expect("token")
        .to_owned()
}

pub async fn token_op(env: &Env, op: &str, user: &str, token: &str) -> Reply {
    env.post(
        user,
        A2F_PATH,
        &a2f_action(op),
        None,
        token_body(env, op, user, token),
    )
    .await
}

#[tokio::test]
async fn create_in_production_mails_the_code_only() {
    let env = Env::new(SimConfig::default()).await;
    let reply = create(&env, TITOLARE).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["x-backside-transport"], "OK OK");
    assert!(reply.headers.contains_key("x-global-transaction-id"));
    assert!(
        reply.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/xml")
    );
    // Root with the ns2 prefix and the datatype namespace as default, like the MEF examples.
    assert!(reply.text.contains("<ns2:CreateAuthRes"), "{}", reply.text);
    assert_eq!(reply.value("codEsito"), "0");
    assert!(reply.payload().child(AUT, "comunicazioni").is_none());
    assert!(reply.text.contains("Email con token inviata con successo"));
    // The sistemats codec reads it too.
    let parsed =
        sistemats::a2f::Response::parse(sistemats::a2f::Operation::Create, reply.text.as_bytes())
            .expect("sistemats parses the simulator's CreateAuthRes");
    assert!(parsed.is_positive());

    let outbox = env.get_json("/sim/outbox.json").await;
    let mail = &outbox[0];
    assert_eq!(mail["to"], "provax00x00x000y@medici.sim.tsgate.test");
    assert_eq!(mail["subject"], "Sistema TS - ID-SESSIONE");
    let text = mail["body_text"].as_str().unwrap();
    let code = text
        .lines()
        .find_map(|l| l.strip_prefix("ID-SESSIONE: "))
        .expect("code in the mail");
    assert_eq!(code.len(), 36);
    assert!(uuid_v4(code));
    assert!(text.contains("Validità: dal "), "{text}");
    assert!(!reply.text.contains(code));
    // The mailed code is valid.
    let check = token_op(&env, "checkToken", TITOLARE, code).await;
    assert_eq!(check.value("codEsito"), "0", "{}", check.text);
    assert_eq!(check.value("descrizione"), "Valido");
    let stats = env.get_json("/sim/stats").await;
    assert_eq!(stats["creates_by_user"][TITOLARE], 1);
    assert_eq!(stats["operations"]["create"], 1);
    assert_eq!(stats["operations"]["checkToken"], 1);
}

fn uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b[8] == b'-'
        && b[13] == b'-'
        && b[14] == b'4'
        && b[18] == b'-'
        && b[23] == b'-'
}

#[tokio::test]
async fn create_in_test_mode_returns_the_code() {
    let env = Env::test_mode().await;
    let reply = create(&env, TITOLARE).await;
    let token = token_from(&reply);
    assert!(uuid_v4(&token));
    assert!(
        reply
            .text
            .contains("<codice>working-mode</codice><messaggio>TEST</messaggio>")
    );
    assert!(
        reply
            .text
            .contains("<codice>client-ip</codice><messaggio>127.0.0.1</messaggio>")
    );
    assert!(reply.text.contains("execution-time-in-seconds"));
    let check = token_op(&env, "checkToken", TITOLARE, &token).await;
    let from = check.value("dataInizioValidita");
    let until = check.value("dataFineValidita");
    // xs:dateTime with milliseconds and offset, 16 h apart.
    assert_eq!(from.len(), 29, "{from}");
    assert!(from.ends_with(":00") && from.contains('.'));
    let f =
        time::OffsetDateTime::parse(&from, &time::format_description::well_known::Rfc3339).unwrap();
    let u = time::OffsetDateTime::parse(&until, &time::format_description::well_known::Rfc3339)
        .unwrap();
    assert_eq!(u - f, time::Duration::hours(16));
}

#[tokio::test]
async fn check_token_states_and_revoke_twice() {
    let env = Env::test_mode().await;
    let token = new_code(&env, TITOLARE).await;
    // Unknown token → 603; token of another user → 04.
    let unknown = token_op(
        &env,
        "checkToken",
        TITOLARE,
        "00000000-0000-4000-8000-000000000000",
    )
    .await;
    assert_eq!(unknown.value("codEsito"), "1");
    assert_eq!(unknown.error_codes(), ["603"]);
    let other = token_op(&env, "checkToken", SOSTITUTO, &token).await;
    assert_eq!(other.error_codes(), ["04"]);

    let revoke = token_op(&env, "revoke", TITOLARE, &token).await;
    assert_eq!(revoke.value("codEsito"), "0", "{}", revoke.text);
    assert!(revoke.text.contains("revokeStatus"));
    let again = token_op(&env, "revoke", TITOLARE, &token).await;
    assert_eq!(again.value("codEsito"), "1");
    assert_eq!(again.error_codes(), ["05"]);
    let when = again.value("valore");
    assert!(
        when.len() == 19 && when.as_bytes()[2] == b'/' && when.as_bytes()[5] == b'/',
        "{when}"
    );
    assert!(again.text.contains("lastRevokePreviousDate"));
    let check = token_op(&env, "checkToken", TITOLARE, &token).await;
    assert_eq!(check.value("codEsito"), "1");
    assert_eq!(check.error_codes(), ["06"]);
    assert_eq!(check.value("stato"), "1");
    assert_eq!(check.value("descrizione"), "Revocato");

    // Expiry follows the simulated clock.
    let fresh = new_code(&env, TITOLARE).await;
    env.control(serde_json::json!({"advance_clock_seconds": 16 * 3600 + 1}))
        .await;
    let expired = token_op(&env, "checkToken", TITOLARE, &fresh).await;
    assert_eq!(expired.error_codes(), ["07"]);
    assert_eq!(expired.value("stato"), "2");
    assert_eq!(expired.value("descrizione"), "Scaduto");
    let revoke_expired = token_op(&env, "revoke", TITOLARE, &fresh).await;
    assert_eq!(revoke_expired.error_codes(), ["05"]);
}

#[tokio::test]
async fn create_errors() {
    let env = Env::test_mode().await;
    let path = A2F_PATH;
    let action = a2f_action("create");
    let cases: Vec<(CreateArgs<'_>, &str)> = vec![
        (
            CreateArgs {
                pin: Some("0000000000".into()),
                ..CreateArgs::new(TITOLARE)
            },
            "302",
        ),
        (
            CreateArgs {
                cf: Some("RSSMRA80A01H501U".into()),
                ..CreateArgs::new(TITOLARE)
            },
            "306",
        ),
        (
            CreateArgs {
                region: Some("120"),
                ..CreateArgs::new(TITOLARE)
            },
            "307",
        ),
        (
            CreateArgs {
                tipo: "I",
                ..CreateArgs::new(TITOLARE)
            },
            "303",
        ),
        (
            CreateArgs {
                contesto: None,
                ..CreateArgs::new(TITOLARE)
            },
            "12",
        ),
        (
            CreateArgs {
                contesto: Some("RICETTA-BIANCA"),
                ..CreateArgs::new(TITOLARE)
            },
            "9998",
        ),
        (CreateArgs::new(NO_MAIL), "200"),
    ];
    for (args, expected) in cases {
        let user = args.user;
        let reply = env
            .post(user, path, &action, None, create_body(&env, args))
            .await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.value("codEsito"), "1", "{expected}: {}", reply.text);
        assert_eq!(reply.error_codes(), [expected], "{}", reply.text);
    }
    // 306 carries the CF sent.
    let reply = env
        .post(
            TITOLARE,
            path,
            &action,
            None,
            create_body(
                &env,
                CreateArgs {
                    cf: Some("RSSMRA80A01H501U".into()),
                    ..CreateArgs::new(TITOLARE)
                },
            ),
        )
        .await;
    assert!(
        reply
            .text
            .contains("Codice fiscale errato. RSSMRA80A01H501U")
    );
    // userId different from the Basic user → 602.
    let body = create_body(&env, CreateArgs::new(SOSTITUTO));
    let reply = env.post(TITOLARE, path, &action, None, body).await;
    assert_eq!(reply.error_codes(), ["602"]);
    // Ciphertext not made with the simulator's certificate → 700.
    let body = create_body(&env, CreateArgs::new(TITOLARE));
    let valore = body
        .split("<dat:valore>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    let forged = body.replace(&valore, &"A".repeat(172));
    let reply = env.post(TITOLARE, path, &action, None, forged).await;
    assert_eq!(reply.error_codes(), ["700"]);
}

#[tokio::test]
async fn basic_auth_and_schema_faults() {
    let env = Env::test_mode().await;
    let body = create_body(&env, CreateArgs::new(TITOLARE));
    let action = a2f_action("create");
    let wrong = env
        .post_raw(
            A2F_PATH,
            &action,
            Some((TITOLARE, "wrong")),
            None,
            body.clone(),
        )
        .await
        .unwrap();
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.headers["www-authenticate"], "Basic realm=login");
    assert_eq!(wrong.headers["x-backside-transport"], "FAIL FAIL");
    assert_eq!(wrong.fault().string, "Rejected by policy. (from client)");
    let missing = env
        .post_raw(A2F_PATH, &action, None, None, body.clone())
        .await
        .unwrap();
    assert_eq!(missing.status, 401);
    let unknown = env
        .post_raw(
            A2F_PATH,
            &action,
            Some(("NESSUNO", "x")),
            None,
            body.clone(),
        )
        .await
        .unwrap();
    assert_eq!(unknown.status, 500);
    assert_eq!(unknown.fault().string, "Errore generico di autenticazione");

    // codRegione of 4 characters → cvc- fault.
    let invalid = body.replace("<aut:codRegione>130<", "<aut:codRegione>1300<");
    let reply = env.post(TITOLARE, A2F_PATH, &action, None, invalid).await;
    assert_eq!(reply.status, 500);
    let fault = reply.fault();
    assert!(fault.is_schema_error(), "{fault:?}");
    assert!(fault.string.contains("codRegione"));
    assert_eq!(fault.code, "soapenv:Client");
    // Malformed XML → fault too.
    let reply = env
        .post(
            TITOLARE,
            A2F_PATH,
            &action,
            None,
            "<soapenv:Envelope".into(),
        )
        .await;
    assert_eq!(reply.status, 500);
    let _ = reply.fault();
    // Unquoted / unknown SOAPAction → fault.
    let reply = env
        .post(
            TITOLARE,
            A2F_PATH,
            "http://wsdl.auth.a2f.sts.sanita.finanze.it/nope",
            None,
            body,
        )
        .await;
    assert_eq!(reply.status, 500);
}

#[tokio::test]
async fn two_code_rule() {
    let env = Env::test_mode().await;
    let first = new_code(&env, TITOLARE).await;
    crate::dem::invio_ok(&env, TITOLARE, Some(&first)).await; // first becomes Attivo
    let second = new_code(&env, TITOLARE).await;
    // The Validato code does not revoke the Attivo one…
    assert_eq!(
        token_op(&env, "checkToken", TITOLARE, &first)
            .await
            .value("stato"),
        "0"
    );
    // …a further create replaces the unused Validato one…
    let third = new_code(&env, TITOLARE).await;
    assert_eq!(
        token_op(&env, "checkToken", TITOLARE, &second)
            .await
            .value("stato"),
        "1"
    );
    assert_eq!(
        token_op(&env, "checkToken", TITOLARE, &first)
            .await
            .value("stato"),
        "0"
    );
    // …and the first DEM use of the new code revokes the old one.
    crate::dem::invio_ok(&env, TITOLARE, Some(&third)).await;
    assert_eq!(
        token_op(&env, "checkToken", TITOLARE, &first)
            .await
            .value("stato"),
        "1"
    );
    assert_eq!(
        token_op(&env, "checkToken", TITOLARE, &third)
            .await
            .value("stato"),
        "0"
    );
}
