use crate::common::*;
use tsgate_sim::{Enforcement, SimConfig};

pub const TD: &str = "http://tipodati.xsd.dem.sanita.finanze.it";
const INVIO_PATH: &str = "/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto";
const INVIO_ACTION: &str = "http://invioprescritto.wsdl.dem.sanita.finanze.it/InvioPrescritto";
const VIS_PATH: &str = "/DemRicettaPrescrittoServicesWeb/services/demVisualizzaPrescritto";
const VIS_ACTION: &str =
    "http://visualizzaprescritto.wsdl.dem.sanita.finanze.it/VisualizzaPrescritto";
const ANN_PATH: &str = "/DemRicettaPrescrittoServicesWeb/services/demAnnullaPrescritto";
const ANN_ACTION: &str = "http://annullaprescritto.wsdl.dem.sanita.finanze.it/AnnullaPrescritto";
const NRE_PATH: &str = "/DemRicettaInterrogazioniServicesWeb/services/demInterrogaNreUtilizzati";
const NRE_ACTION: &str =
    "http://interroganreassociati.wsdl.dem.sanita.finanze.it/InterrogaNreUtilizzati";
const SOST_PATH: &str = "/DemRicettaServiceMedicoWeb/services/invioDichiarazioneSostituzioneMedico";
const SOST_ACTION: &str = "http://dichiarazionesostituzionemedico.wsdl.dem.sanita.finanze.it/DichiarazioneSostituzioneMedico";

pub fn invio_body(env: &Env, sender: &str, cf1: &str, cf2: &str, pin: Option<&str>) -> String {
    let pin = pin
        .map(str::to_owned)
        .unwrap_or_else(|| env.field(sender, "pin"));
    let payload = format!(
        "<inv:InvioPrescrittoRichiesta><inv:pinCode>{pin}</inv:pinCode><inv:cfMedico1>{cf1}</inv:cfMedico1>\
         <inv:cfMedico2>{cf2}</inv:cfMedico2><inv:codRegione>130</inv:codRegione><inv:codASLAo>202</inv:codASLAo>\
         <inv:codStruttura/><inv:codSpecializzazione>F</inv:codSpecializzazione><inv:nre/>\
         <inv:codiceAss>{ass}</inv:codiceAss><inv:tipoPrescrizione>F</inv:tipoPrescrizione>\
         <inv:nonEsente>1</inv:nonEsente><inv:dataCompilazione>2026-09-30 16:44:16</inv:dataCompilazione>\
         <inv:tipoVisita>A</inv:tipoVisita><inv:provAssistito>AQ</inv:provAssistito>\
         <inv:ElencoDettagliPrescrizioni><tip:DettaglioPrescrizione><tip:codGruppoEquival>G3B</tip:codGruppoEquival>\
         <tip:descrGruppoEquival>LEVETIRACETAM 500MG 60 UNITA' USO ORALE</tip:descrGruppoEquival>\
         <tip:quantita>1</tip:quantita></tip:DettaglioPrescrizione></inv:ElencoDettagliPrescrizioni>\
         </inv:InvioPrescrittoRichiesta>",
        pin = env.enc(&pin),
        ass = env.enc("RSSMRA80A01H501U"),
    );
    envelope(
        &[
            (
                "inv",
                "http://invioprescrittorichiesta.xsd.dem.sanita.finanze.it",
            ),
            ("tip", TD),
        ],
        &payload,
    )
}

pub async fn invio(env: &Env, sender: &str, auth2f: Option<&str>) -> Reply {
    env.post(
        sender,
        INVIO_PATH,
        INVIO_ACTION,
        auth2f,
        invio_body(env, sender, TITOLARE, "", None),
    )
    .await
}

/// Sends a valid prescription and returns its NRE.
pub async fn invio_ok(env: &Env, sender: &str, auth2f: Option<&str>) -> String {
    let reply = invio(env, sender, auth2f).await;
    assert_eq!(reply.value("codEsitoInserimento"), "0000", "{}", reply.text);
    reply.value("nre")
}

/// A request with only `pinCode`, `nre` and `cfMedico`: (root, namespace, path, action).
type NreService = (&'static str, &'static str, &'static str, &'static str);

const VISUALIZZA: NreService = (
    "VisualizzaPrescrittoRichiesta",
    "http://visualizzaprescrittorichiesta.xsd.dem.sanita.finanze.it",
    VIS_PATH,
    VIS_ACTION,
);
const ANNULLA: NreService = (
    "AnnullaPrescrittoRichiesta",
    "http://annullaprescrittorichiesta.xsd.dem.sanita.finanze.it",
    ANN_PATH,
    ANN_ACTION,
);

async fn nre_call(
    env: &Env,
    (root, ns, path, action): NreService,
    sender: &str,
    nre: &str,
    cf: &str,
    auth2f: &str,
) -> Reply {
    let payload = format!(
        "<r:{root}><r:pinCode>{pin}</r:pinCode><r:nre>{nre}</r:nre><r:cfMedico>{cf}</r:cfMedico></r:{root}>",
        pin = env.enc(&env.field(sender, "pin")),
    );
    let body = envelope(&[("r", ns)], &payload);
    env.post(sender, path, action, Some(auth2f), body).await
}

async fn visualizza(env: &Env, sender: &str, nre: &str, cf: &str, auth2f: &str) -> Reply {
    nre_call(env, VISUALIZZA, sender, nre, cf, auth2f).await
}

async fn annulla(env: &Env, sender: &str, nre: &str, cf: &str, auth2f: &str) -> Reply {
    nre_call(env, ANNULLA, sender, nre, cf, auth2f).await
}

fn interroga_body(env: &Env, nre: &str, from: &str, to: &str) -> String {
    let optional = |name: &str, value: &str| {
        if value.is_empty() {
            String::new()
        } else {
            format!("<q:{name}>{value}</q:{name}>")
        }
    };
    let payload = format!(
        "<q:InterrogaNreUtilRichiesta><q:pinCode>{pin}</q:pinCode><q:codRegione>130</q:codRegione>\
         {nre}<q:cfMedico>{TITOLARE}</q:cfMedico>{from}{to}</q:InterrogaNreUtilRichiesta>",
        pin = env.enc(&env.field(TITOLARE, "pin")),
        nre = optional("nre", nre),
        from = optional("dataCompilazioneRicettaDal", from),
        to = optional("dataCompilazioneRicettaAl", to),
    );
    envelope(
        &[(
            "q",
            "http://interroganreutilrichiesta.xsd.dem.sanita.finanze.it",
        )],
        &payload,
    )
}

/// Compilation date ranges for InterrogaNreUtilizzati (empty: not sent).
const NO_RANGE: (&str, &str) = ("", "");
const SEPT_30: (&str, &str) = ("2026-09-30 00:00:00", "2026-09-30 23:59:59");
const BEFORE_ANY: (&str, &str) = ("2020-01-01 00:00:00", "2020-01-02 00:00:00");

async fn interroga(env: &Env, auth2f: &str, nre: &str, (from, to): (&str, &str)) -> Reply {
    let body = interroga_body(env, nre, from, to);
    env.post(TITOLARE, NRE_PATH, NRE_ACTION, Some(auth2f), body)
        .await
}

/// Declares the substitution of the titolare by the substitute, sent by `sender`.
async fn sostituzione(env: &Env, sender: &str, auth2f: &str) -> Reply {
    let payload = format!(
        "<d:DichiarazioneSostituzioneMedicoRichiesta><d:pinCode>{pin}</d:pinCode><d:pwd>x</d:pwd>\
         <d:cfMedicoTitolare>{TITOLARE}</d:cfMedicoTitolare><d:codRegione>130</d:codRegione><d:codASLAo>202</d:codASLAo>\
         <d:codStruttura></d:codStruttura><d:codSpecializzazione>F</d:codSpecializzazione>\
         <d:cfMedicoSostituto>{SOSTITUTO}</d:cfMedicoSostituto><d:comunicazioneAsl>SI</d:comunicazioneAsl>\
         <d:dataInizioSostituzione>01102026</d:dataInizioSostituzione><d:dataFineSostituzione>15102026</d:dataFineSostituzione>\
         </d:DichiarazioneSostituzioneMedicoRichiesta>",
        pin = env.enc(&env.field(sender, "pin")),
    );
    let body = envelope(
        &[(
            "d",
            "http://dichiarazionesostituzionemedicorichiesta.xsd.dem.sanita.finanze.it",
        )],
        &payload,
    );
    env.post(sender, SOST_PATH, SOST_ACTION, Some(auth2f), body)
        .await
}

fn wildcard(user: &str) -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{user}-{:04}-{:02}-RICETTA-DEM-PRESCRITTORE",
        now.year(),
        now.month() as u8
    )
}

#[tokio::test]
async fn invio_receipt_matches_production() {
    let env = Env::test_mode().await;
    let code = crate::a2f::new_code(&env, TITOLARE).await;
    let reply = invio(&env, TITOLARE, Some(&code)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["x-backside-transport"], "OK OK");
    // Unprefixed root in the ricevuta namespace, ns2 = tipodati.
    assert!(reply.text.contains(
        "<InvioPrescrittoRicevuta xmlns:ns3=\"http://invioprescrittorichiesta.xsd.dem.sanita.finanze.it\" xmlns:ns2=\"http://tipodati.xsd.dem.sanita.finanze.it\""
    ), "{}", reply.text);
    let nre = reply.value("nre");
    assert_eq!(nre.len(), 15);
    assert!(nre.starts_with("1300A"));
    let cod = reply.value("codAutenticazione");
    assert_eq!(cod.len(), 30);
    assert!(cod.chars().all(|c| c.is_ascii_digit()));
    assert_eq!(reply.error_codes(), ["0000"]);
    for expected in [
        "<ns2:codice>0199</ns2:codice><ns2:messaggio>COGNOME_MEDICO=PRO</ns2:messaggio>",
        "0198",
        "0197",
        "0100",
    ] {
        assert!(reply.text.contains(expected), "{expected}");
    }
    assert_eq!(reply.value("flagPromemoria"), "0");
    use base64::Engine as _;
    let pdf = base64::engine::general_purpose::STANDARD
        .decode(reply.value("pdfPromemoria"))
        .unwrap();
    assert!(pdf.starts_with(b"%PDF-1.4"));
    assert!(String::from_utf8_lossy(&pdf).contains(&nre));
    // The patient CF never shows up in the answer.
    assert!(!reply.text.contains("RSSMRA80A01H501U"));
    // A second prescription gets another NRE.
    assert_ne!(invio_ok(&env, TITOLARE, Some(&code)).await, nre);
}

#[tokio::test]
async fn enforcement_off_warn_block() {
    let env = Env::new(SimConfig {
        enforcement: Enforcement::Off,
        ..SimConfig::default()
    })
    .await;
    assert_eq!(
        invio(&env, TITOLARE, None)
            .await
            .value("codEsitoInserimento"),
        "0000"
    );

    env.control(serde_json::json!({"enforcement": "warn"}))
        .await;
    let warned = invio(&env, TITOLARE, None).await;
    assert_eq!(
        warned.value("codEsitoInserimento"),
        "0001",
        "{}",
        warned.text
    );
    assert_eq!(warned.error_codes(), ["9101"]);
    assert!(warned.text.contains("Authorization2F"));
    assert_eq!(warned.value("nre").len(), 15);

    env.control(serde_json::json!({"enforcement": "block"}))
        .await;
    let blocked = invio(&env, TITOLARE, Some("00000000-0000-4000-8000-000000000000")).await;
    assert_eq!(blocked.value("codEsitoInserimento"), "9999");
    assert_eq!(blocked.error_codes(), ["9101"]);
    assert!(
        blocked
            .text
            .contains("<ns2:tipoErrore>Bloccante</ns2:tipoErrore>")
    );
    assert!(blocked.payload().child_local("nre").is_none());
    // The wildcard is refused in production mode…
    assert_eq!(
        invio(&env, TITOLARE, Some(&wildcard(TITOLARE)))
            .await
            .value("codEsitoInserimento"),
        "9999"
    );
    // …and accepted in test mode, but only for the right user.
    env.control(serde_json::json!({"mode": "test"})).await;
    assert_eq!(
        invio(&env, TITOLARE, Some(&wildcard(TITOLARE)))
            .await
            .value("codEsitoInserimento"),
        "0000"
    );
    assert_eq!(
        invio(&env, TITOLARE, Some(&wildcard(SOSTITUTO)))
            .await
            .value("codEsitoInserimento"),
        "9999"
    );
    // A code of another user is refused.
    let other = crate::a2f::new_code(&env, SOSTITUTO).await;
    assert_eq!(
        invio(&env, TITOLARE, Some(&other))
            .await
            .value("codEsitoInserimento"),
        "9999"
    );
    let stats = env.get_json("/sim/stats").await;
    assert_eq!(stats["warnings_9101"], 5);
    assert_eq!(stats["operations"]["InvioPrescritto"], 7);
}

#[tokio::test]
async fn wrong_pin_is_refused() {
    let env = Env::test_mode().await;
    let code = wildcard(TITOLARE);
    let body = invio_body(&env, TITOLARE, TITOLARE, "", Some("9999999999"));
    let reply = env
        .post(TITOLARE, INVIO_PATH, INVIO_ACTION, Some(&code), body)
        .await;
    assert_eq!(reply.value("codEsitoInserimento"), "9999");
    assert_eq!(reply.error_codes(), [tsgate_sim::dem::codes::PIN]);
    assert!(reply.text.contains("PinCode errato"));
}

#[tokio::test]
async fn lifecycle_visualizza_annulla() {
    let env = Env::test_mode().await;
    let code = wildcard(TITOLARE);
    let nre = invio_ok(&env, TITOLARE, Some(&code)).await;
    let vis = visualizza(&env, TITOLARE, &nre, TITOLARE, &code).await;
    assert_eq!(vis.value("codEsitoVisualizzazione"), "0000", "{}", vis.text);
    assert_eq!(vis.value("statoProcesso"), "3");
    // ns2 root, tipodati as default namespace; codiceAss empty; testata1 rebuilt.
    assert!(vis.text.contains("<ns2:VisualizzaPrescrittoRicevuta"));
    assert!(vis.text.contains("<ns2:codiceAss/>"));
    assert!(
        vis.text
            .contains("<ns2:testata1>COGNOME_MEDICO=PRO;NOME_MEDICO=VA</ns2:testata1>")
    );
    assert!(
        vis.text
            .contains("<DettaglioPrescrizione><codGruppoEquival>G3B</codGruppoEquival>")
    );
    assert!(
        vis.text
            .contains("<ErroreRicetta><codEsito>0000</codEsito>")
    );
    assert!(vis.text.contains("<tipoErrore/>"));

    let ann = annulla(&env, TITOLARE, &nre, TITOLARE, &code).await;
    assert_eq!(ann.value("codEsitoAnnullamento"), "0000", "{}", ann.text);
    assert!(ann.text.contains("<ns2:codice>0300</ns2:codice>"));
    assert_eq!(
        visualizza(&env, TITOLARE, &nre, TITOLARE, &code)
            .await
            .value("statoProcesso"),
        "4"
    );
    let again = annulla(&env, TITOLARE, &nre, TITOLARE, &code).await;
    assert_eq!(again.value("codEsitoAnnullamento"), "9999");
    assert_eq!(again.error_codes(), ["1120"]);

    let missing = visualizza(&env, TITOLARE, "1300A4099999999", TITOLARE, &code).await;
    assert_eq!(missing.value("codEsitoVisualizzazione"), "9999");
    assert_eq!(missing.error_codes(), ["5005"]);
    let missing = annulla(&env, TITOLARE, "1300A4099999999", TITOLARE, &code).await;
    assert_eq!(missing.error_codes(), ["5005"]);
}

#[tokio::test]
async fn substitute_rules() {
    let env = Env::test_mode().await;
    let tit = wildcard(TITOLARE);
    let sub = wildcard(SOSTITUTO);
    // CASE 2: cfMedico1 titolare, cfMedico2 substitute, substitute's credentials.
    let body = invio_body(&env, SOSTITUTO, TITOLARE, SOSTITUTO, None);
    let reply = env
        .post(SOSTITUTO, INVIO_PATH, INVIO_ACTION, Some(&sub), body)
        .await;
    assert_eq!(reply.value("codEsitoInserimento"), "0000", "{}", reply.text);
    let nre = reply.value("nre");
    // The substitute cannot pose as the titolare (cfMedico2 empty with his credentials).
    let body = invio_body(&env, SOSTITUTO, TITOLARE, "", None);
    let reply = env
        .post(SOSTITUTO, INVIO_PATH, INVIO_ACTION, Some(&sub), body)
        .await;
    assert_eq!(reply.value("codEsitoInserimento"), "9999");
    // Both may view it.
    assert_eq!(
        visualizza(&env, TITOLARE, &nre, TITOLARE, &tit)
            .await
            .value("statoProcesso"),
        "3"
    );
    assert_eq!(
        visualizza(&env, SOSTITUTO, &nre, SOSTITUTO, &sub)
            .await
            .value("statoProcesso"),
        "3"
    );
    // Only the substitute may cancel it: the titolare gets 1125.
    let refused = annulla(&env, TITOLARE, &nre, TITOLARE, &tit).await;
    assert_eq!(refused.error_codes(), ["1125"]);
    assert!(refused.text.contains("diverso da quello associato NRE"));
    assert_eq!(
        annulla(&env, SOSTITUTO, &nre, SOSTITUTO, &sub)
            .await
            .value("codEsitoAnnullamento"),
        "0000"
    );
    // A doctor unrelated to an NRE cannot view it.
    let own = invio_ok(&env, TITOLARE, Some(&tit)).await;
    let other = visualizza(&env, SOSTITUTO, &own, SOSTITUTO, &sub).await;
    assert_eq!(other.error_codes(), ["1125"]);
    // The substitution declaration is accepted and recorded.
    let reply = sostituzione(&env, TITOLARE, &tit).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.value("codEsitoInserimento"), "0000", "{}", reply.text);
    assert_eq!(env.sim.sim.prescriptions.substitutions().len(), 1);
}

#[tokio::test]
async fn interroga_nre_utilizzati() {
    let env = Env::test_mode().await;
    let code = wildcard(TITOLARE);
    let a = invio_ok(&env, TITOLARE, Some(&code)).await;
    let b = invio_ok(&env, TITOLARE, Some(&code)).await;
    let by_nre = interroga(&env, &code, &a, NO_RANGE).await;
    assert_eq!(
        by_nre.value("codEsitoInterrogaNreUtilizzati"),
        "0000",
        "{}",
        by_nre.text
    );
    assert_eq!(
        by_nre
            .payload()
            .find_local("ElencoNreUtilRecord")
            .unwrap()
            .children
            .len(),
        1
    );
    assert!(by_nre.text.contains(&format!("<ns2:nre>{a}</ns2:nre>")));
    let range = interroga(&env, &code, "", SEPT_30).await;
    let records = range
        .payload()
        .find_local("ElencoNreUtilRecord")
        .unwrap()
        .children
        .len();
    assert_eq!(records, 2, "{}", range.text);
    assert!(range.text.contains(&b));
    let empty = interroga(&env, &code, "", BEFORE_ANY).await;
    assert!(empty.payload().find_local("ElencoNreUtilRecord").is_none());
    // Dates must be exactly 19 characters (XSD).
    let bad = interroga(&env, &code, "", ("2026-09-30", "2026-09-30")).await;
    assert_eq!(bad.status, 500);
    assert!(bad.fault().is_schema_error());
}

/// Validates the Body payload of a receipt against the official ricevuta XSD (as the
/// simulator writes them out, with the known defects of the kit fixed).
fn assert_valid_receipt(xsd: &str, reply: &Reply) {
    use libxml::parser::Parser;
    use libxml::schemas::{SchemaParserContext, SchemaValidationContext};
    let path = tsgate_sim::schema::schema_dir().expect("schemas").join(xsd);
    let mut parser = SchemaParserContext::from_file(path.to_str().unwrap());
    let mut validator = SchemaValidationContext::from_parser(&mut parser).expect("schema");
    let doc = Parser::default().parse_string(&reply.text).expect("xml");
    let body = doc
        .get_root_element()
        .unwrap()
        .get_first_element_child()
        .unwrap();
    let payload = body.get_first_element_child().unwrap();
    if let Err(errors) = validator.validate_node(&payload) {
        let messages: Vec<_> = errors
            .iter()
            .map(|e| e.message.clone().unwrap_or_default())
            .collect();
        panic!("{xsd}: {messages:?}\n{}", reply.text);
    }
}

#[tokio::test]
async fn receipts_are_valid_against_the_official_xsds() {
    let env = Env::test_mode().await;
    let code = wildcard(TITOLARE);
    let invio_reply = invio(&env, TITOLARE, Some(&code)).await;
    assert_valid_receipt("InvioPrescrittoRicevuta.xsd", &invio_reply);
    let nre = invio_reply.value("nre");
    assert_valid_receipt(
        "VisualizzaPrescrittoRicevuta.xsd",
        &visualizza(&env, TITOLARE, &nre, TITOLARE, &code).await,
    );
    assert_valid_receipt(
        "AnnullaPrescrittoRicevuta.xsd",
        &annulla(&env, TITOLARE, &nre, TITOLARE, &code).await,
    );
    assert_valid_receipt(
        "AnnullaPrescrittoRicevuta.xsd",
        &annulla(&env, TITOLARE, &nre, TITOLARE, &code).await,
    );
    assert_valid_receipt(
        "VisualizzaPrescrittoRicevuta.xsd",
        &visualizza(&env, TITOLARE, "1300A4099999999", TITOLARE, &code).await,
    );
    let interroga_xsd = "InterrogaNreUtilRicevuta.xsd";
    assert_valid_receipt(interroga_xsd, &interroga(&env, &code, &nre, NO_RANGE).await);
    let range = interroga(&env, &code, "", SEPT_30).await;
    assert_eq!(range.value("codEsitoInterrogaNreUtilizzati"), "0000");
    assert_valid_receipt(interroga_xsd, &range);
    let none = interroga(&env, &code, "", BEFORE_ANY).await;
    assert_valid_receipt(interroga_xsd, &none);
    let refused = interroga(&env, &code, "", ("2026-09-30 00:00:00", "")).await;
    assert_eq!(refused.error_codes(), [tsgate_sim::dem::codes::CRITERIA]);
    assert_valid_receipt(interroga_xsd, &refused);
    let sostituzione_xsd = "DichiarazioneSostituzioneMedicoRicevuta.xsd";
    let declared = sostituzione(&env, TITOLARE, &code).await;
    assert_eq!(declared.value("codEsitoInserimento"), "0000");
    assert_valid_receipt(sostituzione_xsd, &declared);
    let refused = sostituzione(&env, NO_MAIL, &wildcard(NO_MAIL)).await;
    assert_eq!(
        refused.value("codEsitoInserimento"),
        "9999",
        "{}",
        refused.text
    );
    assert_valid_receipt(sostituzione_xsd, &refused);
    env.control(serde_json::json!({"enforcement": "warn"}))
        .await;
    assert_valid_receipt(
        "InvioPrescrittoRicevuta.xsd",
        &invio(&env, TITOLARE, None).await,
    );
    let warned = interroga(&env, "", &nre, NO_RANGE).await;
    assert_eq!(warned.value("codEsitoInterrogaNreUtilizzati"), "0001");
    assert_valid_receipt(interroga_xsd, &warned);
    let warned = sostituzione(&env, TITOLARE, "").await;
    assert_eq!(warned.error_codes(), ["9101"]);
    assert_valid_receipt(sostituzione_xsd, &warned);
    env.control(serde_json::json!({"enforcement": "block"}))
        .await;
    assert_valid_receipt(
        "InvioPrescrittoRicevuta.xsd",
        &invio(&env, TITOLARE, None).await,
    );
}

#[tokio::test]
async fn client_chosen_nre() {
    let env = Env::test_mode().await;
    let code = wildcard(TITOLARE);
    let with_nre = |nre: &str| {
        invio_body(&env, TITOLARE, TITOLARE, "", None)
            .replace("<inv:nre/>", &format!("<inv:nre>{nre}</inv:nre>"))
    };
    let send = |body: String| env.post(TITOLARE, INVIO_PATH, INVIO_ACTION, Some(&code), body);
    let chosen = "1300A4012345678";
    let reply = send(with_nre(chosen)).await;
    assert_eq!(reply.value("codEsitoInserimento"), "0000", "{}", reply.text);
    assert_eq!(reply.value("nre"), chosen);
    let again = send(with_nre(chosen)).await;
    assert_eq!(again.error_codes(), [tsgate_sim::dem::codes::NRE_USED]);
    let malformed = send(with_nre("1300a4012345678")).await;
    assert_eq!(malformed.value("codEsitoInserimento"), "9999");
    assert_eq!(
        malformed.error_codes(),
        [tsgate_sim::dem::codes::NRE_INVALID]
    );
    assert!(
        malformed.text.contains("NRE non valido"),
        "{}",
        malformed.text
    );
}

#[tokio::test]
async fn oldest_prescriptions_are_forgotten_beyond_the_limit() {
    let env = Env::new(SimConfig {
        mode: tsgate_sim::Mode::Test,
        max_prescriptions: 3,
        ..SimConfig::default()
    })
    .await;
    let code = wildcard(TITOLARE);
    let mut nres = Vec::new();
    for _ in 0..5 {
        nres.push(invio_ok(&env, TITOLARE, Some(&code)).await);
    }
    assert_eq!(env.sim.sim.prescriptions.len(), 3);
    assert_eq!(env.get_json("/sim/stats").await["prescriptions_stored"], 3);
    // The two oldest answer like NREs never issued; the three newest are still there.
    for nre in &nres[..2] {
        let vis = visualizza(&env, TITOLARE, nre, TITOLARE, &code).await;
        assert_eq!(vis.error_codes(), ["5005"], "{}", vis.text);
        let ann = annulla(&env, TITOLARE, nre, TITOLARE, &code).await;
        assert_eq!(ann.error_codes(), ["5005"], "{}", ann.text);
    }
    for nre in &nres[2..] {
        let vis = visualizza(&env, TITOLARE, nre, TITOLARE, &code).await;
        assert_eq!(vis.value("codEsitoVisualizzazione"), "0000", "{}", vis.text);
    }
}
