//! DEM codec benchmarks: `cargo bench -p sistemats --bench dem`.

use std::hint::black_box;

use sistemats::dem::*;

fn main() {
    divan::main();
}

const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../spec/real-responses/");

fn real(name: &str) -> Vec<u8> {
    std::fs::read(format!("{SPEC}{name}")).expect("real response")
}

fn invio_request() -> InvioPrescrittoRequest {
    InvioPrescrittoRequest {
        pin_code: EncryptedValue::new("A".repeat(344)),
        cf_medico1: "PROVAX00X00X000Y".into(),
        cod_regione: "130".into(),
        cod_asl_ao: "201".into(),
        cod_specializzazione: "F".into(),
        codice_ass: Some(EncryptedValue::new("B".repeat(344))),
        tipo_prescrizione: "F".into(),
        data_compilazione: "2026-09-30 16:44:16".into(),
        tipo_visita: "A".into(),
        dettagli: vec![
            DettaglioPrescrizione {
                cod_gruppo_equival: Some("G3B".into()),
                descr_gruppo_equival: Some("LEVETIRACETAM 500MG 60 UNITA' USO ORALE".into()),
                quantita: "1".into(),
                ..Default::default()
            };
            2
        ],
        ..Default::default()
    }
}

#[divan::bench]
fn invio_request_validate_and_build(bencher: divan::Bencher) {
    let request = invio_request();
    bencher.bench_local(|| {
        let r = black_box(&request);
        r.validate().unwrap();
        r.to_envelope()
    });
}

#[divan::bench]
fn invio_request_parse(bencher: divan::Bencher) {
    let envelope = invio_request().to_envelope();
    bencher.bench_local(|| InvioPrescrittoRequest::parse(black_box(envelope.as_bytes())).unwrap());
}

#[divan::bench]
fn invio_receipt_parse_real(bencher: divan::Bencher) {
    let bytes = real("invio_ok.xml");
    bencher.bench_local(|| InvioPrescrittoReceipt::parse(black_box(&bytes)).unwrap());
}

#[divan::bench]
fn invio_receipt_build_real(bencher: divan::Bencher) {
    let receipt = InvioPrescrittoReceipt::parse(&real("invio_ok.xml")).unwrap();
    bencher.bench_local(|| black_box(&receipt).to_envelope());
}

#[divan::bench]
fn any_receipt_second_factor_check(bencher: divan::Bencher) {
    // What the proxy does on every answer.
    let bytes = real("invio_ok.xml");
    bencher.bench_local(|| {
        Receipt::parse(black_box(&bytes))
            .unwrap()
            .second_factor_problem()
    });
}

#[divan::bench]
fn visualizza_request_build(bencher: divan::Bencher) {
    let request = VisualizzaPrescrittoRequest::new(
        EncryptedValue::new("A".repeat(344)),
        &Nre::parse("1300A4019294833").unwrap(),
        "PROVAX00X00X000Y",
    );
    bencher.bench_local(|| black_box(&request).to_envelope());
}

#[divan::bench]
fn visualizza_receipt_parse_real(bencher: divan::Bencher) {
    let bytes = real("visualizza_stato3.xml");
    bencher.bench_local(|| VisualizzaPrescrittoReceipt::parse(black_box(&bytes)).unwrap());
}

#[divan::bench]
fn visualizza_receipt_build_real(bencher: divan::Bencher) {
    let receipt = VisualizzaPrescrittoReceipt::parse(&real("visualizza_stato3.xml")).unwrap();
    bencher.bench_local(|| black_box(&receipt).to_envelope());
}

#[divan::bench]
fn annulla_request_build(bencher: divan::Bencher) {
    let request = AnnullaPrescrittoRequest::new(
        EncryptedValue::new("A".repeat(344)),
        &Nre::parse("1300A4019294833").unwrap(),
        "PROVAX00X00X000Y",
    );
    bencher.bench_local(|| black_box(&request).to_envelope());
}

#[divan::bench]
fn annulla_receipt_parse_real(bencher: divan::Bencher) {
    let bytes = real("annulla_rifiuto_1120.xml");
    bencher.bench_local(|| {
        AnnullaPrescrittoReceipt::parse(black_box(&bytes))
            .unwrap()
            .outcome()
    });
}

#[divan::bench]
fn interroga_receipt_parse_real(bencher: divan::Bencher) {
    let bytes = real("interroga_nre_intervallo.xml");
    bencher.bench_local(|| InterrogaNreUtilizzatiReceipt::parse(black_box(&bytes)).unwrap());
}

#[divan::bench]
fn interroga_receipt_build_real(bencher: divan::Bencher) {
    let receipt =
        InterrogaNreUtilizzatiReceipt::parse(&real("interroga_nre_intervallo.xml")).unwrap();
    bencher.bench_local(|| black_box(&receipt).to_envelope());
}

#[divan::bench]
fn nre_parse(bencher: divan::Bencher) {
    bencher.bench_local(|| Nre::parse(black_box("1300A4019294836")).unwrap());
}
