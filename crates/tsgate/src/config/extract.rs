//! Reading the merged configuration into [`Config`] with every problem reported at once.
//!
//! serde stops at the first error, and figment words it for its own profiles ("for key
//! \"default.enviroment\"", "expected `one of `listen`, …``"). Here the merged value is
//! deserialized again and again: after each error the offending key is set back to its
//! default (or dropped when it has none), so that the next run finds the next problem. Each
//! problem names its key as written in the file, where it came from (the file or a `TSGATE_`
//! variable), the accepted values, and for an unknown key the closest known one.

use figment::Figment;
use figment::error::Kind;
use figment::value::Value;
use serde::Deserialize as _;

use super::Config;

/// More problems than this in one file are not worth listing one by one.
const MAX_PROBLEMS: usize = 50;

/// The configuration of `figment` with every wrong key set back to its default (`None`
/// when even that does not make one), and every problem found (one line each).
pub fn extract(figment: &Figment, defaults: &Figment) -> (Option<Config>, Vec<String>) {
    let mut value = match figment.find_value("") {
        Ok(v) => v,
        // An unreadable file, or a file that is not TOML.
        Err(e) => return (None, vec![describe_whole(&e)]),
    };
    let mut problems = Vec::new();
    let mut seen: Vec<Vec<String>> = Vec::new();
    loop {
        match Config::deserialize(&value) {
            Ok(config) => return (Some(config), problems),
            Err(error) => {
                let mut path = error.path.clone();
                if let Kind::MissingField(field) = &error.kind {
                    path.push(field.to_string());
                }
                problems.push(describe(figment, &path, &error.kind));
                if seen.contains(&path) || problems.len() >= MAX_PROBLEMS {
                    return (None, problems);
                }
                let fallback = defaults.find_value(&path.join(".")).ok();
                if !replace(&mut value, &path, fallback) {
                    return (None, problems);
                }
                seen.push(path);
            }
        }
    }
}

/// An error that is about no key in particular (a file that is not TOML, …).
fn describe_whole(error: &figment::Error) -> String {
    // figment's own text names the file and the line; only its profile prefix is noise.
    error.to_string().replace("default.", "")
}

/// One problem, as the administrator reads it.
fn describe(figment: &Figment, path: &[String], kind: &Kind) -> String {
    let key = display_key(path);
    let origin = origin(figment, path);
    let what = match kind {
        Kind::UnknownField(found, known) => {
            let mut text = "unknown key".to_owned();
            match closest(found, known) {
                Some(near) => text.push_str(&format!("; did you mean `{near}`?")),
                None if !known.is_empty() => {
                    text.push_str(&format!("; the keys here are {}", plain_list(known)));
                }
                None => {}
            }
            text
        }
        Kind::UnknownVariant(found, accepted) => {
            let mut text = format!("\"{found}\" is not accepted; use {}", plain_list(accepted));
            if let Some(near) = closest(found, accepted) {
                text.push_str(&format!(" (did you mean `{near}`?)"));
            }
            text
        }
        Kind::InvalidType(actual, expected) => {
            format!("expected {}, found {actual}", plain_expected(expected))
        }
        Kind::InvalidValue(actual, expected) => {
            format!(
                "{actual} is not valid: expected {}",
                plain_expected(expected)
            )
        }
        Kind::InvalidLength(n, expected) => {
            format!(
                "{n} items is not valid: expected {}",
                plain_expected(expected)
            )
        }
        Kind::MissingField(_) => "missing: this key has no default, give it".to_owned(),
        Kind::Message(message) => message.clone(),
        other => other.to_string(),
    };
    format!("{key}{origin}: {what}")
}

/// `limits.api_body_bytes`, `working_hours.closures[0].from`.
fn display_key(path: &[String]) -> String {
    let mut out = String::new();
    for part in path {
        if part.parse::<usize>().is_ok() {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    if out.is_empty() {
        "configuration".to_owned()
    } else {
        out
    }
}

/// Where the key came from: ` (in FILE)` or ` (TSGATE_…)`; empty when unknown.
fn origin(figment: &Figment, path: &[String]) -> String {
    // The metadata of a key's table when the key itself has none (an unknown key).
    let metadata = (1..=path.len())
        .rev()
        .find_map(|n| figment.find_metadata(&path[..n].join(".")));
    let Some(metadata) = metadata else {
        return String::new();
    };
    if let Some(figment::Source::File(file)) = &metadata.source {
        return format!(" (in {})", file.display());
    }
    if metadata.name.contains("environment") {
        let keys: Vec<String> = path.iter().map(|k| k.to_ascii_uppercase()).collect();
        return format!(" (variable TSGATE_{})", keys.join("__"));
    }
    String::new()
}

/// `a`, `a or b`, `a, b or c`, each in backticks.
fn plain_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// serde's "expected" texts made plain: "u64" is "a whole number", and so on.
fn plain_expected(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number, 0 or more".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a boolean" => "true or false".to_owned(),
        other => other.trim_matches('`').to_owned(),
    }
}

/// The known name closest to `found`, when it is close enough to be a typo.
pub fn closest<'a>(found: &str, known: &[&'a str]) -> Option<&'a str> {
    let found = found.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(&found, k), *k))
        .filter(|(distance, k)| *distance <= 2.max(k.len() / 3))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k)
}

/// Sets the value at `path` to `fallback`, or removes it when there is none. `false` when
/// the path does not lead anywhere (nothing changed: the loop must stop).
fn replace(value: &mut Value, path: &[String], fallback: Option<Value>) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut here = value;
    for part in parents {
        here = match here {
            Value::Dict(_, dict) => match dict.get_mut(part) {
                Some(v) => v,
                None => return false,
            },
            Value::Array(_, items) => {
                match part.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                    Some(v) => v,
                    None => return false,
                }
            }
            _ => return false,
        };
    }
    match here {
        Value::Dict(_, dict) => {
            match fallback {
                Some(v) => {
                    dict.insert(last.clone(), v);
                }
                None => {
                    if dict.remove(last).is_none() {
                        return false;
                    }
                }
            }
            true
        }
        Value::Array(_, items) => match last.parse::<usize>() {
            Ok(i) if i < items.len() => {
                items.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    }
}
