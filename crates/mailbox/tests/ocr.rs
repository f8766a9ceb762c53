//! OCR with the real Debian `tesseract` (package `tesseract-ocr`) on pictures drawn like
//! the simulator's: fails, never skips, when the program is missing.

mod support;

use std::time::Duration;

use tsgate_mailbox::ocr::Ocr;

#[tokio::test]
async fn rendered_codes_are_read_exactly() {
    let ocr = Ocr::new("tesseract", Duration::from_secs(30));
    ocr.check()
        .await
        .unwrap_or_else(|e| panic!("tesseract is needed: apt-get install -y tesseract-ocr ({e})"));
    for code in [
        "0b9d5a3e-7c1f-4e2a-9d8b-3f6c5e4d2a10",
        "1f6a0702-2cfc-4903-8cfc-609a7e232920",
        "deadbeef-0ff1-4ce0-a0b0-c0ffee000001",
        "00000000-0000-4000-8000-000000000000",
    ] {
        let png = support::mail::render_png(code);
        let codes = ocr.read_codes(&png).await.expect("ocr runs");
        assert_eq!(
            codes.first().map(|c| c.expose_secret().to_owned()),
            Some(code.to_owned()),
            "{code}: read {} candidate(s)",
            codes.len()
        );
    }
}

#[tokio::test]
async fn a_picture_without_a_code_gives_nothing() {
    let ocr = Ocr::new("tesseract", Duration::from_secs(30));
    let png = support::mail::render_png("Sistema TS");
    assert!(ocr.read_codes(&png).await.expect("ocr runs").is_empty());
}
