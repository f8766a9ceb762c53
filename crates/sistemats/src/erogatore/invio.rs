//! InvioErogato: close the dispensing of a prescription taken in charge (PROTOCOL §5.12).

use crate::dem::codec::{DemError, Emitter, Ns, children, expect_root, opt, req};
use crate::dem::receipt::{self, Comunicazione};
use crate::dem::validate::{Checker, Problem, ValidationError};
use crate::dem::{ErroreRicetta, format_data_ora};
use crate::xml::Element;

use super::common::{REFUSED, ReceiptWriter, Testata, accepted, open_request, text_elements};
use super::service::{ErogatoreReceipt, ErogatoreRequest, ErogatoreService, receipt_accessors};

const SERVICE: ErogatoreService = ErogatoreService::InvioErogato;
const P: &str = "inv";
const TIPI: &str = crate::dem::TIPODATI_NS;

/// `tipoOperazione` of InvioErogato, as the XSD documents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TipoOperazioneInvio {
    /// `1`: total dispensing.
    ErogazioneTotale,
    /// `2`: partial dispensing.
    ErogazioneParziale,
    /// `3`: partial dispensing with forced closure (at the patient's request).
    ErogazioneParzialeConChiusuraForzata,
    /// `4`: deferred total dispensing.
    ErogazioneDifferitaTotale,
    /// `5`: deferred partial dispensing.
    ErogazioneDifferitaParziale,
}

impl TipoOperazioneInvio {
    /// Allowed wire values.
    pub const CODES: &'static [&'static str] = &["1", "2", "3", "4", "5"];

    /// The wire value.
    pub fn code(self) -> &'static str {
        match self {
            Self::ErogazioneTotale => "1",
            Self::ErogazioneParziale => "2",
            Self::ErogazioneParzialeConChiusuraForzata => "3",
            Self::ErogazioneDifferitaTotale => "4",
            Self::ErogazioneDifferitaParziale => "5",
        }
    }

    /// From the wire value.
    pub fn from_code(code: &str) -> Option<Self> {
        Some(match code.trim() {
            "1" => Self::ErogazioneTotale,
            "2" => Self::ErogazioneParziale,
            "3" => Self::ErogazioneParzialeConChiusuraForzata,
            "4" => Self::ErogazioneDifferitaTotale,
            "5" => Self::ErogazioneDifferitaParziale,
            _ => return None,
        })
    }

    /// Whether the prescription is closed by this dispensing (total, or partial with
    /// forced closure).
    pub fn closes(self) -> bool {
        matches!(
            self,
            Self::ErogazioneTotale
                | Self::ErogazioneParzialeConChiusuraForzata
                | Self::ErogazioneDifferitaTotale
        )
    }
}

text_elements! {
    /// The dispensing data of an InvioErogato request, from `prescrizioneFruita` to
    /// `dispRic3`. `dataSpedizione` is required (19 characters).
    pub struct DatiErogazione {
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
        /// `reddito`: empty not exempt, `1` exempt for income.
        reddito: String = "reddito",
        /// `dataSpedizione` (required): when it was dispensed, `aaaa-mm-gg hh:mm:ss`.
        data_spedizione: String = "dataSpedizione",
        /// `dispRic1` (≤256).
        disp_ric1: String = "dispRic1",
        /// `dispRic2` (≤256).
        disp_ric2: String = "dispRic2",
        /// `dispRic3` (≤256).
        disp_ric3: String = "dispRic3",
    }
}

text_elements! {
    /// One dispensed line (`DettaglioPrescrizioneInvioErogato`). Required by the XSD:
    /// `codProdPrestErog`, `prezzo`, `quantitaErogata`, `dataIniErog`, `dataFineErog`.
    pub struct DettaglioPrescrizioneInvioErogato {
        /// `codProdPrest`: the prescribed product, to match the line.
        cod_prod_prest: String = "codProdPrest",
        /// `codGruppoEquival`.
        cod_gruppo_equival: String = "codGruppoEquival",
        /// `descrTestoLiberoNote`.
        descr_testo_libero_note: String = "descrTestoLiberoNote",
        /// `codProdPrestErog` (required): the dispensed product.
        cod_prod_prest_erog: String = "codProdPrestErog",
        /// `descrProdPrestErog`.
        descr_prod_prest_erog: String = "descrProdPrestErog",
        /// `flagErog`.
        flag_erog: String = "flagErog",
        /// `motivazSostProd`.
        motivaz_sost_prod: String = "motivazSostProd",
        /// `targa`.
        targa: String = "targa",
        /// `dichTargaDoppia` (≤1).
        dich_targa_doppia: String = "dichTargaDoppia",
        /// `codBranca`.
        cod_branca: String = "codBranca",
        /// `tipoErogazioneFarm`.
        tipo_erogazione_farm: String = "tipoErogazioneFarm",
        /// `prezzo` (required).
        prezzo: String = "prezzo",
        /// `ticketConfezione`.
        ticket_confezione: String = "ticketConfezione",
        /// `diffGenerico`.
        diff_generico: String = "diffGenerico",
        /// `quantitaErogata` (required).
        quantita_erogata: String = "quantitaErogata",
        /// `dataIniErog` (required, 19 characters).
        data_ini_erog: String = "dataIniErog",
        /// `dataFineErog` (required, 19 characters).
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
        /// `dispFust1` (≤256).
        disp_fust1: String = "dispFust1",
        /// `dispFust2` (≤256).
        disp_fust2: String = "dispFust2",
        /// `dispFust3` (≤256).
        disp_fust3: String = "dispFust3",
        /// `codCatalogoPrescr`.
        cod_catalogo_prescr: String = "codCatalogoPrescr",
        /// `codCatalogoErog`.
        cod_catalogo_erog: String = "codCatalogoErog",
        /// `garanziaTempiMax` (≤1).
        garanzia_tempi_max: String = "garanziaTempiMax",
        /// `dataPrenotazione` (19 characters).
        data_prenotazione: String = "dataPrenotazione",
    }
}

/// Reports a `dataOraType` of InvioErogato (exactly 19 characters, `aaaa-mm-gg hh:mm:ss`).
fn data_ora(c: &mut Checker, field: &str, value: Option<&str>, required: bool) {
    match value {
        None if required => c.report(field, Problem::Missing),
        None => {}
        Some(v) if v.chars().count() != 19 => c.report(field, Problem::WrongLength { length: 19 }),
        Some(v) => c.data_ora(field, v),
    }
}

impl DettaglioPrescrizioneInvioErogato {
    fn check(&self, c: &mut Checker) {
        let required = |c: &mut Checker, field: &str, v: &Option<String>| {
            c.required(field, v.as_deref().unwrap_or_default());
        };
        required(c, "codProdPrestErog", &self.cod_prod_prest_erog);
        required(c, "prezzo", &self.prezzo);
        required(c, "quantitaErogata", &self.quantita_erogata);
        data_ora(c, "dataIniErog", self.data_ini_erog.as_deref(), true);
        data_ora(c, "dataFineErog", self.data_fine_erog.as_deref(), true);
        c.opt_max_len("dichTargaDoppia", self.dich_targa_doppia.as_deref(), 1);
        c.opt_max_len("garanziaTempiMax", self.garanzia_tempi_max.as_deref(), 1);
        for (field, v) in [
            ("dispFust1", &self.disp_fust1),
            ("dispFust2", &self.disp_fust2),
            ("dispFust3", &self.disp_fust3),
        ] {
            c.opt_max_len(field, v.as_deref(), 256);
        }
        data_ora(
            c,
            "dataPrenotazione",
            self.data_prenotazione.as_deref(),
            false,
        );
    }

    fn write(&self, e: &mut Emitter, p: &str) {
        e.open(p, "DettaglioPrescrizioneInvioErogato");
        self.write_elements(e, p);
        e.close(p, "DettaglioPrescrizioneInvioErogato");
    }
}

/// `InvioErogatoRichiesta`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvioErogatoRequest {
    /// The common header.
    pub testata: Testata,
    /// `tipoOperazione` (see [`TipoOperazioneInvio`]).
    pub tipo_operazione: String,
    /// From `prescrizioneFruita` to `dispRic3`.
    pub dati: DatiErogazione,
    /// `ElencoDettagliPrescrInviiErogato`.
    pub dettagli: Vec<DettaglioPrescrizioneInvioErogato>,
}

impl InvioErogatoRequest {
    /// A dispensing of these lines, shipped at `data_spedizione`.
    pub fn new(
        testata: Testata,
        tipo: TipoOperazioneInvio,
        data_spedizione: time::PrimitiveDateTime,
        dettagli: Vec<DettaglioPrescrizioneInvioErogato>,
    ) -> Self {
        Self {
            testata,
            tipo_operazione: tipo.code().to_owned(),
            dati: DatiErogazione {
                data_spedizione: Some(format_data_ora(data_spedizione)),
                ..DatiErogazione::default()
            },
            dettagli,
        }
    }

    /// The operation asked for, if the value is one the kit defines.
    pub fn tipo(&self) -> Option<TipoOperazioneInvio> {
        TipoOperazioneInvio::from_code(&self.tipo_operazione)
    }
}

impl ErogatoreRequest for InvioErogatoRequest {
    const SERVICE: ErogatoreService = SERVICE;

    fn problems(&self) -> Vec<ValidationError> {
        let mut c = Checker::new();
        self.testata.check(&mut c);
        if c.required("tipoOperazione", &self.tipo_operazione) {
            c.one_of(
                "tipoOperazione",
                &self.tipo_operazione,
                TipoOperazioneInvio::CODES,
            );
        }
        data_ora(
            &mut c,
            "dataSpedizione",
            self.dati.data_spedizione.as_deref(),
            true,
        );
        for (field, v) in [
            ("dispRic1", &self.dati.disp_ric1),
            ("dispRic2", &self.dati.disp_ric2),
            ("dispRic3", &self.dati.disp_ric3),
        ] {
            c.opt_max_len(field, v.as_deref(), 256);
        }
        for (i, d) in self.dettagli.iter().enumerate() {
            c.scope(Some(format!(
                "DettaglioPrescrizioneInvioErogato[{}]",
                i + 1
            )));
            d.check(&mut c);
        }
        c.scope(None);
        c.finish()
    }

    fn to_xml(&self) -> String {
        let mut e = open_request(SERVICE, P, Some("td"), 1500 + 700 * self.dettagli.len());
        self.testata.write(&mut e, P);
        e.leaf(P, "tipoOperazione", &self.tipo_operazione);
        self.dati.write_elements(&mut e, P);
        if !self.dettagli.is_empty() {
            e.open(P, "ElencoDettagliPrescrInviiErogato");
            for d in &self.dettagli {
                d.write(&mut e, "td");
            }
            e.close(P, "ElencoDettagliPrescrInviiErogato");
        }
        e.close(P, SERVICE.request_root());
        e.finish()
    }

    fn from_payload(el: &Element) -> Result<Self, DemError> {
        let ns = Ns::Strict(SERVICE.request_namespace());
        expect_root(el, ns, SERVICE.request_root())?;
        let dettagli = el
            .child(
                SERVICE.request_namespace(),
                "ElencoDettagliPrescrInviiErogato",
            )
            .map(|list| {
                children(list, Ns::Strict(TIPI), "DettaglioPrescrizioneInvioErogato")
                    .map(|d| DettaglioPrescrizioneInvioErogato::read_elements(d, Ns::Strict(TIPI)))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            testata: Testata::read(el, ns)?,
            tipo_operazione: req(el, ns, "tipoOperazione")?,
            dati: DatiErogazione::read_elements(el, ns),
            dettagli,
        })
    }
}

/// `DettaglioTicket`: the SAC's ticket computation for one dispensed product.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DettaglioTicket {
    /// `codProdPrestErog`.
    pub cod_prod_prest_erog: String,
    /// `progrPresc`.
    pub progr_presc: String,
    /// `ticketConfezione`.
    pub ticket_confezione: String,
    /// `diffGenerico`.
    pub diff_generico: String,
    /// `prezzo`.
    pub prezzo: String,
}

impl DettaglioTicket {
    fn read(el: &Element, ns: Ns<'_>) -> Self {
        let t = |name| opt(el, ns, name).unwrap_or_default();
        Self {
            cod_prod_prest_erog: t("codProdPrestErog"),
            progr_presc: t("progrPresc"),
            ticket_confezione: t("ticketConfezione"),
            diff_generico: t("diffGenerico"),
            prezzo: t("prezzo"),
        }
    }

    fn write(&self, e: &mut Emitter, p: &str) {
        e.open(p, "DettaglioTicket");
        e.leaf(p, "codProdPrestErog", &self.cod_prod_prest_erog);
        e.leaf(p, "progrPresc", &self.progr_presc);
        e.leaf(p, "ticketConfezione", &self.ticket_confezione);
        e.leaf(p, "diffGenerico", &self.diff_generico);
        e.leaf(p, "prezzo", &self.prezzo);
        e.close(p, "DettaglioTicket");
    }
}

/// `InvioErogatoRicevuta`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvioErogatoReceipt {
    /// `nre`.
    pub nre: Option<String>,
    /// `dataRicezione`.
    pub data_ricezione: Option<String>,
    /// `codAutenticazione`: certifies the dispensing (keep it with the sale).
    pub cod_autenticazione: Option<String>,
    /// `codEsitoInserimento`.
    pub cod_esito_inserimento: String,
    /// `ElencoErroriRicette`.
    pub errori: Vec<ErroreRicetta>,
    /// `ElencoComunicazioni`.
    pub comunicazioni: Vec<Comunicazione>,
    /// `calcoloEffettuato`.
    pub calcolo_effettuato: Option<String>,
    /// `ticketTotale`.
    pub ticket_totale: Option<String>,
    /// `ElencoDettagliTicket`.
    pub dettagli_ticket: Vec<DettaglioTicket>,
}

impl InvioErogatoReceipt {
    /// The receipt of a dispensing recorded (for servers): `0000`, or `0001` with warnings.
    pub fn accepted(
        nre: impl Into<String>,
        data_ricezione: impl Into<String>,
        cod_autenticazione: impl Into<String>,
        warnings: Vec<ErroreRicetta>,
    ) -> Self {
        let (cod_esito_inserimento, errori) = accepted(warnings);
        Self {
            nre: Some(nre.into()),
            data_ricezione: Some(data_ricezione.into()),
            cod_autenticazione: Some(cod_autenticazione.into()),
            cod_esito_inserimento,
            errori,
            ..Self::default()
        }
    }

    /// A `9999` receipt carrying these errors (for servers).
    pub fn rejected(nre: impl Into<String>, errori: Vec<ErroreRicetta>) -> Self {
        Self {
            nre: Some(nre.into()).filter(|n: &String| !n.is_empty() && n.len() <= 15),
            cod_esito_inserimento: REFUSED.into(),
            errori,
            ..Self::default()
        }
    }
}

impl ErogatoreReceipt for InvioErogatoReceipt {
    const SERVICE: ErogatoreService = SERVICE;

    receipt_accessors!(cod_esito_inserimento);

    fn from_payload(el: &Element) -> Result<Self, DemError> {
        let ns = Ns::Any;
        expect_root(el, ns, SERVICE.receipt_root())?;
        Ok(Self {
            nre: opt(el, ns, "nre"),
            data_ricezione: opt(el, ns, "dataRicezione"),
            cod_autenticazione: opt(el, ns, "codAutenticazione"),
            cod_esito_inserimento: req(el, ns, "codEsitoInserimento")?,
            errori: receipt::read_errors(el),
            comunicazioni: receipt::read_comunicazioni(el),
            calcolo_effettuato: opt(el, ns, "calcoloEffettuato"),
            ticket_totale: opt(el, ns, "ticketTotale"),
            dettagli_ticket: receipt::read_list(
                el,
                "ElencoDettagliTicket",
                "DettaglioTicket",
                DettaglioTicket::read,
            ),
        })
    }

    fn to_xml(&self) -> String {
        let mut w = ReceiptWriter::open(SERVICE, 1024 + 300 * self.dettagli_ticket.len());
        w.opt("nre", self.nre.as_deref());
        w.opt("dataRicezione", self.data_ricezione.as_deref());
        w.opt("codAutenticazione", self.cod_autenticazione.as_deref());
        w.leaf("codEsitoInserimento", &self.cod_esito_inserimento);
        w.errori(&self.errori);
        w.comunicazioni(&self.comunicazioni);
        w.opt("calcoloEffettuato", self.calcolo_effettuato.as_deref());
        w.opt("ticketTotale", self.ticket_totale.as_deref());
        w.list(
            "ElencoDettagliTicket",
            &self.dettagli_ticket,
            DettaglioTicket::write,
        );
        w.finish()
    }
}
