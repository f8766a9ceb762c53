//! What a user's profile fields must be, checked when they are entered (web form, API,
//! command line, import) rather than when Sistema TS refuses a request hours later. Each
//! problem names its field and says, in Italian, what is expected.

use serde::Serialize;

use crate::user::{Environment, UserProfile};

/// The region codes of Sistema TS (`codRegione`): the regions and the two autonomous
/// provinces, in the Ministry of Health's numbering.
pub const REGIONS: [(&str, &str); 21] = [
    ("010", "Piemonte"),
    ("020", "Valle d'Aosta"),
    ("030", "Lombardia"),
    ("041", "Provincia autonoma di Bolzano"),
    ("042", "Provincia autonoma di Trento"),
    ("050", "Veneto"),
    ("060", "Friuli-Venezia Giulia"),
    ("070", "Liguria"),
    ("080", "Emilia-Romagna"),
    ("090", "Toscana"),
    ("100", "Umbria"),
    ("110", "Marche"),
    ("120", "Lazio"),
    ("130", "Abruzzo"),
    ("140", "Molise"),
    ("150", "Campania"),
    ("160", "Puglia"),
    ("170", "Basilicata"),
    ("180", "Calabria"),
    ("190", "Sicilia"),
    ("200", "Sardegna"),
];

/// The name of the region whose code is `code`.
pub fn region_name(code: &str) -> Option<&'static str> {
    REGIONS.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

/// One field that cannot be accepted, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    /// The field, as the API and the import name it (`cf`, `region`, `asl`, `ssa`).
    pub field: &'static str,
    /// What is wrong and what is expected, in Italian.
    pub message: String,
}

impl std::fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The problems of `profile`'s fields (empty: acceptable).
pub fn check_profile(profile: &UserProfile) -> Vec<FieldProblem> {
    let mut problems = Vec::new();
    let strict = profile.environment == Environment::Production;
    if let Err(message) = check_fiscal_code(&profile.fiscal_code, strict) {
        problems.push(FieldProblem {
            field: "cf",
            message,
        });
    }
    if let Err(message) = check_region(&profile.region) {
        problems.push(FieldProblem {
            field: "region",
            message,
        });
    }
    if let Err(message) = check_digits(&profile.asl, 3, 3, "ASL (asl)", "202; 000 se non prevista")
    {
        problems.push(FieldProblem {
            field: "asl",
            message,
        });
    }
    if let Err(message) = check_digits(
        &profile.ssa,
        5,
        6,
        "codice SSA (ssa)",
        "000000 per un medico",
    ) {
        problems.push(FieldProblem {
            field: "ssa",
            message,
        });
    }
    problems
}

/// `codRegione`: one of [`REGIONS`].
pub fn check_region(code: &str) -> Result<&'static str, String> {
    if let Some(name) = region_name(code) {
        return Ok(name);
    }
    // "13" for Abruzzo: a code written without its zero.
    let mut guesses: Vec<String> = Vec::new();
    if (1..3).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit()) {
        for guess in [format!("{code}0"), format!("{code:0>3}")] {
            if let Some(name) = region_name(&guess)
                && !guesses.iter().any(|g| g.starts_with(&guess))
            {
                guesses.push(format!("{guess} ({name})"));
            }
        }
    }
    let hint = if guesses.is_empty() {
        String::new()
    } else {
        format!(" Forse intendevi {}?", guesses.join(" o "))
    };
    Err(format!(
        "Regione (region) «{code}» non valida: serve il codice di 3 cifre di Sistema TS, per \
         esempio 130 per l'Abruzzo, 120 per il Lazio, 030 per la Lombardia.{hint}"
    ))
}

fn check_digits(
    value: &str,
    min: usize,
    max: usize,
    label: &str,
    example: &str,
) -> Result<(), String> {
    let digits = value.bytes().all(|b| b.is_ascii_digit());
    if digits && (min..=max).contains(&value.len()) {
        return Ok(());
    }
    let size = if min == max {
        format!("{min} cifre")
    } else {
        format!("da {min} a {max} cifre")
    };
    Err(format!(
        "{label} «{value}» non valido: servono {size} (per esempio {example})."
    ))
}

/// The user's fiscal code (`cfUtente`): 16 letters or digits; with `strict` (production),
/// also the shape of a personal fiscal code and its check character. The test identities
/// of Sistema TS (`PROVAX00X00X000Y`) are not real codes, so the test environment checks
/// the length only.
pub fn check_fiscal_code(cf: &str, strict: bool) -> Result<(), String> {
    let shown: String = cf.chars().take(20).collect();
    if cf.len() != 16
        || !cf
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Err(format!(
            "Codice fiscale (cf) «{shown}» non valido: servono 16 lettere maiuscole o cifre, \
             senza spazi."
        ));
    }
    if !strict {
        return Ok(());
    }
    let b = cf.as_bytes();
    // Positions that may hold a digit or, after "omocodia", the letter standing for it.
    let numeric = [6, 7, 9, 10, 12, 13, 14];
    let shape_ok = b.iter().enumerate().all(|(i, c)| match i {
        0..=5 | 8 | 11 | 15 => c.is_ascii_uppercase(),
        _ if numeric.contains(&i) => c.is_ascii_digit() || b"LMNPQRSTUV".contains(c),
        _ => false,
    }) && b"ABCDEHLMPRST".contains(&b[8]);
    if !shape_ok {
        return Err(format!(
            "Codice fiscale (cf) «{shown}» non valido: non ha la forma di un codice fiscale \
             personale (6 lettere, 2 cifre, la lettera del mese, …)."
        ));
    }
    if check_character(&b[..15]) != b[15] {
        return Err(format!(
            "Codice fiscale (cf) «{shown}» non valido: il carattere di controllo non \
             corrisponde. Controlla di averlo copiato per intero dalla tessera sanitaria."
        ));
    }
    Ok(())
}

/// The 16th character of a fiscal code, from the first 15.
fn check_character(first: &[u8]) -> u8 {
    // Values of the characters in odd positions (1st, 3rd, …) for 0-9 / A-Z.
    const ODD: [u32; 26] = [
        1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24,
        23,
    ];
    let sum: u32 = first
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let index = if c.is_ascii_digit() {
                u32::from(c - b'0')
            } else {
                u32::from(c - b'A')
            };
            if i % 2 == 0 {
                ODD[index as usize]
            } else {
                index
            }
        })
        .sum();
    b'A' + (sum % 26) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_fiscal_codes_pass_and_mistakes_are_named() {
        // A published example (the kit's pharmacy owner), and the classic textbook one.
        for cf in ["BBTMRZ54L19H501T", "RSSMRA85T10A562S"] {
            assert_eq!(check_fiscal_code(cf, true), Ok(()), "{cf}");
        }
        let wrong = check_fiscal_code("RSSMRA85T10A562T", true).unwrap_err();
        assert!(wrong.contains("carattere di controllo"), "{wrong}");
        let short = check_fiscal_code("RSSMRA85T10", true).unwrap_err();
        assert!(short.contains("(cf)") && short.contains("16"), "{short}");
        // Omocodia: digits replaced by letters keep a valid code valid.
        assert_eq!(check_fiscal_code("RSSMRA85T10A56NH", true), Ok(()));
        // The test identities of Sistema TS are accepted in the test environment only.
        assert_eq!(check_fiscal_code("PROVAX00X00X000Y", false), Ok(()));
        assert!(check_fiscal_code("PROVAX00X00X000Y", true).is_err());
    }

    #[test]
    fn region_codes_are_the_official_ones() {
        assert_eq!(check_region("130"), Ok("Abruzzo"));
        assert_eq!(check_region("041"), Ok("Provincia autonoma di Bolzano"));
        let two = check_region("13").unwrap_err();
        assert!(two.contains("(region)") && two.contains("130"), "{two}");
        assert!(check_region("040").is_err());
        assert!(check_region("ABC").is_err());
    }
}
