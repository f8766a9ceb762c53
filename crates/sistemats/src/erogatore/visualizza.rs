//! VisualizzaErogato: view a prescription, take it in charge exclusively ("presa in
//! carico") or release it (PROTOCOL §5.12).

use crate::dem::codec::{DemError, Emitter, Ns, expect_root, opt, req};
use crate::dem::receipt::{self, Comunicazione};
use crate::dem::validate::{Checker, ValidationError};
use crate::dem::{ErroreRicetta, Sensitive, StatoProcesso};
use crate::xml::Element;

use super::common::{REFUSED, ReceiptWriter, Testata, accepted, open_request, text_elements};
use super::service::{ErogatoreReceipt, ErogatoreRequest, ErogatoreService, receipt_accessors};

const SERVICE: ErogatoreService = ErogatoreService::VisualizzaErogato;
const P: &str = "vis";

/// `tipoOperazione` of VisualizzaErogato, as the XSD documents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TipoOperazioneVisualizza {
    /// `1`: exclusive lock (take in charge) returning the prescription's data.
    PresaInCarico,
    /// `2`: exclusive lock without returning the data.
    PresaInCaricoSenzaDati,
    /// `3`: release the prescription (give the lock back).
    Rilascio,
    /// `4`: view the obscured data.
    VisualizzaDatiOscurati,
}

impl TipoOperazioneVisualizza {
    /// Allowed wire values.
    pub const CODES: &'static [&'static str] = &["1", "2", "3", "4"];

    /// The wire value.
    pub fn code(self) -> &'static str {
        match self {
            Self::PresaInCarico => "1",
            Self::PresaInCaricoSenzaDati => "2",
            Self::Rilascio => "3",
            Self::VisualizzaDatiOscurati => "4",
        }
    }

    /// From the wire value.
    pub fn from_code(code: &str) -> Option<Self> {
        Some(match code.trim() {
            "1" => Self::PresaInCarico,
            "2" => Self::PresaInCaricoSenzaDati,
            "3" => Self::Rilascio,
            "4" => Self::VisualizzaDatiOscurati,
            _ => return None,
        })
    }
}

/// `VisualizzaErogatoRichiesta`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VisualizzaErogatoRequest {
    /// The common header (PIN, pharmacy codes, NRE, patient code).
    pub testata: Testata,
    /// `tipoOperazione` (see [`TipoOperazioneVisualizza`]).
    pub tipo_operazione: String,
}

impl VisualizzaErogatoRequest {
    /// A request of this kind for the header's NRE.
    pub fn new(testata: Testata, tipo: TipoOperazioneVisualizza) -> Self {
        Self {
            testata,
            tipo_operazione: tipo.code().to_owned(),
        }
    }

    /// The operation asked for, if the value is one the kit defines.
    pub fn tipo(&self) -> Option<TipoOperazioneVisualizza> {
        TipoOperazioneVisualizza::from_code(&self.tipo_operazione)
    }
}

impl ErogatoreRequest for VisualizzaErogatoRequest {
    const SERVICE: ErogatoreService = SERVICE;

    fn problems(&self) -> Vec<ValidationError> {
        let mut c = Checker::new();
        self.testata.check(&mut c);
        if c.required("tipoOperazione", &self.tipo_operazione) {
            c.one_of(
                "tipoOperazione",
                &self.tipo_operazione,
                TipoOperazioneVisualizza::CODES,
            );
        }
        c.finish()
    }

    fn to_xml(&self) -> String {
        let mut e = open_request(SERVICE, P, None, 900);
        self.testata.write(&mut e, P);
        e.leaf(P, "tipoOperazione", &self.tipo_operazione);
        e.close(P, SERVICE.request_root());
        e.finish()
    }

    fn from_payload(el: &Element) -> Result<Self, DemError> {
        let ns = Ns::Strict(SERVICE.request_namespace());
        expect_root(el, ns, SERVICE.request_root())?;
        Ok(Self {
            testata: Testata::read(el, ns)?,
            tipo_operazione: req(el, ns, "tipoOperazione")?,
        })
    }
}

text_elements! {
    /// The header of a prescription as the dispenser sees it: from `nre` to `dispRic3` in
    /// `VisualizzaErogatoRicevuta` (every element optional; patient data masked in `Debug`).
    pub struct RicettaErogatore {
        /// `nre`.
        nre: String = "nre",
        /// `cfMedico1`: the titolare.
        cf_medico1: String = "cfMedico1",
        /// `cfMedico2`: the substitute who compiled it, if any.
        cf_medico2: String = "cfMedico2",
        /// `codRegione` of the doctor.
        cod_regione: String = "codRegione",
        /// `codASLAo` of the doctor.
        cod_asl_ao: String = "codASLAo",
        /// `codStruttura`.
        cod_struttura: String = "codStruttura",
        /// `codSpecializzazione`.
        cod_specializzazione: String = "codSpecializzazione",
        /// `testata1`.
        testata1: String = "testata1",
        /// `testata2`.
        testata2: String = "testata2",
        /// `tipoRic`.
        tipo_ric: String = "tipoRic",
        /// `codiceAss`: the patient's code.
        codice_ass: Sensitive = "codiceAss",
        /// `cognNome`.
        cogn_nome: Sensitive = "cognNome",
        /// `indirizzo`.
        indirizzo: Sensitive = "indirizzo",
        /// `oscuramDati`.
        oscuram_dati: String = "oscuramDati",
        /// `numTessSasn`.
        num_tess_sasn: Sensitive = "numTessSasn",
        /// `socNavigaz`.
        soc_navigaz: String = "socNavigaz",
        /// `tipoPrescrizione`: `F` pharmaceutical, `P` specialist.
        tipo_prescrizione: String = "tipoPrescrizione",
        /// `ricettaInterna`.
        ricetta_interna: String = "ricettaInterna",
        /// `codEsenzione`.
        cod_esenzione: String = "codEsenzione",
        /// `nonEsente`.
        non_esente: String = "nonEsente",
        /// `reddito`.
        reddito: String = "reddito",
        /// `codDiagnosi`.
        cod_diagnosi: String = "codDiagnosi",
        /// `descrizioneDiagnosi`.
        descrizione_diagnosi: String = "descrizioneDiagnosi",
        /// `dataCompilazione`.
        data_compilazione: String = "dataCompilazione",
        /// `tipoVisita`.
        tipo_visita: String = "tipoVisita",
        /// `dispReg`.
        disp_reg: String = "dispReg",
        /// `provAssistito`.
        prov_assistito: String = "provAssistito",
        /// `aslAssistito`.
        asl_assistito: String = "aslAssistito",
        /// `indicazionePrescr`.
        indicazione_prescr: String = "indicazionePrescr",
        /// `altro`.
        altro: String = "altro",
        /// `classePriorita`.
        classe_priorita: String = "classePriorita",
        /// `statoEstero`.
        stato_estero: String = "statoEstero",
        /// `istituzCompetente`.
        istituz_competente: String = "istituzCompetente",
        /// `numIdentPers`.
        num_ident_pers: Sensitive = "numIdentPers",
        /// `numIdentTess`.
        num_ident_tess: Sensitive = "numIdentTess",
        /// `dataNascitaEstero`.
        data_nascita_estero: String = "dataNascitaEstero",
        /// `dataScadTessera`.
        data_scad_tessera: String = "dataScadTessera",
        /// `statoProcesso` (see [`VisualizzaErogatoReceipt::stato`]).
        stato_processo: String = "statoProcesso",
        /// `chiusuraDiff`.
        chiusura_diff: String = "chiusuraDiff",
        /// `chiusuraForzata`.
        chiusura_forzata: String = "chiusuraForzata",
        /// `prescrizioneFruita`.
        prescrizione_fruita: String = "prescrizioneFruita",
        /// `tipoErogazioneSpec`.
        tipo_erogazione_spec: String = "tipoErogazioneSpec",
        /// `ticket`.
        ticket: String = "ticket",
        /// `quotaFissa`.
        quota_fissa: String = "quotaFissa",
        /// `franchigia`.
        franchigia: String = "franchigia",
        /// `galDirChiamAltro`.
        gal_dir_chiam_altro: String = "galDirChiamAltro",
        /// `dataSpedizione`: when it was dispensed.
        data_spedizione: String = "dataSpedizione",
        /// `dispRic1`.
        disp_ric1: String = "dispRic1",
        /// `dispRic2`.
        disp_ric2: String = "dispRic2",
        /// `dispRic3`.
        disp_ric3: String = "dispRic3",
    }
}

text_elements! {
    /// One line of a prescription as the dispenser sees it (`DettaglioPrescrizioneVisualErogato`):
    /// what was prescribed and, once dispensed, what was dispensed. `statoPresc` and
    /// `quantita` are required by the XSD.
    pub struct DettaglioPrescrizioneVisualErogato {
        /// `statoPresc` (required).
        stato_presc: String = "statoPresc",
        /// `codProdPrest`.
        cod_prod_prest: String = "codProdPrest",
        /// `descrProdPrest`.
        descr_prod_prest: String = "descrProdPrest",
        /// `codGruppoEquival`.
        cod_gruppo_equival: String = "codGruppoEquival",
        /// `descrGruppoEquival`.
        descr_gruppo_equival: String = "descrGruppoEquival",
        /// `testoLibero`.
        testo_libero: String = "testoLibero",
        /// `descrTestoLiberoNote`.
        descr_testo_libero_note: String = "descrTestoLiberoNote",
        /// `nonSost`.
        non_sost: String = "nonSost",
        /// `motivazNote`.
        motivaz_note: String = "motivazNote",
        /// `codMotivazione`.
        cod_motivazione: String = "codMotivazione",
        /// `notaProd`.
        nota_prod: String = "notaProd",
        /// `quantita` (required, digits).
        quantita: String = "quantita",
        /// `prescrizione1`.
        prescrizione1: String = "prescrizione1",
        /// `prescrizione2`.
        prescrizione2: String = "prescrizione2",
        /// `codProdPrestErog`: what was dispensed.
        cod_prod_prest_erog: String = "codProdPrestErog",
        /// `descrProdPrestErog`.
        descr_prod_prest_erog: String = "descrProdPrestErog",
        /// `flagErog`.
        flag_erog: String = "flagErog",
        /// `motivazSostProd`.
        motivaz_sost_prod: String = "motivazSostProd",
        /// `targa`.
        targa: String = "targa",
        /// `dichTargaDoppia`.
        dich_targa_doppia: String = "dichTargaDoppia",
        /// `codBranca`.
        cod_branca: String = "codBranca",
        /// `tipoErogazioneFarm`.
        tipo_erogazione_farm: String = "tipoErogazioneFarm",
        /// `prezzo`.
        prezzo: String = "prezzo",
        /// `ticketConfezione`.
        ticket_confezione: String = "ticketConfezione",
        /// `diffGenerico`.
        diff_generico: String = "diffGenerico",
        /// `quantitaErogata`.
        quantita_erogata: String = "quantitaErogata",
        /// `dataIniErog`.
        data_ini_erog: String = "dataIniErog",
        /// `dataFineErog`.
        data_fine_erog: String = "dataFineErog",
        /// `prezzoRimborso`.
        prezzo_rimborso: String = "prezzoRimborso",
        /// `onereProd`.
        onere_prod: String = "onereProd",
        /// `scontoSSN`.
        sconto_ssn: String = "scontoSSN",
        /// `extraScontoIndustria`.
        extra_sconto_industria: String = "extraScontoIndustria",
        /// `extraScontoPayback`.
        extra_sconto_payback: String = "extraScontoPayback",
        /// `extraScontoDL31052010`.
        extra_sconto_dl31052010: String = "extraScontoDL31052010",
        /// `codPresidio`.
        cod_presidio: String = "codPresidio",
        /// `codReparto`.
        cod_reparto: String = "codReparto",
        /// `dispFust1`.
        disp_fust1: String = "dispFust1",
        /// `dispFust2`.
        disp_fust2: String = "dispFust2",
        /// `dispFust3`.
        disp_fust3: String = "dispFust3",
        /// `codCatalogoPrescr`.
        cod_catalogo_prescr: String = "codCatalogoPrescr",
        /// `tipoAccesso`.
        tipo_accesso: String = "tipoAccesso",
        /// `codNomenclNaz`.
        cod_nomencl_naz: String = "codNomenclNaz",
        /// `codCatalogoErog`.
        cod_catalogo_erog: String = "codCatalogoErog",
        /// `garanziaTempiMax`.
        garanzia_tempi_max: String = "garanziaTempiMax",
        /// `dataPrenotazione`.
        data_prenotazione: String = "dataPrenotazione",
        /// `numeroNota`.
        numero_nota: String = "numeroNota",
        /// `condErogabilita`.
        cond_erogabilita: String = "condErogabilita",
        /// `approprPrescrittiva`.
        appropr_prescrittiva: String = "approprPrescrittiva",
        /// `patologia`.
        patologia: String = "patologia",
        /// `tipoAmbulatorio`.
        tipo_ambulatorio: String = "tipoAmbulatorio",
    }
}

impl DettaglioPrescrizioneVisualErogato {
    fn read(el: &Element, ns: Ns<'_>) -> Self {
        Self::read_elements(el, ns)
    }

    fn write(&self, e: &mut Emitter, p: &str) {
        e.open(p, "DettaglioPrescrizioneVisualErogato");
        self.write_elements(e, p);
        e.close(p, "DettaglioPrescrizioneVisualErogato");
    }
}

/// `VisualizzaErogatoRicevuta`: the prescription (when asked with data), its state and
/// the outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VisualizzaErogatoReceipt {
    /// From `nre` to `dispRic3`.
    pub ricetta: RicettaErogatore,
    /// `ElencoDettagliPrescrVisualErogato`.
    pub dettagli: Vec<DettaglioPrescrizioneVisualErogato>,
    /// `codAutenticazioneMedico`: the code the doctor's InvioPrescritto got.
    pub cod_autenticazione_medico: Option<String>,
    /// `codAutenticazioneErogatore`: the code of the dispensing, once sent.
    pub cod_autenticazione_erogatore: Option<String>,
    /// `codEsitoVisualizzazione`.
    pub cod_esito_visualizzazione: String,
    /// `ElencoErroriRicette`.
    pub errori: Vec<ErroreRicetta>,
    /// `ElencoComunicazioni`.
    pub comunicazioni: Vec<Comunicazione>,
    /// `codEseNaz`: national exemption code.
    pub cod_ese_naz: Option<String>,
}

impl VisualizzaErogatoReceipt {
    /// An accepted receipt carrying `ricetta` and `dettagli` (for servers): `0000`, or `0001`
    /// with the `warnings`.
    pub fn accepted(
        ricetta: RicettaErogatore,
        dettagli: Vec<DettaglioPrescrizioneVisualErogato>,
        warnings: Vec<ErroreRicetta>,
    ) -> Self {
        let (cod_esito_visualizzazione, errori) = accepted(warnings);
        Self {
            ricetta,
            dettagli,
            cod_esito_visualizzazione,
            errori,
            ..Self::default()
        }
    }

    /// A `9999` receipt for this NRE carrying these errors (for servers).
    pub fn rejected(nre: impl Into<String>, errori: Vec<ErroreRicetta>) -> Self {
        Self {
            ricetta: RicettaErogatore {
                nre: Some(nre.into()).filter(|n: &String| !n.is_empty() && n.len() <= 15),
                ..RicettaErogatore::default()
            },
            cod_esito_visualizzazione: REFUSED.into(),
            errori,
            ..Self::default()
        }
    }

    /// The prescription state, if reported.
    pub fn stato(&self) -> Option<StatoProcesso> {
        self.ricetta
            .stato_processo
            .as_deref()
            .and_then(StatoProcesso::from_code)
    }

    /// Whether the receipt carries the prescription's data (not only its state).
    pub fn has_prescription(&self) -> bool {
        self.ricetta.cf_medico1.is_some() || !self.dettagli.is_empty()
    }
}

impl ErogatoreReceipt for VisualizzaErogatoReceipt {
    const SERVICE: ErogatoreService = SERVICE;

    receipt_accessors!(cod_esito_visualizzazione);

    fn from_payload(el: &Element) -> Result<Self, DemError> {
        let ns = Ns::Any;
        expect_root(el, ns, SERVICE.receipt_root())?;
        Ok(Self {
            ricetta: RicettaErogatore::read_elements(el, ns),
            dettagli: receipt::read_list(
                el,
                "ElencoDettagliPrescrVisualErogato",
                "DettaglioPrescrizioneVisualErogato",
                DettaglioPrescrizioneVisualErogato::read,
            ),
            cod_autenticazione_medico: opt(el, ns, "codAutenticazioneMedico"),
            cod_autenticazione_erogatore: opt(el, ns, "codAutenticazioneErogatore"),
            cod_esito_visualizzazione: req(el, ns, "codEsitoVisualizzazione")?,
            errori: receipt::read_errors(el),
            comunicazioni: receipt::read_comunicazioni(el),
            cod_ese_naz: opt(el, ns, "codEseNaz"),
        })
    }

    fn to_xml(&self) -> String {
        let mut w = ReceiptWriter::open(SERVICE, 2048 + 600 * self.dettagli.len());
        {
            let (e, p) = w.own();
            self.ricetta.write_elements(e, p);
        }
        w.list(
            "ElencoDettagliPrescrVisualErogato",
            &self.dettagli,
            DettaglioPrescrizioneVisualErogato::write,
        );
        w.opt(
            "codAutenticazioneMedico",
            self.cod_autenticazione_medico.as_deref(),
        );
        w.opt(
            "codAutenticazioneErogatore",
            self.cod_autenticazione_erogatore.as_deref(),
        );
        w.leaf("codEsitoVisualizzazione", &self.cod_esito_visualizzazione);
        w.errori(&self.errori);
        w.comunicazioni(&self.comunicazioni);
        w.opt("codEseNaz", self.cod_ese_naz.as_deref());
        w.finish()
    }
}
