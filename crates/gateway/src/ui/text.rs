//! Italian words for states, levels and roles, for the first render of a page (the
//! JavaScript keeps the same wording when it updates the cards).

use time::OffsetDateTime;
use tsgate_session::{Level, SessionView, StateName};

use tsgate_session::WorkstationRole as Role;

/// "26/11 alle 22:05", in the offset the instant carries.
pub(crate) fn day_time(t: OffsetDateTime) -> String {
    format!(
        "{:02}/{:02} alle {:02}:{:02}",
        t.day(),
        u8::from(t.month()),
        t.hour(),
        t.minute()
    )
}

/// The colour in words, for screen readers.
pub(crate) fn level_word(level: Level) -> &'static str {
    match level {
        Level::Green => "verde",
        Level::Yellow => "giallo",
        Level::Red => "rosso",
    }
}

/// The state in words, with the next step.
/// The yellow warning window in words ("un'ora", "2 ore", "30 minuti"), as the page's
/// script says it.
fn warning_window(view: &SessionView) -> String {
    let minutes = match (view.expires_at, view.yellow_from) {
        (Some(end), Some(from)) => (end - from).whole_minutes().max(0),
        _ => 60,
    };
    match minutes {
        60 => "un'ora".into(),
        m if m > 0 && m % 60 == 0 => format!("{} ore", m / 60),
        m => format!("{m} minuti"),
    }
}

pub(crate) fn state_text(view: &SessionView) -> String {
    let since = view
        .requested_at
        .map(|t| format!(" dal {}", day_time(t)))
        .unwrap_or_default();
    match view.state {
        StateName::None => "Nessun codice: premi «Richiedi il codice».".into(),
        StateName::AwaitingCode => format!(
            "In attesa della mail{since}: quando arriva, incolla il codice qui sotto."
        ),
        StateName::Active if view.pending => {
            "Codice attivo · nuovo codice pronto a sostituirlo: incollalo dalla mail.".into()
        }
        StateName::Active if view.level == Level::Yellow => format!(
            "Codice attivo, scade entro {}: richiedine uno nuovo.",
            warning_window(view)
        ),
        StateName::Active => "Codice attivo.".into(),
        StateName::Suspect => {
            "Verifica in corso: Sistema TS ha segnalato il codice, tsgate lo sta ricontrollando."
                .into()
        }
        StateName::Expired => "Codice scaduto: richiedine uno nuovo.".into(),
        StateName::Revoked => "Codice revocato: richiedine uno nuovo.".into(),
        StateName::Rejected => {
            "Codice rifiutato da Sistema TS: richiedine uno nuovo e copialo per intero.".into()
        }
        StateName::CredentialsRefused => {
            "Password o PIN rifiutati da Sistema TS: aggiornali; tsgate non riprova finché non li cambi."
                .into()
        }
    }
}

/// Remaining time in words ("15 h 59 min 12 s").
pub(crate) fn countdown(view: &SessionView) -> String {
    match (view.expires_at, view.remaining_seconds) {
        (Some(at), Some(secs)) if secs > 0 => format!(
            "Scade tra {} h {:02} min {:02} s ({})",
            secs / 3600,
            (secs % 3600) / 60,
            secs % 60,
            day_time(at)
        ),
        (Some(at), _) => format!("Scaduto il {}", day_time(at)),
        _ => "Nessun codice in uso".into(),
    }
}

/// The role of a workstation in words.
pub(crate) fn role_word(role: Role) -> &'static str {
    match role {
        Role::Admin => "amministrazione",
        Role::Doctor => "medico",
        Role::Staff => "segreteria",
    }
}
