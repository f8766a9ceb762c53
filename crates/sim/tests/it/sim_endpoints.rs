use crate::common::*;
use tsgate_sim::SimConfig;

#[tokio::test]
async fn users_and_certificate() {
    let env = Env::new(SimConfig::default()).await;
    assert_eq!(env.users.len(), 5);
    let roles: Vec<&str> = env
        .users
        .iter()
        .map(|u| u["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["titolare", "sostituto", "farmacia", "titolare", "farmacia"]
    );
    let pharmacy = env.user("UV386Q5B");
    assert_eq!(pharmacy["cf"], "BBTMRZ54L19H501T");
    assert_eq!(pharmacy["asl"], "204");
    assert_eq!(pharmacy["ssa"], "78909");
    assert!(env.user(NO_MAIL)["email"].is_null());
    for key in [
        "user_id",
        "cf",
        "password",
        "pin",
        "region",
        "asl",
        "ssa",
        "specialization",
        "role",
        "email",
    ] {
        assert!(env.user(TITOLARE).get(key).is_some(), "{key}");
    }
    // Encrypting with the published certificate round-trips through the simulator's key.
    let ct = env.enc("1234567890");
    assert_eq!(ct.len(), 172);
    assert_eq!(
        env.sim.sim.keys.decrypt_b64(&ct).as_deref(),
        Some("1234567890")
    );
}

async fn create_prod(env: &Env) -> Reply {
    crate::a2f::create(env, TITOLARE).await
}

#[tokio::test]
async fn faults_and_stats() {
    let env = Env::test_mode().await;
    for kind in ["http500", "soap_fault", "malformed", "reset"] {
        env.control(
            serde_json::json!({"fault": {"operation": "create", "kind": kind, "count": 1}}),
        )
        .await;
        let body = crate::a2f::create_body(&env, crate::a2f::CreateArgs::new(TITOLARE));
        let password = env.field(TITOLARE, "password");
        let result = env
            .post_raw(
                A2F_PATH,
                &a2f_action("create"),
                Some((TITOLARE, &password)),
                None,
                body,
            )
            .await;
        match kind {
            "http500" => {
                let r = result.unwrap();
                assert_eq!(r.status, 500);
                assert!(
                    r.headers["content-type"]
                        .to_str()
                        .unwrap()
                        .starts_with("text/html")
                );
            }
            "soap_fault" => {
                let r = result.unwrap();
                assert_eq!(r.status, 500);
                assert_eq!(r.fault().code, "soapenv:Server");
            }
            "malformed" => {
                let r = result.unwrap();
                assert_eq!(r.status, 200);
                assert!(sistemats::xml::parse(r.text.as_bytes()).is_err());
            }
            _ => assert!(result.is_err(), "reset must break the connection"),
        }
        // The next call is normal again.
        assert_eq!(create_prod(&env).await.value("codEsito"), "0");
    }
    env.control(serde_json::json!({"fault": {"operation": "InvioPrescritto", "kind": "slow", "count": 1, "delay_ms": 50}}))
        .await;
    crate::dem::invio_ok(
        &env,
        TITOLARE,
        Some(&crate::a2f::new_code(&env, TITOLARE).await),
    )
    .await;
    let stats = env.get_json("/sim/stats").await;
    assert_eq!(stats["faults_injected"], 5);
    assert_eq!(stats["operations"]["create"], 9);
    assert_eq!(stats["operations"]["InvioPrescritto"], 1);
    assert_eq!(stats["creates_by_user"][TITOLARE], 5);
    // Unknown operation in a fault → 400.
    let response = env
        .http
        .post(env.url("/sim/control"))
        .body(serde_json::json!({"fault": {"operation": "nope", "kind": "reset"}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn maildir_inbox_and_junk() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new(SimConfig {
        maildir: Some(dir.path().to_path_buf()),
        ..SimConfig::default()
    })
    .await;
    assert_eq!(create_prod(&env).await.value("codEsito"), "0");
    let mailbox = dir.path().join("provax00x00x000y@medici.sim.tsgate.test");
    let inbox: Vec<_> = std::fs::read_dir(mailbox.join("new")).unwrap().collect();
    assert_eq!(inbox.len(), 1);
    let message = std::fs::read_to_string(inbox[0].as_ref().unwrap().path()).unwrap();
    assert!(message.contains("Subject: Sistema TS - ID-SESSIONE"));
    assert!(message.contains("To: provax00x00x000y@medici.sim.tsgate.test"));
    assert!(mailbox.join("cur").is_dir() && mailbox.join("tmp").is_dir());

    let settings = env
        .control(serde_json::json!({"mail_folder": "Junk"}))
        .await;
    assert_eq!(settings["mail_folder"], "Junk");
    assert_eq!(create_prod(&env).await.value("codEsito"), "0");
    let junk: Vec<_> = std::fs::read_dir(mailbox.join(".Junk/new"))
        .unwrap()
        .collect();
    assert_eq!(junk.len(), 1);
    assert_eq!(std::fs::read_dir(mailbox.join("new")).unwrap().count(), 1);
}

#[tokio::test]
async fn image_code_format() {
    let env = Env::new(SimConfig::default()).await;
    env.control(serde_json::json!({"code_format": "image"}))
        .await;
    assert_eq!(create_prod(&env).await.value("codEsito"), "0");
    let outbox = env.get_json("/sim/outbox.json").await;
    let mail = &outbox[0];
    let text = mail["body_text"].as_str().unwrap();
    assert!(
        !text.contains("ID-SESSIONE: "),
        "the code must not be in the text"
    );
    assert!(text.contains("immagine"));
    use base64::Engine as _;
    let png_bytes = base64::engine::general_purpose::STANDARD
        .decode(mail["images"][0].as_str().unwrap())
        .unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let reader = decoder.read_info().unwrap();
    let info = reader.info();
    assert!(
        info.width > 600 && info.height > 60,
        "{}x{}",
        info.width,
        info.height
    );
    let html = env.get_text("/sim/outbox").await;
    assert!(html.contains("data:image/png;base64,"));
}
