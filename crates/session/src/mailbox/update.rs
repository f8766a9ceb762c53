//! `PUT …/mailbox`: a user's new mailbox settings, validated when parsed.

use serde_json::Value;

use super::UserMailbox;
use super::settings::MailboxSettings;

/// Why mailbox settings were refused. The text is Italian and says what to change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidMailbox(pub String);

/// New certified-mailbox settings for one user: the watcher's settings (`host`, `port`,
/// `security`, `username`, `password`, `ca_pem`, `folders`, `accepted_senders`, …) plus
/// `address`, the one certified on the Sistema TS portal. Without a password (or with an
/// empty one) the stored password is kept ([`MailboxUpdate::apply`]).
#[derive(Clone, Debug)]
pub struct MailboxUpdate {
    settings: MailboxSettings,
    password_given: bool,
    address: Option<String>,
}

impl MailboxUpdate {
    /// Parses and validates the JSON of `PUT …/mailbox`. Serde's own text is never shown:
    /// it may quote the offending value, which can be the password.
    pub fn from_json(value: Value) -> Result<Self, InvalidMailbox> {
        let Value::Object(mut map) = value else {
            return Err(InvalidMailbox(
                "Le impostazioni della casella vanno inviate come oggetto JSON.".into(),
            ));
        };
        let address = match map.remove("address") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) if s.contains('@') => Some(s.trim().to_owned()),
            Some(_) => {
                return Err(InvalidMailbox(
                    "«address» deve essere l'indirizzo certificato sul portale Sistema TS \
                     (es. rossi@pec.it)."
                        .into(),
                ));
            }
        };
        let password_given = map
            .get("password")
            .and_then(Value::as_str)
            .is_some_and(|p| !p.is_empty());
        if !password_given {
            map.remove("password");
        }
        let settings: MailboxSettings =
            serde_json::from_value(Value::Object(map)).map_err(|e| {
                // Only the name of a missing field, never a value (it may be the password).
                let text = e.to_string();
                let field = text
                    .strip_prefix("missing field `")
                    .and_then(|rest| rest.split('`').next())
                    .unwrap_or("");
                InvalidMailbox(format!(
                    "Impostazioni della casella non valide{}: servono almeno «host» e «username»; \
                 «security» è implicit, start_tls o plain.",
                    if field.is_empty() || field.len() > 40 {
                        String::new()
                    } else {
                        format!(" (campo «{field}»)")
                    }
                ))
            })?;
        settings
            .validate()
            .map_err(|e| InvalidMailbox(e.to_string()))?;
        Ok(Self {
            settings,
            password_given,
            address,
        })
    }

    /// The settings to store: this update, with the stored password of `previous` when no
    /// new one was given.
    pub fn apply(self, previous: Option<&UserMailbox>) -> Result<UserMailbox, InvalidMailbox> {
        let mut settings = self.settings;
        if !self.password_given {
            match previous {
                Some(p) => settings.password = p.settings.password.clone(),
                None => {
                    return Err(InvalidMailbox(
                        "Indica la password della casella («password»).".into(),
                    ));
                }
            }
        }
        Ok(UserMailbox {
            settings,
            address: self.address,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value, previous: Option<&UserMailbox>) -> Result<UserMailbox, String> {
        MailboxUpdate::from_json(v)
            .and_then(|u| u.apply(previous))
            .map_err(|e| e.0)
    }

    #[test]
    fn keeps_the_stored_password_and_validates() {
        let first = parse(
            json!({"host": "127.0.0.1", "port": 1143, "security": "plain",
                   "username": "a@b.it", "password": "Segreta1", "address": "a@pec.it"}),
            None,
        )
        .unwrap();
        assert_eq!(first.settings.password.expose_secret(), "Segreta1");
        assert_eq!(first.address.as_deref(), Some("a@pec.it"));
        let second = parse(
            json!({"host": "127.0.0.1", "port": 1143, "security": "plain", "username": "a@b.it",
                   "folders": ["Archivio"]}),
            Some(&first),
        )
        .unwrap();
        assert_eq!(second.settings.password.expose_secret(), "Segreta1");
        assert_eq!(second.settings.folders, vec!["Archivio".to_owned()]);
        let err = parse(
            json!({"host": "imap.example.it", "security": "plain", "username": "u", "password": "p"}),
            None,
        )
        .unwrap_err();
        assert!(err.contains("TLS o STARTTLS"), "{err}");
        let err = parse(json!({"host": "h", "username": "u"}), None).unwrap_err();
        assert!(err.contains("password"), "{err}");
        assert!(parse(json!({"username": "u", "password": "p"}), None).is_err());
        assert!(parse(json!({"host": "h", "username": "u", "address": 3}), None).is_err());
        assert!(parse(json!(["host"]), None).is_err());
    }

    #[test]
    fn a_wrongly_typed_password_is_never_quoted() {
        let err = parse(
            json!({"host": "h", "username": "u", "password": "x", "port": "Segreta!99"}),
            None,
        )
        .unwrap_err();
        assert!(!err.contains("Segreta!99"), "{err}");
    }
}
