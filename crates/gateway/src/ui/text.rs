//! Italian words for the first render of a page. The page's script (`assets/doctor.js`)
//! re-renders the cards with the same words and rules; `ui::tests` pins the wording of both
//! where it matters. Times are Italian civil time (the practice's), as the domain's own
//! messages ("Rinnovo automatico alle 12:40") are.

use time::OffsetDateTime;
use tsgate_session::italy::to_rome;
use tsgate_session::{Actor, Level, SessionView, StateName};

use tsgate_session::WorkstationRole as Role;

/// "26/11 alle 22:05", Italian time.
pub(crate) fn day_time(t: OffsetDateTime) -> String {
    let t = to_rome(t);
    format!(
        "{:02}/{:02} alle {:02}:{:02}",
        t.day(),
        u8::from(t.month()),
        t.hour(),
        t.minute()
    )
}

/// "22:05", Italian time.
pub(crate) fn clock(t: OffsetDateTime) -> String {
    let t = to_rome(t);
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// A duration as a doctor reads it: "15 h 04 min", "58 min", "40 s" (never "0 h 58 min"),
/// with no-break spaces so that a number never wraps away from its unit.
pub(crate) fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        s if s >= 3600 => format!("{}\u{a0}h\u{a0}{:02}\u{a0}min", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{}\u{a0}min", s / 60),
        s => format!("{s}\u{a0}s"),
    }
}

/// What the card looks like: the traffic light, plus its own look while the mail is awaited
/// (a request is on its way: not the red of "no code").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Look {
    Green,
    Yellow,
    Red,
    Waiting,
}

impl Look {
    pub(crate) fn of(view: &SessionView) -> Self {
        if view.state == StateName::AwaitingCode {
            return Self::Waiting;
        }
        match view.level {
            Level::Green => Self::Green,
            Level::Yellow => Self::Yellow,
            Level::Red => Self::Red,
        }
    }

    /// `green`, `yellow`, `red`, `waiting` (CSS class and `data-level`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Green => "green",
            Self::Yellow => "yellow",
            Self::Red => "red",
            Self::Waiting => "waiting",
        }
    }

    /// For screen readers: "Semaforo verde", "Semaforo: in attesa della mail".
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Green => "Semaforo verde",
            Self::Yellow => "Semaforo giallo",
            Self::Red => "Semaforo rosso",
            Self::Waiting => "Semaforo: in attesa della mail",
        }
    }
}

/// Automatic requests are on and able to run: the mail is read and the codes are requested
/// and renewed without the doctor.
pub(crate) fn auto_on(view: &SessionView) -> bool {
    view.auto
        .as_ref()
        .is_some_and(|a| a.enabled && a.reason.is_none())
}

/// A code is in use and not past its end.
fn usable(view: &SessionView) -> bool {
    matches!(view.state, StateName::Active | StateName::Suspect)
        && view.remaining_seconds.is_some_and(|s| s > 0)
}

/// The yellow warning window in words ("un'ora", "2 ore", "30 minuti").
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

/// The headline of the card: the state in words, with the next step when there is one.
pub(crate) fn state_text(view: &SessionView) -> String {
    let auto = auto_on(view);
    if matches!(view.state, StateName::Active | StateName::Suspect) && !usable(view) {
        return expired_text(auto);
    }
    match view.state {
        StateName::None | StateName::Rejected if auto => "Nessun codice in uso.".into(),
        StateName::None | StateName::Rejected => {
            "Nessun codice: premi «Richiedi il codice».".into()
        }
        StateName::AwaitingCode if auto => {
            "In attesa della mail: tsgate inserisce il codice appena arriva.".into()
        }
        StateName::AwaitingCode => {
            "In attesa della mail: quando arriva, incolla il codice qui sotto.".into()
        }
        StateName::Active if view.pending && auto => {
            "Codice attivo · nuovo codice richiesto: tsgate lo attiva appena arriva la mail.".into()
        }
        StateName::Active if view.pending => {
            "Codice attivo · nuovo codice richiesto: quando arriva la mail, incollalo qui sotto."
                .into()
        }
        StateName::Active if view.level == Level::Yellow && auto => format!(
            "Codice attivo, scade entro {}: tsgate lo rinnova da solo.",
            warning_window(view)
        ),
        StateName::Active if view.level == Level::Yellow => format!(
            "Codice attivo, scade entro {}: richiedine uno nuovo.",
            warning_window(view)
        ),
        StateName::Active => "Codice attivo.".into(),
        StateName::Suspect => {
            "Verifica in corso: Sistema TS ha segnalato il codice, tsgate lo sta ricontrollando."
                .into()
        }
        StateName::Expired => expired_text(auto),
        StateName::Revoked if auto => "Codice revocato.".into(),
        StateName::Revoked => "Codice revocato: richiedine uno nuovo.".into(),
        StateName::CredentialsRefused => "Password o PIN rifiutati da Sistema TS.".into(),
    }
}

fn expired_text(auto: bool) -> String {
    if auto {
        "Codice scaduto.".into()
    } else {
        "Codice scaduto: richiedine uno nuovo.".into()
    }
}

/// The line under the headline: how long the code lasts, or since when the mail is awaited.
/// Empty when there is nothing to add to the headline.
pub(crate) fn detail(view: &SessionView, now: OffsetDateTime) -> String {
    match (view.state, view.expires_at, view.remaining_seconds) {
        (StateName::AwaitingCode, _, _) => match view.requested_at {
            Some(at) => format!(
                "{} alle {} · in attesa da {}",
                if is_auto(view) {
                    "Richiesto automaticamente"
                } else {
                    "Richiesto"
                },
                clock(at),
                duration((now - at).whole_seconds())
            ),
            None => String::new(),
        },
        (_, Some(at), Some(secs)) if secs > 0 => {
            format!("Scade tra {} ({})", duration(secs), day_time(at))
        }
        (_, Some(at), _) => format!("Scaduto il {}", day_time(at)),
        _ => String::new(),
    }
}

fn is_auto(view: &SessionView) -> bool {
    view.requested_by == Some(Actor::Auto)
}

/// The line about automatic requests: the next one, or why none can run although they are
/// on. Empty when they are off (the manual flow needs no word about them) or while one is on
/// its way.
pub(crate) fn auto_line(view: &SessionView) -> String {
    match &view.auto {
        Some(a) if a.enabled => a
            .next
            .clone()
            .or_else(|| a.reason.clone())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// `last_error` codes that describe the session for every workstation until they are
/// resolved. The others (a pasted code refused, a request too soon) answered one
/// workstation's action: that workstation was told, the others are not bothered with it.
pub(crate) const STANDING_ERRORS: [&str; 11] = [
    "mail_late",
    "upstream_unavailable",
    "create_lost",
    "no_certified_mail",
    "mail_send_failed",
    "upstream_error",
    "auto_limit",
    "password_refused",
    "pin_refused",
    "user_refused",
    "credentials_missing",
];

/// The one message of the card at first paint: a standing problem, else the password
/// warning. (`code`, kind, text); kind is the CSS class: `alert` or `warn`.
pub(crate) fn message(view: &SessionView) -> Option<(String, &'static str, String)> {
    if let Some(e) = &view.last_error
        && STANDING_ERRORS.contains(&e.code.as_str())
    {
        return Some((e.code.clone(), "alert", e.message.clone()));
    }
    view.password_warning
        .as_ref()
        .map(|w| ("password_warning".to_owned(), "warn", w.clone()))
}

/// When the card is green and the codes come by themselves, the paste field folds away and
/// a new request is a secondary action.
pub(crate) fn calm(view: &SessionView) -> bool {
    Look::of(view) == Look::Green && auto_on(view) && !view.pending
}

/// The label of the request button.
pub(crate) fn request_label(view: &SessionView) -> &'static str {
    if usable(view) {
        "Richiedi un nuovo codice"
    } else {
        "Richiedi il codice"
    }
}

/// Whether the request button is the card's main action: when there is no code, or it is
/// about to end and nobody renews it by itself; not while it is green or a mail is awaited.
pub(crate) fn request_is_primary(view: &SessionView) -> bool {
    match Look::of(view) {
        Look::Red => true,
        Look::Yellow => !auto_on(view),
        Look::Green | Look::Waiting => false,
    }
}

/// How a page names a workstation: a practice's "postazione" or, when every user it acts
/// for is a pharmacy, a pharmacy's counter ("banco").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    Postazione,
    Banco,
}

impl Place {
    /// `Banco` when there are users and all are pharmacies.
    pub(crate) fn of(roles: &[tsgate_session::Role]) -> Self {
        if !roles.is_empty() && roles.iter().all(|r| *r == tsgate_session::Role::Farmacia) {
            Self::Banco
        } else {
            Self::Postazione
        }
    }

    /// The word, lowercase ("postazione", "banco"): `data-place` for the page's script.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Self::Postazione => "postazione",
            Self::Banco => "banco",
        }
    }

    /// What goes before a workstation's name in the page header: "Postazione " or
    /// "Banco ", nothing when the name already starts with that word ("Banco 2").
    pub(crate) fn before(self, name: &str) -> &'static str {
        let word = self.word();
        let named = name
            .get(..word.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(word));
        match (self, named) {
            (_, true) => "",
            (Self::Postazione, false) => "Postazione ",
            (Self::Banco, false) => "Banco ",
        }
    }

    /// Whom tsgate serves, as the footer says it.
    pub(crate) fn everyone(self) -> &'static str {
        match self {
            Self::Postazione => "tutto lo studio",
            Self::Banco => "tutta la farmacia",
        }
    }

    /// The role of a workstation in words, in this place's words.
    pub(crate) fn role_word(self, role: Role) -> &'static str {
        match (self, role) {
            (Self::Banco, Role::Doctor) => "farmacista",
            (Self::Banco, Role::Staff) => "banco senza codice",
            (_, role) => role_word(role),
        }
    }
}

/// Who made a request, as "Ultime richieste" says it.
pub(crate) fn requester(
    actor: &str,
    name: Option<&str>,
    this_workstation: &str,
    place: Place,
) -> String {
    let banco = place == Place::Banco;
    match actor.strip_prefix("ws:") {
        Some(id) if id == this_workstation => if banco {
            "questo banco"
        } else {
            "questa postazione"
        }
        .into(),
        Some(_) => match name {
            Some(n) => format!("{} «{n}»", place.word()),
            None => if banco {
                "un altro banco"
            } else {
                "un'altra postazione"
            }
            .into(),
        },
        None => match actor {
            "auto" => "rinnovo automatico".into(),
            "mailbox" => "casella di posta".into(),
            "cli" => "riga di comando".into(),
            "system" => "tsgate".into(),
            other => other.into(),
        },
    }
}

/// What came of a request, in words.
pub(crate) fn request_outcome(outcome: &str) -> String {
    match outcome {
        "sent" => "inviata a Sistema TS",
        "mailed" => "mail spedita da Sistema TS",
        "issued" => "codice ricevuto da Sistema TS",
        "too_soon" => "non inviata: troppo ravvicinata",
        "auto_limit" => "non inviata: limite giornaliero raggiunto",
        "upstream_unavailable" => "Sistema TS non ha risposto",
        "upstream_error" => "errore di Sistema TS",
        "no_certified_mail" => "nessuna mail certificata (A2F 200)",
        "mail_send_failed" => "mail non spedita da Sistema TS (A2F 100)",
        "password_refused" => "password rifiutata da Sistema TS",
        "pin_refused" => "PIN rifiutato da Sistema TS",
        "user_refused" => "utente non riconosciuto da Sistema TS",
        "credentials_missing" => "mancano password e PIN",
        other => other,
    }
    .into()
}

/// The role of a workstation in words.
pub(crate) fn role_word(role: Role) -> &'static str {
    match role {
        Role::Admin => "amministrazione",
        Role::Doctor => "medico",
        Role::Staff => "segreteria",
        Role::Backend => "gestionale (server)",
        Role::Vendor => "fornitore",
    }
}
