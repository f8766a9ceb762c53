//! The doctor prescribes through tsgate's proxy and the pharmacy dispenses the same
//! prescription through it, each with its own ID-SESSIONE (PRESCRITTORE for the doctor,
//! EROGATORE for the pharmacy, PROTOCOL.md §2.7): unchanged practice and pharmacy software,
//! every dispenser service through the proxy, the simulator on enforcement "block", no 9101.

use serde_json::Value;
use sistemats::dem::{EncryptedValue, Nre, format_data_ora};
use sistemats::erogatore::{
    AnnullaErogatoReceipt, AnnullaErogatoRequest, DettaglioPrescrizioneInvioErogato, Erogatore,
    ErogatoreReceipt, ErogatoreRequest, InvioErogatoReceipt, InvioErogatoRequest,
    SospendiErogatoReceipt, SospendiErogatoRequest, Testata, TipoOperazioneInvio,
    TipoOperazioneSospendi, TipoOperazioneVisualizza, VisualizzaErogatoReceipt,
    VisualizzaErogatoRequest,
};
use sistemats::soap::{self, Body};

use crate::support::{Gateway, GatewayOptions, PATIENT_CF, Sim, cli, faultstring, nre_of, tempdir};

/// The simulator's pharmacy, as `/sim/users` lists it.
struct Pharmacy {
    user_id: String,
    cf: String,
    password: String,
    pin: String,
    region: String,
    asl: String,
    ssa: String,
}

async fn pharmacy_of(sim: &Sim) -> Pharmacy {
    let list: Value = sim
        .http
        .get(format!("{}/sim/users", sim.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let p = list
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["role"] == "farmacia")
        .expect("the simulator has a pharmacy");
    let s = |k: &str| p[k].as_str().unwrap_or_default().to_owned();
    Pharmacy {
        user_id: s("user_id"),
        cf: s("cf"),
        password: s("password"),
        pin: s("pin"),
        region: s("region"),
        asl: s("asl"),
        ssa: s("ssa"),
    }
}

/// Sends what the pharmacy software sends (its own envelope, Basic with the pharmacy's
/// credentials, the official SOAPAction, no `Authorization2F`) through a counter's proxy.
async fn through_counter<Q: ErogatoreRequest>(
    counter: &Gateway,
    pharmacy: &Pharmacy,
    request: &Q,
) -> (u16, String) {
    request.validate().expect("a valid request");
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{}:{}", pharmacy.user_id, pharmacy.password),
    );
    let r = counter
        .http
        .post(format!(
            "{}/ts/{}{}",
            counter.base,
            counter.token,
            Q::SERVICE.path()
        ))
        .header("Authorization", format!("Basic {basic}"))
        .header("Content-Type", "text/xml; charset=UTF-8")
        .header("SOAPAction", format!("\"{}\"", Q::SERVICE.soap_action()))
        .body(request.to_envelope())
        .send()
        .await
        .expect("proxy call");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

fn receipt<R: ErogatoreReceipt>(body: &str) -> R {
    match soap::parse(body.as_bytes()) {
        Ok(Body::Payload(payload)) => R::from_payload(&payload).expect("a dispenser receipt"),
        other => panic!("not a receipt: {other:?}\n{body}"),
    }
}

fn now_in_rome() -> time::PrimitiveDateTime {
    // Winter (December) in Rome: UTC+1; the simulator only checks the format.
    let t = time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+1));
    time::PrimitiveDateTime::new(t.date(), t.time())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prescription_made_at_the_practice_is_dispensed_at_the_pharmacy() {
    let dir = tempdir();
    let sim = Sim::start(dir.path()).await;
    let gw = Gateway::start(dir.path(), &sim, GatewayOptions::default()).await;
    let doctor = sim.doctor();
    let pharmacy = pharmacy_of(&sim).await;

    // The pharmacy and one counter, set up as its IT person would.
    let out = cli(
        &gw.config,
        &[
            "user",
            "add",
            "--id",
            &pharmacy.user_id,
            "--cf",
            &pharmacy.cf,
            "--region",
            &pharmacy.region,
            "--asl",
            &pharmacy.asl,
            "--ssa",
            &pharmacy.ssa,
            "--role",
            "farmacia",
            "--name",
            "Farmacia Prova",
        ],
        &format!("{}\n{}\n", pharmacy.password, pharmacy.pin),
    );
    assert!(out.status.success(), "user add: {out:?}");
    let out = cli(
        &gw.config,
        &[
            "workstation",
            "add",
            "--name",
            "Banco 1",
            "--role",
            "doctor",
            "--users",
            &pharmacy.user_id,
        ],
        "",
    );
    assert!(out.status.success(), "workstation add: {out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut counter = gw.clone_client();
    counter.token = stdout
        .lines()
        .find_map(|l| l.split_once("token (shown only now").map(|(_, t)| t))
        .and_then(|t| t.rsplit(' ').next())
        .expect("token printed")
        .trim()
        .to_owned();

    // The doctor prescribes through the practice's proxy with his own code.
    let doctor_code = gw.make_active(&sim, &doctor.user_id).await;
    let (status, body) = gw.proxy_invio(&sim, &doctor).await;
    assert_eq!(status, 200, "{body}");
    let nre = Nre::parse(&nre_of(&body).expect("an NRE")).expect("a valid NRE");

    // The pharmacy without a code yet: an Italian SOAP Fault, nothing reaches Sistema TS.
    let cert = &sim.certificate;
    let testata = || {
        let mut t = Testata::new(
            EncryptedValue::new(cert.encrypt(&pharmacy.pin).unwrap()),
            Erogatore::new(&pharmacy.region, &pharmacy.asl, &pharmacy.ssa),
            &nre,
        );
        t.cf_assistito = Some(EncryptedValue::new(cert.encrypt(PATIENT_CF).unwrap()));
        t
    };
    let presa = VisualizzaErogatoRequest::new(testata(), TipoOperazioneVisualizza::PresaInCarico);
    let (status, body) = through_counter(&counter, &pharmacy, &presa).await;
    assert_eq!(status, 500, "{body}");
    let fault = faultstring(&body).expect("SOAP Fault");
    assert!(fault.contains("Nessun ID-SESSIONE valido"), "{fault}");
    assert_eq!(sim.operations("VisualizzaErogato").await, 0);

    // Its own code (EROGATORE), requested and activated at the counter.
    let pharmacy_code = counter.make_active(&sim, &pharmacy.user_id).await;
    assert_ne!(pharmacy_code, doctor_code, "one code each");
    let session = counter.session(&pharmacy.user_id).await;
    assert_eq!(session["application"], "EROGATORE", "{session}");

    // Presa in carico, then the dispensing, through the counter's proxy.
    let (status, body) = through_counter(&counter, &pharmacy, &presa).await;
    assert_eq!(status, 200, "{body}");
    let taken: VisualizzaErogatoReceipt = receipt(&body);
    assert!(taken.outcome().is_accepted(), "{:?}", taken.outcome());
    assert!(!taken.second_factor_problem());
    // The patient comes back later: suspended, then taken up again.
    for tipo in [
        TipoOperazioneSospendi::InizioSospensione,
        TipoOperazioneSospendi::RevocaSospensione,
    ] {
        let sospendi = SospendiErogatoRequest::new(testata(), tipo);
        let (status, body) = through_counter(&counter, &pharmacy, &sospendi).await;
        assert_eq!(status, 200, "{body}");
        let suspended: SospendiErogatoReceipt = receipt(&body);
        assert!(
            suspended.outcome().is_accepted(),
            "{:?}",
            suspended.outcome()
        );
    }
    let line = DettaglioPrescrizioneInvioErogato {
        cod_prod_prest_erog: Some("012345678".into()),
        descr_prod_prest_erog: Some("PARACETAMOLO 500MG 20 CPR".into()),
        prezzo: Some("3.50".into()),
        quantita_erogata: Some("1".into()),
        data_ini_erog: Some(format_data_ora(now_in_rome())),
        data_fine_erog: Some(format_data_ora(now_in_rome())),
        ..Default::default()
    };
    let invio = InvioErogatoRequest::new(
        testata(),
        TipoOperazioneInvio::ErogazioneTotale,
        now_in_rome(),
        vec![line],
    );
    let (status, body) = through_counter(&counter, &pharmacy, &invio).await;
    assert_eq!(status, 200, "{body}");
    let dispensed: InvioErogatoReceipt = receipt(&body);
    assert!(
        dispensed.outcome().is_accepted(),
        "{:?}",
        dispensed.outcome()
    );
    assert!(dispensed.cod_autenticazione.is_some(), "{dispensed:?}");
    // A wrong box was handed over: the dispensing is cancelled, through the proxy too.
    let annulla = AnnullaErogatoRequest::new(testata(), "1");
    let (status, body) = through_counter(&counter, &pharmacy, &annulla).await;
    assert_eq!(status, 200, "{body}");
    let cancelled: AnnullaErogatoReceipt = receipt(&body);
    assert!(
        cancelled.outcome().is_accepted(),
        "{:?}",
        cancelled.outcome()
    );

    // Each side used its own code; Sistema TS never warned.
    let stats = sim.stats().await;
    assert_eq!(stats["warnings_9101"], 0, "{stats}");
    for op in [
        "VisualizzaErogato",
        "SospendiErogato",
        "InvioErogato",
        "AnnullaErogato",
    ] {
        assert!(stats["operations"][op].as_u64() >= Some(1), "{op}: {stats}");
    }
    let logs = gw.logs();
    for secret in [&doctor_code, &pharmacy_code, &pharmacy.password] {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret leaked into the logs"
        );
    }
    assert!(
        !logs.contains(PATIENT_CF),
        "the patient leaked into the logs"
    );
}
