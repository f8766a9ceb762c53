//! Secret values as types.
//!
//! Passwords, PINs and ID-SESSIONE codes are wrapped so that printing one by mistake
//! (`{:?}`, `{}` in a log line, a panic message) shows a mask, never the value. The value is
//! reachable only through an explicit `expose_secret()` call, which is easy to audit.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident, $label:literal) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(SecretString);

        impl $name {
            /// Wraps a value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(SecretString::from(value.into()))
            }

            /// The clear value. Call only where the protocol needs it.
            pub fn expose_secret(&self) -> &str {
                self.0.expose_secret()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!($label, "(***)"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("***")
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                // Not constant-time: these values are compared only with values the caller
                // already holds, never with attacker-chosen guesses in a loop.
                self.expose_secret() == other.expose_secret()
            }
        }

        impl Eq for $name {}

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self::new(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::new(value)
            }
        }
    };
}

secret_type!(
    /// A Sistema TS password (sent only inside the HTTP Basic header).
    Password,
    "Password"
);
secret_type!(
    /// A Sistema TS PIN code ("pincode"), sent only encrypted with SanitelCF.
    Pin,
    "Pin"
);
secret_type!(
    /// An ID-SESSIONE: the 36-character second-factor code sent as `Authorization2F: Bearer`.
    ///
    /// Sistema TS issues lowercase UUIDs, but clients must accept any 36-character value and
    /// compare it as given, so this type does not parse it.
    SessionCode,
    "SessionCode"
);

impl SessionCode {
    /// A short, non-secret fingerprint for logs and audit ("…2920"): the last four characters.
    ///
    /// Four characters out of 36 do not help guessing the code, and let support tell two
    /// codes apart.
    pub fn hint(&self) -> String {
        let v = self.expose_secret();
        let tail: String = v
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("…{tail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_masked() {
        let code = SessionCode::new("1f6a0702-2cfc-4903-8cfc-609a7e232920");
        assert_eq!(format!("{code:?}"), "SessionCode(***)");
        assert_eq!(format!("{code}"), "***");
        let pin = Pin::new("1234567890");
        assert!(!format!("{pin:?} {pin}").contains("1234"));
        let pwd = Password::new("Salve123");
        assert!(!format!("{pwd:?} {pwd}").contains("Salve"));
        assert_eq!(code.hint(), "…2920");
    }
}
