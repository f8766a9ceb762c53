//! The file of a bundle: `LEGGIMI.txt`, the summary a support person reads first (Italian,
//! with English headings), and `tsgate-support.json`, the same data for programs.

use std::fmt::Write as _;
use std::io::Write as _;

use time::OffsetDateTime;

use super::Bundle;

/// The summary's name inside the archive.
pub(crate) const SUMMARY_FILE: &str = "LEGGIMI.txt";
/// The JSON's name inside the archive.
pub(crate) const JSON_FILE: &str = "tsgate-support.json";

/// The `.zip` of `bundle`.
pub(crate) fn zip(bundle: &Bundle) -> zip::result::ZipResult<Vec<u8>> {
    let t = bundle.generated_at;
    let stamp = zip::DateTime::from_date_and_time(
        u16::try_from(t.year()).unwrap_or(1980),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
    )
    .unwrap_or_default();
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(stamp)
        .unix_permissions(0o644);
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    // Windows' Notepad reads UTF-8 with CRLF line ends best.
    writer.start_file(SUMMARY_FILE, options)?;
    writer.write_all(text(bundle).replace('\n', "\r\n").as_bytes())?;
    writer.start_file(JSON_FILE, options)?;
    writer.write_all(bundle.to_json().as_bytes())?;
    Ok(writer.finish()?.into_inner())
}

/// Italian civil time to the second (`2026-12-08 09:45:14`): what the practice's clocks
/// show. The JSON keeps RFC 3339 in UTC.
fn when(t: OffsetDateTime) -> String {
    let t = tsgate_session::italy::to_rome(t);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn when_opt(t: Option<OffsetDateTime>) -> String {
    t.map_or_else(|| "—".to_owned(), when)
}

fn yes(b: bool) -> &'static str {
    if b { "sì" } else { "no" }
}

/// A closed enum's serialized name (`active`, `green`, `implicit`…).
fn name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn heading(out: &mut String, title: &str) {
    let _ = write!(out, "\n== {title} ==\n");
}

/// The summary of `bundle`, for people.
pub(crate) fn text(b: &Bundle) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Pacchetto di supporto tsgate / tsgate support bundle");
    let _ = writeln!(
        out,
        "Creato il / made on {} da / by {}, formato {}. Orari in ora italiana / times in \
         Italian civil time (UTC in the JSON).",
        when(b.generated_at),
        b.produced_by,
        b.format
    );
    out.push_str(
        "\nContiene versione, configurazione senza segreti, esito di «tsgate check», errori \
         recenti, diagnostica delle caselle certificate, stato e storico di ogni medico e il \
         riepilogo del registro. Non contiene password, PIN, codici ID-SESSIONE (al più le \
         ultime 4 cifre), token delle postazioni, password delle caselle, nomi o codici \
         fiscali dei medici (sono indicati con l'utente Sistema TS), dati dei pazienti.\n\
         Contents: version, configuration without secrets, `tsgate check` results, recent \
         errors, certified-mailbox diagnostics, each doctor's session and history, audit \
         summary. No passwords, PINs, codes, tokens or patient data. The same data for \
         programs is in tsgate-support.json.\n",
    );

    heading(&mut out, "Versione / Version");
    let build = &b.build;
    let _ = writeln!(
        out,
        "tsgate {} ({}), {} {}{}",
        build.version,
        build.profile,
        build.os,
        build.arch,
        build
            .kernel
            .as_deref()
            .map(|k| format!(", kernel {k}"))
            .unwrap_or_default()
    );
    match &b.node {
        Some(n) => {
            let _ = writeln!(
                out,
                "Nodo / node {}: in servizio dal / serving since {} ({} h {} min)",
                n.name,
                when(n.serving_since),
                n.uptime_seconds / 3600,
                n.uptime_seconds % 3600 / 60
            );
        }
        None => out.push_str("Prodotto dalla riga di comando / made by the command line.\n"),
    }

    heading(&mut out, "Ambito / Scope");
    if let Some(note) = &b.data_note {
        let _ = writeln!(out, "Dati non disponibili / no data: {note}");
    }
    match &b.practice {
        Some(p) => {
            let _ = writeln!(
                out,
                "Studio «{}» ({}): {} medici{}.",
                p.name,
                p.id,
                p.doctors,
                if b.doctors_omitted > 0 {
                    format!(
                        ", descritti i primi {} ({} omessi)",
                        b.doctors.len(),
                        b.doctors_omitted
                    )
                } else {
                    String::new()
                }
            );
        }
        None => {
            out.push_str("Tutta l'installazione, in numeri / the whole installation:\n");
            for p in &b.practices {
                let _ = writeln!(
                    out,
                    "  {} «{}»: {} medici, {} postazioni, {} codici attivi",
                    p.id, p.name, p.doctors, p.workstations, p.active_sessions
                );
            }
        }
    }

    heading(&mut out, "Controlli / Checks (tsgate check)");
    match &b.installation {
        Some(i) => {
            for c in &i.checks {
                let _ = writeln!(out, "{:<5} {}", c.status.label(), c.text);
            }
            heading(&mut out, "Configurazione / Configuration (senza segreti)");
            flatten(&mut out, "", &i.configuration);
        }
        None => {
            let _ = writeln!(out, "{}", b.installation_note.as_deref().unwrap_or("—"));
        }
    }

    heading(&mut out, "Errori recenti / Recent errors");
    if b.recent_errors.is_empty() {
        out.push_str("Nessuno negli ultimi giorni / none.\n");
    }
    for e in &b.recent_errors {
        let _ = writeln!(
            out,
            "{}  {}  {}{}{}{}",
            when(e.at),
            e.code,
            e.user
                .as_deref()
                .map(|u| format!("{u} "))
                .unwrap_or_default(),
            e.kind
                .as_deref()
                .map(|k| format!("[{k}] "))
                .unwrap_or_default(),
            e.actor
                .as_deref()
                .map(|a| format!("da {a} "))
                .unwrap_or_default(),
            e.message.as_deref().unwrap_or_default()
        );
    }

    if !b.workstations.is_empty() {
        heading(&mut out, "Postazioni / Workstations");
        for w in &b.workstations {
            let _ = writeln!(
                out,
                "ws:{}  «{}»  {} ({} medici)",
                w.id,
                w.name,
                name(&w.role),
                w.doctors
            );
        }
    }

    if !b.doctors.is_empty() {
        heading(&mut out, "Medici / Doctors");
    }
    for d in &b.doctors {
        doctor(&mut out, d);
    }

    heading(&mut out, "Registro, ultimi 7 giorni / Audit, last 7 days");
    let s = &b.audit_summary;
    let _ = writeln!(
        out,
        "{} righe{} dal {} al {}, {} errori.",
        s.lines,
        if s.truncated { " (almeno)" } else { "" },
        when(s.since),
        when(s.until),
        s.failures
    );
    for c in &s.counts {
        let _ = writeln!(out, "  {:>6}  {} {}", c.count, c.kind, c.outcome);
    }
    out
}

fn doctor(out: &mut String, d: &super::Doctor) {
    let _ = writeln!(
        out,
        "\n-- {} ({}, {}, regione {} ASL {}) --",
        d.user,
        name(&d.role),
        name(&d.environment),
        d.region,
        d.asl
    );
    match &d.session {
        Some(s) => {
            let _ = writeln!(
                out,
                "Codice: {} ({}), scade {}{}; richiesta {} da {}",
                name(&s.state),
                name(&s.level),
                when_opt(s.expires_at),
                if s.pending {
                    ", nuovo codice in arrivo"
                } else {
                    ""
                },
                when_opt(s.requested_at),
                s.requested_by.as_deref().unwrap_or("—")
            );
            if let Some(e) = &s.last_error {
                let _ = writeln!(
                    out,
                    "Ultimo errore: {} ({}): {}",
                    e.code,
                    when_opt(e.at),
                    e.message
                );
            }
            if let Some(c) = &s.credentials_refused {
                let _ = writeln!(out, "Credenziali rifiutate da Sistema TS: {c}");
            }
            if let Some(w) = &s.password_warning {
                let _ = writeln!(out, "Password: {w}");
            }
            if let Some(t) = s.upstream_down_since {
                let _ = writeln!(out, "Sistema TS non risponde dal {}", when(t));
            }
        }
        None => out.push_str("Codice: stato non leggibile.\n"),
    }
    let a = &d.automatic;
    let _ = writeln!(
        out,
        "Richieste automatiche: {}{}{}; richieste oggi {}, errori di fila {}{}{}",
        name(&a.mode),
        if a.own_hours {
            ", orari propri"
        } else {
            ", orari dello studio"
        },
        a.enabled
            .map(|e| format!(", attive ora: {}", yes(e)))
            .unwrap_or_default(),
        a.creates_today,
        a.failures,
        a.next
            .as_deref()
            .or(a.reason.as_deref())
            .map(|t| format!("; {t}"))
            .unwrap_or_default(),
        a.retry_at
            .map(|t| format!("; non prima del {}", when(t)))
            .unwrap_or_default()
    );
    let m = &d.mailbox;
    if m.configured {
        let _ = writeln!(
            out,
            "Casella: {}:{} ({}{}), collegata {}, ultimo controllo {}, IDLE {}, cartelle {}{}",
            m.host.as_deref().unwrap_or("?"),
            m.port.map(|p| p.to_string()).unwrap_or_default(),
            m.security.as_ref().map(name).unwrap_or_default(),
            if m.private_ca { ", CA privata" } else { "" },
            yes(m.connected),
            when_opt(m.last_check),
            yes(m.idle),
            if m.folders.is_empty() {
                "—".to_owned()
            } else {
                m.folders.join(", ")
            },
            m.quota_percent
                .map(|q| format!(", piena al {q}%"))
                .unwrap_or_default()
        );
        if let Some(e) = &m.last_error {
            let _ = writeln!(out, "  errore: [{}] {}", e.code, e.message);
        }
        for diag in &m.diagnostics {
            let _ = writeln!(out, "  diagnostica: [{}] {}", diag.code, diag.message);
        }
    } else {
        out.push_str("Casella: non configurata (codici incollati a mano).\n");
    }
    if !d.history.is_empty() {
        out.push_str("Storico (più recenti prima):\n");
    }
    for h in &d.history {
        let _ = writeln!(
            out,
            "  {}  {} {}  {}{}",
            when(h.at),
            h.kind,
            h.outcome,
            h.actor,
            h.code_hint
                .as_deref()
                .map(|c| format!("  codice {c}"))
                .unwrap_or_default()
        );
    }
}

/// `key = value` lines of a JSON object, nested keys joined with dots.
fn flatten(out: &mut String, prefix: &str, value: &serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(out, &key, v);
            }
        }
        serde_json::Value::Null => {
            let _ = writeln!(out, "{prefix} = —");
        }
        serde_json::Value::String(s) => {
            let _ = writeln!(out, "{prefix} = {s}");
        }
        other => {
            let _ = writeln!(out, "{prefix} = {other}");
        }
    }
}
