use super::*;
use crate::settings::{MailboxSettings, Tls};

const CODE: &str = "1f6a0702-2cfc-4903-8cfc-609a7e232920";

fn filter() -> MailFilter {
    MailFilter::from_settings(&MailboxSettings::new(
        "h",
        Tls::Implicit,
        "u",
        sistemats::secret::Password::new(""),
    ))
}

fn run(raw: &str) -> Analysis {
    analyze(raw.replace('\n', "\r\n").as_bytes(), &filter()).expect("parsable")
}

fn codes(a: &Analysis) -> Vec<(String, Via)> {
    a.candidates
        .iter()
        .map(|c| (c.code.expose_secret().to_owned(), c.via))
        .collect()
}

#[test]
fn plain_text_mail() {
    let a = run("From: Sistema TS <noreply@sistemats.sim.tsgate.test>
To: dott.rossi@studio.test
Delivered-To: dott.rossi@studio.test
Subject: Sistema TS - ID-SESSIONE
Date: Wed, 26 Nov 2025 08:00:00 +0100
Content-Type: text/plain; charset=utf-8

Gentile utente RSSMRA80A01H501U,
ID-SESSIONE: 1f6a0702-2cfc-4903-8cfc-609a7e232920
Validità: dal 26/11/2025 08:00 al 27/11/2025 00:00
");
    assert!(a.relevant);
    assert!(!a.pec);
    assert_eq!(codes(&a), vec![(CODE.to_owned(), Via::Text)]);
    assert_eq!(a.recipients, vec!["dott.rossi@studio.test".to_owned()]);
    assert_eq!(a.from.as_deref(), Some("noreply@sistemats.sim.tsgate.test"));
    assert_eq!(
        a.date,
        Some(time::macros::datetime!(2025-11-26 07:00:00 UTC))
    );
    assert!(a.text.contains("rssmra80a01h501u"));
}

#[test]
fn quoted_printable_with_soft_breaks_and_encoded_subject() {
    let a = run("From: noreply@sanita.finanze.it
To: \"Dott. Bianchi\" <bianchi@studio.test>
Subject: =?UTF-8?Q?Sistema_TS_=E2=80=93_ID-SESSIONE?=
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

Il tuo ID-SESSIONE =C3=A8: 1f6a0702-2cfc-4903-8c=
fc-609a7e232920
Validit=C3=A0 16 ore.
");
    assert!(a.relevant);
    assert_eq!(a.subject.as_deref(), Some("Sistema TS – ID-SESSIONE"));
    assert_eq!(codes(&a), vec![(CODE.to_owned(), Via::Text)]);
    assert_eq!(a.recipients, vec!["bianchi@studio.test".to_owned()]);
}

#[test]
fn base64_text() {
    // "ID-SESSIONE: 1F6A0702-2CFC-4903-8CFC-609A7E232920\n" (capitals) in base64.
    let a = run("From: no-reply@sogei.it
To: a@b.test
Subject: Notifica
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: base64

SUQtU0VTU0lPTkU6IDFGNkEwNzAyLTJDRkMtNDkwMy04Q0ZDLTYwOUE3RTIzMjkyMAo=
");
    assert!(a.relevant, "sender domain sogei.it");
    assert_eq!(codes(&a), vec![(CODE.to_owned(), Via::Text)]);
}

#[test]
fn html_with_tags_and_entities_inside_the_code() {
    let a = run("From: Sistema TS <noreply@sistemats.it>
To: verdi@studio.test
Subject: ID-SESSIONE
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<html><head><style>p { color: red }</style></head><body>
<p>Codice:</p><p><b>1f6a0702</b>&#45;<span style=3D\"x\">2cfc</span>&ndash;4903-=
8cfc&#x2D;609a7e&shy;232920</p><p>Validit&agrave;: 16 ore</p>
</body></html>
");
    assert_eq!(codes(&a), vec![(CODE.to_owned(), Via::Html)]);
}

#[test]
fn html_with_br_in_the_middle() {
    let a = run("From: noreply@sistemats.it
To: verdi@studio.test
Subject: ID-SESSIONE
Content-Type: text/html

<div>ID-SESSIONE<br>1f6a0702-2cfc-4903-<br/>8cfc-609a7e232920</div>
");
    assert_eq!(codes(&a), vec![(CODE.to_owned(), Via::Html)]);
}

#[test]
fn alternative_text_and_html_give_one_candidate() {
    let a = run("From: noreply@sistemats.sim.tsgate.test
To: x@studio.test
Subject: Sistema TS - ID-SESSIONE
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=\"b1\"

--b1
Content-Type: text/plain; charset=utf-8

ID-SESSIONE: 1f6a0702-2cfc-4903-8cfc-609a7e232920
--b1
Content-Type: text/html; charset=utf-8

<p>ID-SESSIONE: <b>1f6a0702-2cfc-4903-8cfc-609a7e232920</b></p>
--b1--
");
    assert_eq!(codes(&a), vec![(CODE.to_owned(), Via::Text)]);
}

#[test]
fn inline_cid_image_is_returned_for_ocr() {
    let a = run("From: noreply@sistemats.sim.tsgate.test
To: x@studio.test
Subject: Sistema TS - ID-SESSIONE
MIME-Version: 1.0
Content-Type: multipart/related; boundary=\"r\"

--r
Content-Type: multipart/alternative; boundary=\"a\"

--a
Content-Type: text/plain; charset=utf-8

L'ID-SESSIONE è riportato nell'immagine.
--a
Content-Type: text/html; charset=utf-8

<p><img src=\"cid:idsessione\" alt=\"ID-SESSIONE\"></p>
--a--
--r
Content-Type: image/png
Content-ID: <idsessione>
Content-Disposition: inline; filename=\"id-sessione.png\"
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--r--
");
    assert!(a.candidates.is_empty());
    assert_eq!(a.images.len(), 1);
    assert_eq!(a.images[0].content_type, "image/png");
    assert_eq!(a.images[0].bytes, b"\x89PNG\r\n\x1a\n");
    assert!(!a.images[0].in_pec);
    assert!(format!("{:?}", a.images[0]).contains("bytes: 8"));
}

#[test]
fn octet_stream_attachment_named_png_is_an_image() {
    let a = run("From: noreply@sistemats.it
To: x@studio.test
Subject: ID-SESSIONE
Content-Type: multipart/mixed; boundary=\"m\"

--m
Content-Type: text/plain

Vedi allegato.
--m
Content-Type: application/octet-stream; name=\"codice.PNG\"
Content-Disposition: attachment; filename=\"codice.PNG\"
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--m--
");
    assert_eq!(a.images.len(), 1);
    assert_eq!(a.images[0].content_type, "image/png");
}

const PEC: &str = "Return-Path: <posta-certificata@legalmail.test>
Delivered-To: dott.neri@pec.studio.test
From: \"Per conto di: noreply@sistemats.it\" <posta-certificata@legalmail.test>
To: dott.neri@pec.studio.test
Subject: POSTA CERTIFICATA: Sistema TS - ID-SESSIONE
X-Trasporto: posta-certificata
MIME-Version: 1.0
Content-Type: multipart/signed; protocol=\"application/x-pkcs7-signature\"; micalg=sha-256; boundary=\"s\"

--s
Content-Type: multipart/mixed; boundary=\"m\"

--m
Content-Type: multipart/alternative; boundary=\"alt\"

--alt
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Messaggio di posta certificata
Il giorno 26/11/2025 alle ore 08:00:00 (+0100) il messaggio
\"Sistema TS - ID-SESSIONE\" =E8 stato inviato da \"noreply@sistemats.it\"
indirizzato a: dott.neri@pec.studio.test
--alt--
--m
Content-Type: application/xml; name=\"daticert.xml\"
Content-Disposition: inline; filename=\"daticert.xml\"

<?xml version=\"1.0\"?><postacert tipo=\"posta-certificata\"/>
--m
Content-Type: message/rfc822; name=\"postacert.eml\"
Content-Disposition: inline; filename=\"postacert.eml\"

From: noreply@sistemats.it
To: dott.neri@pec.studio.test
Subject: Sistema TS - ID-SESSIONE
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

ID-SESSIONE: 1f6a0702-2cfc-4903-8cfc-609a7e232920
--m--
--s
Content-Type: application/x-pkcs7-signature; name=\"smime.p7s\"
Content-Transfer-Encoding: base64

MIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0BBwEAAKCAMIIB
--s--
";

#[test]
fn pec_envelope_is_opened() {
    let a = run(PEC);
    assert!(a.pec);
    assert!(a.relevant, "inner sender is accepted");
    assert_eq!(codes(&a), vec![(CODE.to_owned(), Via::Pec)]);
    assert_eq!(a.recipients, vec!["dott.neri@pec.studio.test".to_owned()]);
}

#[test]
fn pec_with_only_a_foreign_outer_sender_is_still_relevant_by_inner_sender() {
    let raw = PEC.replace(
        "Subject: POSTA CERTIFICATA: Sistema TS - ID-SESSIONE",
        "Subject: POSTA CERTIFICATA: notifica",
    );
    let a = run(&raw);
    assert!(a.relevant);
    assert_eq!(codes(&a).len(), 1);
}

#[test]
fn unrelated_mail_is_not_relevant() {
    let a = run("From: offerte@negozio.test
To: x@studio.test
Subject: Sconti di novembre
Content-Type: text/plain

Il tuo buono: 0b9d5a3e-7c1f-4e2a-9d8b-3f6c5e4d2a10
");
    assert!(!a.relevant);
    // The candidate is still reported: the watcher decides with `relevant`.
    assert_eq!(codes(&a).len(), 1);
}

#[test]
fn subject_keyword_makes_an_unknown_sender_relevant() {
    let a = run("From: notifiche@nuovo-dominio.test
To: x@studio.test
Subject: Il tuo codice ID-SESSIONE
Content-Type: text/plain

1f6a0702-2cfc-4903-8cfc-609a7e232920
");
    assert!(a.relevant);
}

#[test]
fn cc_and_x_original_to_are_recipients() {
    let a = run("From: noreply@sistemats.it
To: segreteria@studio.test
Cc: Dott. Verdi <Verdi@Studio.test>
X-Original-To: dott.verdi@studio.test
Subject: ID-SESSIONE
Content-Type: text/plain

1f6a0702-2cfc-4903-8cfc-609a7e232920
");
    assert_eq!(
        a.recipients,
        vec![
            "segreteria@studio.test".to_owned(),
            "verdi@studio.test".to_owned(),
            "dott.verdi@studio.test".to_owned()
        ]
    );
}

#[test]
fn latin1_text_with_broken_lines() {
    let raw = b"From: noreply@sistemats.it\r\nTo: a@b.test\r\nSubject: ID-SESSIONE\r\n\
Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
Validit\xe0: 16 ore. Codice:\r\n1f6a0702-2cfc-4903-8cfc-\r\n609a7e232920\r\n";
    let a = analyze(raw, &filter()).unwrap();
    assert_eq!(codes(&a), vec![(CODE.to_owned(), Via::Text)]);
    assert!(a.text.contains("validità"));
}

#[test]
fn sender_rules() {
    let f = MailFilter {
        accepted_senders: vec!["sistemats.it".into(), "capo@studio.test".into()],
        subject_keywords: vec![],
    };
    assert!(f.sender_accepted("noreply@sistemats.it"));
    assert!(f.sender_accepted("NoReply@Mail.SistemaTS.it"));
    assert!(f.sender_accepted("capo@studio.test"));
    assert!(!f.sender_accepted("altro@studio.test"));
    assert!(!f.sender_accepted("noreply@falsosistemats.it"));
    assert!(!f.sender_accepted("sistemats.it@evil.test"));
}

#[test]
fn recency() {
    let since = time::macros::datetime!(2025-11-26 08:00:00 UTC);
    assert!(is_recent(since, since, 0));
    assert!(is_recent(since - time::Duration::minutes(5), since, 600));
    assert!(!is_recent(since - time::Duration::minutes(11), since, 600));
}

#[test]
fn garbage_does_not_panic() {
    for raw in [
        &b""[..],
        b"\xff\xfe\x00",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n",
    ] {
        let _ = analyze(raw, &filter());
    }
}

#[test]
fn find_codes_on_ocr_output() {
    let got = find_codes("1f6a0702-2cfc-49O3-8cfc-6O9a7e23292O\n");
    assert_eq!(got, vec![SessionCode::new(CODE)]);
}
