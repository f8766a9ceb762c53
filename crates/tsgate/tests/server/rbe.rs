//! A class-C prescription (ricetta bianca elettronica, RBE) sent by unchanged practice
//! software through tsgate: forwarded to `rbe_base` with the doctor's code, NRBE issued by
//! the simulator, no 9101; without a code, the same Italian SOAP Fault as a DEM call.

use sistemats::dem::{EncryptedValue, Sensitive};
use sistemats::rbe::{DettaglioRbe, InvioRbeRequest, RbeReceipt, RbeRequest as _, RbeService};

use crate::support::{
    Gateway, GatewayOptions, PATIENT_CF, Sim, SimUser, basic, faultstring, tempdir,
};

/// What a practice program sends: its own envelope, Basic with the doctor's credentials,
/// the (LIKELY) SOAPAction; no `Authorization2F`.
fn invio_body(sim: &Sim, doctor: &SimUser) -> String {
    let cert = &sim.certificate;
    let invio = InvioRbeRequest {
        pin_code: EncryptedValue::new(cert.encrypt(&doctor.pin).unwrap()),
        cf_medico: doctor.cf.clone(),
        cod_regione: Some(doctor.region.clone()),
        cod_asl_ao: Some(doctor.asl.clone()),
        indir_medico: Some("Via Roma 1|65100|Pescara|PE".into()),
        telef_medico: Some("+39|0851234567".into()),
        codice_paziente: EncryptedValue::new(cert.encrypt(PATIENT_CF).unwrap()),
        cogn_nome: Some(Sensitive::new("ROSSI MARIO")),
        data_compilazione: "2026-12-08 09:30:00".into(),
        dettagli: vec![DettaglioRbe::product(
            "033052034",
            "NIMESULIDE 100MG 30 BUSTINE",
            1,
        )],
        ..InvioRbeRequest::default()
    };
    invio.validate().unwrap();
    invio.to_envelope()
}

async fn proxy_rbe_invio(gw: &Gateway, sim: &Sim, doctor: &SimUser) -> (u16, String) {
    let r = gw
        .http
        .post(format!(
            "{}/ts/{}{}",
            gw.base,
            gw.token,
            RbeService::Invio.path()
        ))
        .header("Authorization", basic(doctor))
        .header("Content-Type", "text/xml; charset=UTF-8")
        .header(
            "SOAPAction",
            format!("\"{}\"", RbeService::Invio.soap_action()),
        )
        .body(invio_body(sim, doctor))
        .send()
        .await
        .expect("proxy call");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn class_c_prescription_gets_its_nrbe_through_the_proxy() {
    let dir = tempdir();
    let sim = Sim::start(dir.path()).await;
    let options = GatewayOptions {
        extra_toml: Some(format!("rbe_base = \"{}/\"\n", sim.base)),
        ..GatewayOptions::default()
    };
    let gw = Gateway::start(dir.path(), &sim, options).await;
    let doctor = sim.doctor();
    let user = doctor.user_id.as_str();

    // No code: refused at once in Italian, like a DEM call, and nothing reaches Sistema TS.
    let (status, body) = proxy_rbe_invio(&gw, &sim, &doctor).await;
    assert_eq!(status, 500, "{body}");
    let fault = faultstring(&body).expect("SOAP Fault");
    assert!(
        fault.contains("Nessun ID-SESSIONE valido") && fault.contains("richiedi il codice"),
        "{fault}"
    );
    assert_eq!(sim.operations("InvioPrescrittoRicettaBianca").await, 0);

    // With a code: the simulator (enforcement "block") issues an NRBE only when the proxy
    // added a valid Authorization2F.
    let code = gw.make_active(&sim, user).await;
    let (status, body) = proxy_rbe_invio(&gw, &sim, &doctor).await;
    assert_eq!(status, 200, "{body}");
    let receipt = RbeReceipt::parse(RbeService::Invio, body.as_bytes()).expect("an RBE receipt");
    assert_eq!(receipt.cod_esito, "0000", "{receipt:?}");
    assert!(!receipt.second_factor_problem());
    assert_eq!(receipt.nrbe().expect("an NRBE").as_str().len(), 12);
    let stats = sim.stats().await;
    assert_eq!(stats["warnings_9101"], 0, "{stats}");
    assert_eq!(stats["rbe_prescriptions_stored"], 1, "{stats}");
    assert_eq!(
        stats["operations"]["InvioPrescrittoRicettaBianca"], 1,
        "{stats}"
    );

    // Neither the code nor the patient's fiscal code is in the server's output.
    let logs = gw.logs();
    assert!(!logs.contains(&code), "the code leaked into the logs");
    assert!(
        !logs.contains(PATIENT_CF),
        "the patient leaked into the logs"
    );
}
