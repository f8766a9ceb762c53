//! The SAC DEM dispenser services (VisualizzaErogato, InvioErogato, SospendiErogato,
//! AnnullaErogato) on the prescriptions the prescriber services created (PROTOCOL §5.12,
//! §6.3). Requests are read and receipts written with the `sistemats::erogatore` codecs.
//!
//! State machine of `statoProcesso` (PROTOCOL §5.8):
//!
//! | from | operation | to |
//! | --- | --- | --- |
//! | 3 da erogare | VisualizzaErogato 1/2 (presa in carico) | 5 in erogazione, held by the pharmacy |
//! | 5 | VisualizzaErogato 3 (rilascio) | 3, no longer held |
//! | 5, 7 | InvioErogato 1/3/4 (total, forced closure, deferred total) | 8 erogata |
//! | 5, 7 | InvioErogato 2/5 (partial) | 7 erogata parzialmente |
//! | 5, 7 | SospendiErogato 1 | 6 sospesa |
//! | 6 | SospendiErogato 2 | the state before the suspension |
//! | 7, 8 | AnnullaErogato | 9 erogazione annullata |
//!
//! A prescription held by another pharmacy answers `5011`; an unknown NRE `5005`.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use rand::Rng as _;
use sistemats::dem::{CodAutenticazione, ErroreRicetta, Sensitive, StatoProcesso, format_data_ora};
use sistemats::erogatore::{
    AnnullaErogatoReceipt, AnnullaErogatoRequest, DettaglioPrescrizioneVisualErogato,
    ErogatoreReceipt, ErogatoreRequest, ErogatoreService, InvioErogatoReceipt, InvioErogatoRequest,
    RicettaErogatore, SospendiErogatoReceipt, SospendiErogatoRequest, Testata,
    TipoOperazioneSospendi, TipoOperazioneVisualizza, VisualizzaErogatoReceipt,
    VisualizzaErogatoRequest,
};
use sistemats::xml::Element;

use crate::clock::local;
use crate::dem::store::{Erogazione, Prescription};
use crate::dem::{Gate, gate_for, unknown_nre};
use crate::soap_http::{client_fault, xml_response};
use crate::state::Sim;
use crate::users::{Role, TestUser};

/// Codes of the dispenser services. `5011` is the real SAC's; the others are the
/// simulator's, for conditions whose real code is not public (PROTOCOL §5.12).
pub mod codes {
    /// A prescription taken in charge by another user (real code, LIKELY).
    pub const HELD_BY_OTHER: &str = "5011";
    /// The sender is not a pharmacy, or the `codice…Erogatore` are not its own.
    pub const NOT_DISPENSER: &str = "1008";
    /// The prescription was cancelled by the doctor.
    pub const CANCELLED: &str = "1009";
    /// The prescription is already dispensed (closed) or its dispensing was cancelled.
    pub const CLOSED: &str = "1010";
    /// The operation needs a prescription this pharmacy holds in another state.
    pub const BAD_STATE: &str = "1011";
    /// `cfAssistito` does not match the prescription's patient (or cannot be decrypted).
    pub const CF_ASSISTITO: &str = "1012";
    /// `tipoOperazione` is not one of the values the kit defines.
    pub const TIPO_OPERAZIONE: &str = "1013";
}

/// Handles one dispenser call (the SOAP body is already schema-valid and the user
/// authenticated).
pub fn handle(
    sim: &Sim,
    service: ErogatoreService,
    user: &TestUser,
    headers: &HeaderMap,
    payload: &Element,
) -> Response {
    match service {
        ErogatoreService::VisualizzaErogato => serve(
            sim,
            user,
            headers,
            payload,
            |r: &VisualizzaErogatoRequest| &r.testata,
            visualizza,
            |r, e| VisualizzaErogatoReceipt::rejected(r.testata.nre.clone(), e),
        ),
        ErogatoreService::InvioErogato => serve(
            sim,
            user,
            headers,
            payload,
            |r: &InvioErogatoRequest| &r.testata,
            invio,
            |r, e| InvioErogatoReceipt::rejected(r.testata.nre.clone(), e),
        ),
        ErogatoreService::SospendiErogato => serve(
            sim,
            user,
            headers,
            payload,
            |r: &SospendiErogatoRequest| &r.testata,
            sospendi,
            |_, e| SospendiErogatoReceipt::rejected(e),
        ),
        ErogatoreService::AnnullaErogato => serve(
            sim,
            user,
            headers,
            payload,
            |r: &AnnullaErogatoRequest| &r.testata,
            annulla,
            |r, e| AnnullaErogatoReceipt::rejected(r.testata.nre.clone(), e),
        ),
    }
}

type Served<R> = Result<R, ErroreRicetta>;

/// Parses the request, runs the gate (second factor for `EROGATORE`, PIN), the pharmacy
/// checks and the service; a blocking error becomes the `9999` receipt `reject` builds.
fn serve<Q: ErogatoreRequest, R: ErogatoreReceipt>(
    sim: &Sim,
    user: &TestUser,
    headers: &HeaderMap,
    payload: &Element,
    testata: impl Fn(&Q) -> &Testata,
    run: impl FnOnce(&Sim, &TestUser, &Q, Vec<ErroreRicetta>) -> Served<R>,
    reject: impl FnOnce(&Q, Vec<ErroreRicetta>) -> R,
) -> Response {
    let request = match Q::from_payload(payload) {
        Ok(request) => request,
        Err(e) => return client_fault(e.to_string()),
    };
    let head = testata(&request);
    let gate: Gate = gate_for(sim, headers, user, &head.pin_code, "EROGATORE");
    let receipt = gate
        .and_then(|warnings| {
            check_dispenser(user, head).map_err(|e| vec![e])?;
            run(sim, user, &request, warnings).map_err(|e| vec![e])
        })
        .unwrap_or_else(|errors| reject(&request, errors));
    xml_response(StatusCode::OK, true, receipt.to_envelope())
}

fn blocking(code: &str, text: &str) -> ErroreRicetta {
    ErroreRicetta::blocking(code, text)
}

/// Only a pharmacy may use these services, with its own codes.
fn check_dispenser(user: &TestUser, t: &Testata) -> Served<()> {
    let e = &t.erogatore;
    if user.role != Role::Farmacia
        || e.codice_regione != user.region
        || e.codice_asl != user.asl
        || e.codice_ssa != user.ssa
    {
        return Err(blocking(
            codes::NOT_DISPENSER,
            "Operazione non consentita - utente non abilitato come erogatore o codici regione/ASL/SSA della struttura erogatrice non corrispondenti",
        ));
    }
    Ok(())
}

/// Looks the NRE up and checks `cfAssistito`, when given, against the patient.
fn find(sim: &Sim, t: &Testata) -> Served<Prescription> {
    let p = sim.prescriptions.get(&t.nre).ok_or_else(unknown_nre)?;
    if let Some(encrypted) = &t.cf_assistito {
        let clear = sim.keys.decrypt_b64(encrypted.as_str());
        if clear.as_deref() != Some(p.cf_assistito.as_str()) {
            return Err(blocking(
                codes::CF_ASSISTITO,
                "Codice fiscale assistito non corrispondente a quello della ricetta",
            ));
        }
    }
    Ok(p)
}

fn held_by_other() -> ErroreRicetta {
    blocking(
        codes::HELD_BY_OTHER,
        "Visualizzazione non consentita - ricetta presa in carico da altro utente",
    )
}

fn bad_state(what: &str) -> ErroreRicetta {
    ErroreRicetta::blocking(
        codes::BAD_STATE,
        format!("Operazione non consentita - {what}, stato della ricetta non valido"),
    )
}

fn wrong_tipo() -> ErroreRicetta {
    blocking(
        codes::TIPO_OPERAZIONE,
        "Tipo operazione non valido per il servizio",
    )
}

/// Refuses a prescription whose state excludes any dispenser operation, and one held by
/// another pharmacy. Returns whether this pharmacy holds it.
fn check_holder(p: &Prescription, user: &TestUser) -> Served<bool> {
    match p.stato {
        StatoProcesso::Annullata => {
            return Err(blocking(
                codes::CANCELLED,
                "Operazione non consentita - ricetta annullata dal medico prescrittore",
            ));
        }
        StatoProcesso::Erogata | StatoProcesso::ErogazioneAnnullata | StatoProcesso::Scaduta => {
            // Only the pharmacy that dispensed it may still act (AnnullaErogato).
            let mine = p
                .erogazione
                .as_ref()
                .is_some_and(|e| e.holder == user.user_id);
            if !mine {
                return Err(blocking(
                    codes::CLOSED,
                    "Operazione non consentita - ricetta gia' erogata o non piu' erogabile",
                ));
            }
            return Ok(true);
        }
        _ => {}
    }
    match &p.erogazione {
        Some(e) if e.holder != user.user_id => Err(held_by_other()),
        Some(_) => Ok(true),
        None => Ok(false),
    }
}

fn visualizza(
    sim: &Sim,
    user: &TestUser,
    req: &VisualizzaErogatoRequest,
    warnings: Vec<ErroreRicetta>,
) -> Served<VisualizzaErogatoReceipt> {
    let tipo = req.tipo().ok_or_else(wrong_tipo)?;
    let p = find(sim, &req.testata)?;
    let mine = check_holder(&p, user)?;
    let nre = p.nre.clone();
    let updated = match tipo {
        TipoOperazioneVisualizza::PresaInCarico
        | TipoOperazioneVisualizza::PresaInCaricoSenzaDati => {
            if !mine && p.stato != StatoProcesso::DaErogare {
                return Err(bad_state("presa in carico"));
            }
            if p.stato == StatoProcesso::Erogata || p.stato == StatoProcesso::ErogazioneAnnullata {
                return Err(blocking(
                    codes::CLOSED,
                    "Operazione non consentita - ricetta gia' erogata o non piu' erogabile",
                ));
            }
            update(sim, &nre, |p| {
                if p.stato == StatoProcesso::DaErogare {
                    p.stato = StatoProcesso::InErogazione;
                    p.erogazione = Some(Erogazione {
                        holder: user.user_id.clone(),
                        ..Erogazione::default()
                    });
                }
            })?
        }
        TipoOperazioneVisualizza::Rilascio => {
            if !mine || p.stato != StatoProcesso::InErogazione {
                return Err(bad_state("rilascio ricetta"));
            }
            update(sim, &nre, |p| {
                p.stato = StatoProcesso::DaErogare;
                p.erogazione = None;
            })?
        }
        // Read without taking the lock, by the pharmacy that holds it (inference: the kit
        // only names the operation, PROTOCOL §5.12).
        TipoOperazioneVisualizza::VisualizzaDatiOscurati => {
            if !mine {
                return Err(bad_state("visualizzazione dati oscurati"));
            }
            p
        }
    };
    let with_data = matches!(
        tipo,
        TipoOperazioneVisualizza::PresaInCarico | TipoOperazioneVisualizza::VisualizzaDatiOscurati
    );
    let mut receipt = if with_data {
        let (ricetta, dettagli) = view(sim, &updated);
        let mut r = VisualizzaErogatoReceipt::accepted(ricetta, dettagli, warnings);
        r.cod_autenticazione_medico = Some(updated.cod_autenticazione.clone());
        r.cod_autenticazione_erogatore = updated
            .erogazione
            .as_ref()
            .and_then(|e| e.cod_autenticazione.clone());
        r
    } else {
        VisualizzaErogatoReceipt::accepted(RicettaErogatore::default(), Vec::new(), warnings)
    };
    receipt.ricetta.nre = Some(nre);
    receipt.ricetta.stato_processo = Some(updated.stato.code().to_owned());
    Ok(receipt)
}

/// Applies `f` and returns the prescription after it; a prescription forgotten meanwhile
/// (beyond `max_prescriptions`) is unknown.
fn update(sim: &Sim, nre: &str, f: impl FnOnce(&mut Prescription)) -> Served<Prescription> {
    sim.prescriptions
        .update(nre, |p| {
            f(p);
            p.clone()
        })
        .ok_or_else(unknown_nre)
}

/// The prescription as VisualizzaErogato shows it: what the doctor sent (without the
/// patient's code, like the prescriber view) and, once dispensed, what was dispensed.
fn view(
    sim: &Sim,
    p: &Prescription,
) -> (RicettaErogatore, Vec<DettaglioPrescrizioneVisualErogato>) {
    let r = &p.sent;
    let s = |v: &Option<Sensitive>| v.clone();
    let testata1 = sim
        .user_by_cf(&r.cf_medico1)
        .map(|t| format!("COGNOME_MEDICO={};NOME_MEDICO={}", t.surname, t.name));
    let erog = p.erogazione.as_ref();
    let ricetta = RicettaErogatore {
        nre: Some(p.nre.clone()),
        cf_medico1: Some(r.cf_medico1.clone()),
        cf_medico2: r.cf_medico2.clone(),
        cod_regione: Some(r.cod_regione.clone()),
        cod_asl_ao: Some(r.cod_asl_ao.clone()),
        cod_struttura: r.cod_struttura.clone(),
        cod_specializzazione: Some(r.cod_specializzazione.clone()),
        testata1: testata1.or_else(|| r.testata1.clone()),
        testata2: r.testata2.clone(),
        tipo_ric: r.tipo_ric.clone(),
        codice_ass: None,
        cogn_nome: s(&r.cogn_nome),
        indirizzo: s(&r.indirizzo),
        oscuram_dati: r.oscuram_dati.clone(),
        num_tess_sasn: s(&r.num_tess_sasn),
        soc_navigaz: r.soc_navigaz.clone(),
        tipo_prescrizione: Some(r.tipo_prescrizione.clone()),
        ricetta_interna: r.ricetta_interna.clone(),
        cod_esenzione: r.cod_esenzione.clone(),
        non_esente: r.non_esente.clone(),
        reddito: r.reddito.clone(),
        cod_diagnosi: r.cod_diagnosi.clone(),
        descrizione_diagnosi: r.descrizione_diagnosi.clone(),
        data_compilazione: Some(r.data_compilazione.clone()),
        tipo_visita: Some(r.tipo_visita.clone()),
        disp_reg: r.disp_reg.clone(),
        prov_assistito: r.prov_assistito.clone(),
        asl_assistito: r.asl_assistito.clone(),
        indicazione_prescr: r.indicazione_prescr.clone(),
        altro: r.altro.clone(),
        classe_priorita: r.classe_priorita.clone(),
        stato_estero: r.stato_estero.clone(),
        istituz_competente: r.istituz_competente.clone(),
        num_ident_pers: s(&r.num_ident_pers),
        num_ident_tess: s(&r.num_ident_tess),
        data_nascita_estero: r.data_nascita_estero.clone(),
        data_scad_tessera: r.data_scad_tessera.clone(),
        stato_processo: Some(p.stato.code().to_owned()),
        data_spedizione: erog.and_then(|e| e.data_spedizione.clone()),
        ..RicettaErogatore::default()
    };
    let dettagli = r
        .dettagli
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let done = erog.and_then(|e| e.dettagli.get(i));
            let from_done = |f: fn(
                &sistemats::erogatore::DettaglioPrescrizioneInvioErogato,
            ) -> &Option<String>| done.and_then(|x| f(x).clone());
            DettaglioPrescrizioneVisualErogato {
                // Per-line state: the prescription's (inference, PROTOCOL §5.12).
                stato_presc: Some(p.stato.code().to_owned()),
                cod_prod_prest: d.cod_prod_prest.clone(),
                descr_prod_prest: d.descr_prod_prest.clone(),
                cod_gruppo_equival: d.cod_gruppo_equival.clone(),
                descr_gruppo_equival: d.descr_gruppo_equival.clone(),
                testo_libero: d.testo_libero.clone(),
                descr_testo_libero_note: d.descr_testo_libero_note.clone(),
                non_sost: d.non_sost.clone(),
                motivaz_note: d.motivaz_note.clone(),
                cod_motivazione: d.cod_motivazione.clone(),
                nota_prod: d.nota_prod.clone(),
                quantita: Some(d.quantita.clone()),
                prescrizione1: d.prescrizione1.clone(),
                prescrizione2: d.prescrizione2.clone(),
                cod_prod_prest_erog: from_done(|x| &x.cod_prod_prest_erog),
                descr_prod_prest_erog: from_done(|x| &x.descr_prod_prest_erog),
                targa: from_done(|x| &x.targa),
                prezzo: from_done(|x| &x.prezzo),
                ticket_confezione: from_done(|x| &x.ticket_confezione),
                quantita_erogata: from_done(|x| &x.quantita_erogata),
                data_ini_erog: from_done(|x| &x.data_ini_erog),
                data_fine_erog: from_done(|x| &x.data_fine_erog),
                cod_catalogo_prescr: d.cod_catalogo_prescr.clone(),
                tipo_accesso: d.tipo_accesso.clone(),
                numero_nota: d.numero_nota.clone(),
                cond_erogabilita: d.cond_erogabilita.clone(),
                appropr_prescrittiva: d.appropr_prescrittiva.clone(),
                patologia: d.patologia.clone(),
                ..DettaglioPrescrizioneVisualErogato::default()
            }
        })
        .collect();
    (ricetta, dettagli)
}

/// A new 30-digit authentication code, like the prescriber side's.
fn new_code(sim: &Sim) -> (String, String) {
    let now = local(sim.clock.now());
    let serial = rand::rng().random_range(1..10_000_000_000_000_000u64);
    (
        CodAutenticazione::generate(now, serial).as_str().to_owned(),
        format_data_ora(now),
    )
}

fn invio(
    sim: &Sim,
    user: &TestUser,
    req: &InvioErogatoRequest,
    warnings: Vec<ErroreRicetta>,
) -> Served<InvioErogatoReceipt> {
    let tipo = req.tipo().ok_or_else(wrong_tipo)?;
    let p = find(sim, &req.testata)?;
    let mine = check_holder(&p, user)?;
    if !mine {
        return Err(bad_state("erogazione di una ricetta non presa in carico"));
    }
    if !matches!(
        p.stato,
        StatoProcesso::InErogazione | StatoProcesso::ErogataParzialmente
    ) {
        return Err(bad_state("erogazione"));
    }
    let (code, received) = new_code(sim);
    // Deferred dispensing (4, 5) is recorded like the immediate one: the deferred flow has
    // its own services (ricetta differita), not simulated (PROTOCOL §5.12).
    let closed = tipo.closes();
    update(sim, &p.nre, |p| {
        p.stato = if closed {
            StatoProcesso::Erogata
        } else {
            StatoProcesso::ErogataParzialmente
        };
        if let Some(e) = p.erogazione.as_mut() {
            e.cod_autenticazione = Some(code.clone());
            e.data_spedizione = req.dati.data_spedizione.clone();
            e.dettagli = req.dettagli.clone();
        }
    })?;
    Ok(InvioErogatoReceipt::accepted(
        p.nre, received, code, warnings,
    ))
}

fn sospendi(
    sim: &Sim,
    user: &TestUser,
    req: &SospendiErogatoRequest,
    warnings: Vec<ErroreRicetta>,
) -> Served<SospendiErogatoReceipt> {
    let tipo = req.tipo().ok_or_else(wrong_tipo)?;
    let p = find(sim, &req.testata)?;
    if !check_holder(&p, user)? {
        return Err(bad_state("sospensione di una ricetta non presa in carico"));
    }
    match (tipo, p.stato) {
        (
            TipoOperazioneSospendi::InizioSospensione,
            StatoProcesso::InErogazione | StatoProcesso::ErogataParzialmente,
        ) => {
            update(sim, &p.nre, |p| {
                if let Some(e) = p.erogazione.as_mut() {
                    e.before_suspension = Some(p.stato);
                }
                p.stato = StatoProcesso::Sospesa;
            })?;
        }
        (TipoOperazioneSospendi::RevocaSospensione, StatoProcesso::Sospesa) => {
            update(sim, &p.nre, |p| {
                let before = p
                    .erogazione
                    .as_mut()
                    .and_then(|e| e.before_suspension.take());
                p.stato = before.unwrap_or(StatoProcesso::InErogazione);
            })?;
        }
        (TipoOperazioneSospendi::InizioSospensione, _) => {
            return Err(bad_state("sospensione"));
        }
        (TipoOperazioneSospendi::RevocaSospensione, _) => {
            return Err(bad_state("revoca sospensione"));
        }
    }
    Ok(SospendiErogatoReceipt::accepted(warnings))
}

fn annulla(
    sim: &Sim,
    user: &TestUser,
    req: &AnnullaErogatoRequest,
    warnings: Vec<ErroreRicetta>,
) -> Served<AnnullaErogatoReceipt> {
    let p = find(sim, &req.testata)?;
    if !check_holder(&p, user)? {
        return Err(bad_state("annullamento erogato di una ricetta non erogata"));
    }
    if !matches!(
        p.stato,
        StatoProcesso::Erogata | StatoProcesso::ErogataParzialmente
    ) {
        return Err(bad_state("annullamento erogato"));
    }
    let (code, received) = new_code(sim);
    update(sim, &p.nre, |p| {
        p.stato = StatoProcesso::ErogazioneAnnullata;
    })?;
    Ok(AnnullaErogatoReceipt::accepted(
        p.nre, received, code, warnings,
    ))
}
