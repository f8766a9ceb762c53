//! The SOAP Faults the proxy answers with when it does not forward a call.
//!
//! The `faultstring` is what the practice software shows the doctor: Italian, with the next
//! step. `X-Tsgate-Error` carries a stable machine code for scripts and tests.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sistemats::soap::Fault;

/// A refused proxy call.
#[derive(Debug)]
pub(crate) struct ProxyRefusal {
    pub(crate) status: StatusCode,
    /// Machine code (metrics label, `X-Tsgate-Error`).
    pub(crate) reason: &'static str,
    pub(crate) fault: Fault,
    pub(crate) retry_after: Option<u64>,
}

impl IntoResponse for ProxyRefusal {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.fault.to_envelope()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/xml; charset=utf-8"),
        );
        headers.insert("x-tsgate-error", HeaderValue::from_static(self.reason));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Constructors of every refusal, one per reason.
pub(crate) mod refusal {
    use super::*;

    fn client(status: StatusCode, reason: &'static str, text: String) -> ProxyRefusal {
        ProxyRefusal {
            status,
            reason,
            fault: Fault::client(text),
            retry_after: None,
        }
    }

    fn server(status: StatusCode, reason: &'static str, text: String) -> ProxyRefusal {
        ProxyRefusal {
            status,
            reason,
            fault: Fault::server(text),
            retry_after: None,
        }
    }

    pub(crate) fn method() -> ProxyRefusal {
        client(
            StatusCode::METHOD_NOT_ALLOWED,
            "method",
            "tsgate: il proxy accetta solo chiamate SOAP (POST) ai servizi della ricetta dematerializzata.".into(),
        )
    }

    pub(crate) fn no_workstation() -> ProxyRefusal {
        client(
            StatusCode::FORBIDDEN,
            "workstation",
            "tsgate: postazione non registrata. Configura nel programma l'indirizzo del proxy con il token della postazione (…/ts/<token>/…) o l'intestazione X-Tsgate-Token; il token si chiede all'amministratore di tsgate.".into(),
        )
    }

    pub(crate) fn rate_limited(secs: u64) -> ProxyRefusal {
        let mut r = server(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "tsgate: troppe richieste da questa postazione. Attendi {secs} secondi e riprova."
            ),
        );
        r.retry_after = Some(secs);
        r
    }

    pub(crate) fn unknown_path() -> ProxyRefusal {
        client(
            StatusCode::NOT_FOUND,
            "unknown_service",
            "tsgate: servizio non gestito dal proxy. Sono inoltrati solo i servizi della ricetta dematerializzata (DEM): controlla l'indirizzo configurato nel programma.".into(),
        )
    }

    pub(crate) fn no_user() -> ProxyRefusal {
        client(
            StatusCode::BAD_REQUEST,
            "no_user",
            "tsgate: utente Sistema TS non indicato. Il programma deve inviare le credenziali Sistema TS (autenticazione Basic) oppure l'intestazione X-Tsgate-User.".into(),
        )
    }

    pub(crate) fn two_users(named: &str, basic: &str) -> ProxyRefusal {
        client(
            StatusCode::FORBIDDEN,
            "two_users",
            format!(
                "tsgate: la chiamata indica due utenti diversi (X-Tsgate-User {named}, credenziali Sistema TS di {basic}) e non è stata inoltrata. Configura nel programma le credenziali Sistema TS del medico che prescrive, oppure togli l'intestazione X-Tsgate-User."
            ),
        )
    }

    pub(crate) fn not_allowed(user: &str) -> ProxyRefusal {
        client(
            StatusCode::FORBIDDEN,
            "not_allowed",
            format!(
                "tsgate: questa postazione non è autorizzata a usare il codice dell'utente {user}. Chiedi all'amministratore di tsgate di abilitarla."
            ),
        )
    }

    pub(crate) fn not_soap() -> ProxyRefusal {
        client(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_soap",
            "tsgate: la chiamata non è un messaggio SOAP (serve Content-Type: text/xml) e non è stata inoltrata. Controlla che il programma invii la ricetta come servizio web SOAP di Sistema TS.".into(),
        )
    }

    pub(crate) fn too_large(limit: usize) -> ProxyRefusal {
        client(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "tsgate: messaggio troppo grande (oltre {} KiB).",
                limit / 1024
            ),
        )
    }

    pub(crate) fn no_code(user: &str, message_it: Option<String>) -> ProxyRefusal {
        server(
            StatusCode::INTERNAL_SERVER_ERROR,
            "no_code",
            message_it.unwrap_or_else(|| format!(
                "Nessun ID-SESSIONE valido per l'utente {user}: richiedi il codice dalla pagina di tsgate e, quando la scheda dell'utente diventa verde, ripeti l'invio. La ricetta non è stata inviata."
            )),
        )
    }

    pub(crate) fn too_many_held(max: usize) -> ProxyRefusal {
        server(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_held",
            format!(
                "tsgate sta già trattenendo {max} chiamate in attesa di un codice: la ricetta non è stata inviata. Ripeti l'invio tra qualche secondo, quando la scheda dell'utente è verde."
            ),
        )
    }

    pub(crate) fn upstream_down() -> ProxyRefusal {
        server(
            StatusCode::BAD_GATEWAY,
            "upstream_unreachable",
            "Sistema TS non risponde: la ricetta non è stata inviata. Riprova tra qualche minuto."
                .into(),
        )
    }

    pub(crate) fn body_timeout() -> ProxyRefusal {
        client(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            "tsgate: il messaggio è arrivato troppo lentamente dalla postazione ed è stato interrotto prima di arrivare completo a Sistema TS. Controlla la rete e ripeti l'invio.".into(),
        )
    }

    pub(crate) fn upstream_broken() -> ProxyRefusal {
        server(
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            "Sistema TS non risponde correttamente. Prima di ripetere l'invio controlla con la visualizzazione se la ricetta risulta già inviata.".into(),
        )
    }

    pub(crate) fn upstream_not_soap(status: StatusCode) -> ProxyRefusal {
        server(
            StatusCode::BAD_GATEWAY,
            "upstream_not_soap",
            format!(
                "Sistema TS ha risposto con un errore (HTTP {}) invece della ricevuta: la ricetta potrebbe essere stata registrata comunque. Prima di ripetere l'invio controlla con la visualizzazione se risulta già inviata.",
                status.as_u16()
            ),
        )
    }

    pub(crate) fn upstream_malformed() -> ProxyRefusal {
        server(
            StatusCode::BAD_GATEWAY,
            "upstream_malformed",
            "Sistema TS ha inviato una ricevuta incompleta o illeggibile: la ricetta potrebbe essere stata registrata. Prima di ripetere l'invio controlla con la visualizzazione se risulta già inviata.".into(),
        )
    }

    pub(crate) fn upstream_timeout() -> ProxyRefusal {
        server(
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_timeout",
            "Sistema TS non ha risposto in tempo. Prima di ripetere l'invio controlla con la visualizzazione se la ricetta risulta già inviata.".into(),
        )
    }

    pub(crate) fn internal() -> ProxyRefusal {
        server(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "tsgate: errore interno. Riprova; se il problema si ripete, contatta l'assistenza."
                .into(),
        )
    }
}
