//! A vendor's bulk import file (CSV or JSON), turned into validated rows and a list of
//! refusals, line by line.
//!
//! Pure: bytes in, an [`ImportPlan`] out; applying it to the store is the caller's job. Only a
//! file that cannot be read at all (not UTF-8, no usable CSV header, JSON that does not parse,
//! nothing in it) is an [`ImportError`]; a bad row is a [`Refusal`] that names its line and
//! tells what to fix, and the other rows go on.
//!
//! Password and PIN are wrapped in [`Password`]/[`Pin`] as soon as they are read: no refusal,
//! error or `Debug` output ever carries their value.
//!
//! **CSV** (doctors only): a header row, then one doctor per row. The delimiter is `;` (what
//! an Italian Excel writes) or `,`, read from the header line. Columns, in any order and any
//! case: `practice`, `practice_name`, `user_id`, `cf`, `region`, `asl` (the last four
//! required), `ssa`, `specialization`, `display_name`, `role`, `environment`, `password`,
//! `pin`.
//!
//! **JSON**: an array of user objects (the same fields as the CSV columns, as strings), or an
//! object `{ "practice": {"id", "name"}, "users": [...], "workstations": [...] }` where
//! `practice` is the practice of every user and workstation that does not name one, and a
//! workstation is `{ "name", "role", "practice", "users": [user ids] }`.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::ids::UserId;
use crate::ports::ImportedUser;
use crate::practice::PracticeId;
use crate::user::{Environment, Role, UserProfile};
use crate::workstation::{PracticeRule, WorkstationRole, WorkstationSpec};
use sistemats::secret::{Password, Pin};

/// The longest workstation name accepted.
const MAX_WORKSTATION_NAME: usize = 100;

/// What a refusal or an error quotes of a value the file gave (an id, a column name), at most.
const MAX_QUOTED: usize = 64;

/// The columns of a CSV file, as the error for an unknown one lists them.
const COLUMNS: &str = "practice, practice_name, user_id, cf, region, asl, ssa, specialization, \
                       display_name, role, environment, password, pin";

/// The format of an import file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportFormat {
    /// Comma- or semicolon-separated values with a header row.
    Csv,
    /// An array of users, or an object with `practice`, `users` and `workstations`.
    Json,
}

impl ImportFormat {
    /// The format of a file: its extension (`.json`, `.csv`) when it has one of those,
    /// otherwise its content (`{` or `[` as the first non-blank character means JSON).
    pub fn detect(bytes: &[u8], file_name: Option<&str>) -> ImportFormat {
        let extension = file_name
            .and_then(|name| Path::new(name).extension())
            .and_then(|ext| ext.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("json") => return Self::Json,
            Some("csv") => return Self::Csv,
            _ => {}
        }
        match strip_bom(bytes).iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{' | b'[') => Self::Json,
            _ => Self::Csv,
        }
    }
}

/// One accepted item and where it was in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportLine<T> {
    /// CSV: the physical line where the record starts (the header is line 1). JSON: the
    /// 1-based position of the item in its array (`users` or `workstations`).
    pub line: usize,
    /// The validated item.
    pub item: T,
}

/// A row that was not imported, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// Where the row is, counted as [`ImportLine::line`].
    pub line: usize,
    /// The row's `user_id` (or the workstation's name) when it could be read.
    pub id: Option<String>,
    /// What is wrong and how to fix it, in Italian; never a password or a PIN.
    pub reason: String,
}

/// What an import file asks for: the rows that passed validation, and those that did not.
#[derive(Clone, Debug, Default)]
pub struct ImportPlan {
    /// Doctors to create or update, in file order.
    pub users: Vec<ImportLine<ImportedUser>>,
    /// Workstations to register, in file order (JSON object form only).
    pub workstations: Vec<ImportLine<WorkstationSpec>>,
    /// Rows refused, in file order (in JSON, users before workstations).
    pub refused: Vec<Refusal>,
}

/// A file that cannot be imported at all. The messages are in Italian and never quote a
/// password or a PIN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// No user and no workstation in the file (blank, or a header alone, or empty lists).
    #[error("Il file è vuoto: non contiene nessun utente né postazione da importare.")]
    Empty,
    /// The bytes are not UTF-8 (an Excel "CSV" saved in the Windows encoding, typically).
    #[error(
        "Il file non è in UTF-8 (primo carattere non valido alla riga {line}): salvalo come \"CSV UTF-8\" (o JSON in UTF-8) e riprova."
    )]
    NotUtf8 {
        /// The line of the first invalid byte.
        line: usize,
    },
    /// The first CSV row names none of the known columns: the header is missing.
    #[error(
        "Manca la riga di intestazione del CSV: la prima riga deve nominare le colonne ({COLUMNS})."
    )]
    MissingHeader,
    /// A required CSV column is not in the header.
    #[error("Manca la colonna obbligatoria `{0}` nell'intestazione del CSV.")]
    MissingColumn(&'static str),
    /// A CSV column that tsgate does not know.
    #[error(
        "Colonna sconosciuta `{name}` (colonna {column}) nell'intestazione del CSV: le colonne ammesse sono {COLUMNS}."
    )]
    UnknownColumn {
        /// The column's name as written (shortened if very long).
        name: String,
        /// Its 1-based position.
        column: usize,
    },
    /// A CSV column named twice.
    #[error("La colonna `{0}` compare due volte nell'intestazione del CSV: tienine una sola.")]
    DuplicateColumn(&'static str),
    /// The CSV reader could not go on.
    #[error("Il CSV non è leggibile alla riga {line}: controlla le virgolette e i separatori.")]
    Csv {
        /// The line where reading stopped (0 when unknown).
        line: usize,
    },
    /// The JSON does not parse.
    #[error("Il JSON non è leggibile alla riga {line}, colonna {column}: {reason}.")]
    Json {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What the parser met, in Italian (with the parser's own detail).
        reason: String,
    },
    /// The JSON parses but is not an array of users nor an object with `users` and
    /// `workstations`.
    #[error("Struttura del JSON non valida: {0}")]
    JsonStructure(String),
}

/// Parses and validates an import file; rows that name no environment are test ones
/// (production only when said: [`parse_import_in`] takes the installation's).
pub fn parse_import(
    bytes: &[u8],
    format: ImportFormat,
    default_practice: Option<&PracticeId>,
) -> Result<ImportPlan, ImportError> {
    parse_import_in(bytes, format, default_practice, Environment::Test)
}

/// Parses and validates an import file.
///
/// A doctor's or a workstation's practice is, in order: the one its row names, the file's
/// (JSON object form), `default_practice`. A doctor without any is refused; so is a
/// workstation whose role requires one. A backend without any stays installation-wide.
/// A doctor whose row names no environment has `environment` (the installation's, so that
/// a test installation never files doctors as production ones).
pub fn parse_import_in(
    bytes: &[u8],
    format: ImportFormat,
    default_practice: Option<&PracticeId>,
    environment: Environment,
) -> Result<ImportPlan, ImportError> {
    let bytes = strip_bom(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| ImportError::NotUtf8 {
        line: line_of(bytes, e.valid_up_to()),
    })?;
    if text.trim().is_empty() {
        return Err(ImportError::Empty);
    }
    let plan = match format {
        ImportFormat::Csv => parse_csv(text, default_practice, environment)?,
        ImportFormat::Json => parse_json(text, default_practice, environment)?,
    };
    if plan.users.is_empty() && plan.workstations.is_empty() && plan.refused.is_empty() {
        return Err(ImportError::Empty);
    }
    Ok(plan)
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

fn line_of(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1
}

/// A value the file gave, shortened for a message.
fn quoted(value: &str) -> String {
    if value.chars().count() <= MAX_QUOTED {
        value.to_owned()
    } else {
        let mut s: String = value.chars().take(MAX_QUOTED).collect();
        s.push('…');
        s
    }
}

/// The problems of one row as one sentence.
fn reason(problems: &[String]) -> String {
    let joined = problems.join("; ");
    let mut chars = joined.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).chain(['.']).collect(),
        None => joined,
    }
}

/// A field of a user row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Practice,
    PracticeName,
    UserId,
    Cf,
    Region,
    Asl,
    Ssa,
    Specialization,
    DisplayName,
    Role,
    Environment,
    Password,
    Pin,
}

impl Field {
    const ALL: [Field; 13] = [
        Self::Practice,
        Self::PracticeName,
        Self::UserId,
        Self::Cf,
        Self::Region,
        Self::Asl,
        Self::Ssa,
        Self::Specialization,
        Self::DisplayName,
        Self::Role,
        Self::Environment,
        Self::Password,
        Self::Pin,
    ];

    const REQUIRED: [Field; 4] = [Self::UserId, Self::Cf, Self::Region, Self::Asl];

    fn name(self) -> &'static str {
        match self {
            Self::Practice => "practice",
            Self::PracticeName => "practice_name",
            Self::UserId => "user_id",
            Self::Cf => "cf",
            Self::Region => "region",
            Self::Asl => "asl",
            Self::Ssa => "ssa",
            Self::Specialization => "specialization",
            Self::DisplayName => "display_name",
            Self::Role => "role",
            Self::Environment => "environment",
            Self::Password => "password",
            Self::Pin => "pin",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// The raw fields of one user row, trimmed, empty ones absent. Password and PIN are wrapped
/// at once so that nothing here can print them.
#[derive(Default)]
struct UserFields {
    text: [Option<String>; Field::ALL.len()],
    password: Option<Password>,
    pin: Option<Pin>,
}

impl UserFields {
    fn set(&mut self, field: Field, value: &str) {
        let value = value.trim();
        if value.is_empty() {
            return;
        }
        match field {
            Field::Password => self.password = Some(Password::new(value)),
            Field::Pin => self.pin = Some(Pin::new(value)),
            other => self.text[other as usize] = Some(value.to_owned()),
        }
    }

    fn take(&mut self, field: Field) -> Option<String> {
        self.text[field as usize].take()
    }

    fn get(&self, field: Field) -> Option<&str> {
        self.text[field as usize].as_deref()
    }
}

/// Where rows find the practice they do not name.
struct Defaults<'a> {
    /// The JSON object form's `practice`, with its name.
    file: Option<(PracticeId, Option<String>)>,
    /// The caller's.
    caller: Option<&'a PracticeId>,
    /// The environment of rows that name none.
    environment: Environment,
}

impl Defaults<'_> {
    fn practice(&self) -> Option<&PracticeId> {
        self.file.as_ref().map(|(id, _)| id).or(self.caller)
    }

    fn name_of(&self, practice: &PracticeId) -> Option<String> {
        match &self.file {
            Some((id, name)) if id == practice => name.clone(),
            _ => None,
        }
    }
}

/// Validates the rows one by one and remembers what was already seen.
struct Validator<'a> {
    defaults: Defaults<'a>,
    plan: ImportPlan,
    users_seen: HashMap<(UserId, PracticeId), usize>,
    workstations_seen: HashMap<(Option<PracticeId>, String), usize>,
}

impl<'a> Validator<'a> {
    fn new(defaults: Defaults<'a>) -> Self {
        Self {
            defaults,
            plan: ImportPlan::default(),
            users_seen: HashMap::new(),
            workstations_seen: HashMap::new(),
        }
    }

    fn refuse(&mut self, line: usize, id: Option<&str>, problems: &[String]) {
        self.plan.refused.push(Refusal {
            line,
            id: id.map(quoted),
            reason: reason(problems),
        });
    }

    /// Validates a user row; `problems` already holds what the reader found.
    fn user(&mut self, line: usize, mut f: UserFields, mut problems: Vec<String>) {
        let id_text = f.get(Field::UserId).map(str::to_owned);

        let user_id = match f.take(Field::UserId) {
            None => {
                problems.push("manca l'utente Sistema TS (user_id)".into());
                None
            }
            Some(s) => match UserId::new(s) {
                Ok(id) => Some(id),
                Err(_) => {
                    problems.push(
                        "user_id non valido: da 1 a 16 caratteri, senza spazi (di solito il codice fiscale)"
                            .into(),
                    );
                    None
                }
            },
        };

        let fiscal_code = match f.take(Field::Cf) {
            None => {
                problems.push("manca il codice fiscale del medico (cf)".into());
                None
            }
            Some(s) => {
                let cf = s.to_ascii_uppercase();
                if cf.len() == 16 && cf.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    Some(cf)
                } else {
                    problems.push(
                        "cf non valido: il codice fiscale del medico ha 16 lettere o cifre".into(),
                    );
                    None
                }
            }
        };
        let region = code(
            &mut f,
            &mut problems,
            Field::Region,
            3,
            "manca il codice della regione (region)",
            "region non valido: servono esattamente 3 lettere o cifre (es. 130)",
        );
        let asl = code(
            &mut f,
            &mut problems,
            Field::Asl,
            3,
            "manca il codice dell'ASL (asl)",
            "asl non valido: servono esattamente 3 lettere o cifre (es. 201)",
        );
        let ssa = match f.get(Field::Ssa) {
            None => Some("000000".to_owned()),
            Some(_) => code(
                &mut f,
                &mut problems,
                Field::Ssa,
                6,
                "",
                "ssa non valido: servono esattamente 6 lettere o cifre (000000 per i medici)",
            ),
        };
        let role = match f.take(Field::Role) {
            None => Some(Role::Titolare),
            Some(s) => Role::parse(&s.to_lowercase()).or_else(|| {
                problems.push("role non valido: usa titolare, sostituto o farmacia".into());
                None
            }),
        };
        let environment = match f.take(Field::Environment) {
            None => Some(self.defaults.environment),
            Some(s) => Environment::parse(&s.to_lowercase()).or_else(|| {
                problems.push("environment non valido: usa production o test".into());
                None
            }),
        };
        let practice = match f.take(Field::Practice) {
            Some(s) => PracticeId::new(s)
                .map_err(|_| problems.push(invalid_practice("practice")))
                .ok(),
            None => {
                let fallback = self.defaults.practice().cloned();
                if fallback.is_none() {
                    problems.push("manca lo studio (practice)".into());
                }
                fallback
            }
        };
        // The same doctor may be in two practices (titolare here, sostituto there): only the
        // same (user, practice) twice is a mistake.
        if let (Some(id), Some(p)) = (&user_id, &practice) {
            match self.users_seen.entry((id.clone(), p.clone())) {
                Entry::Occupied(first) => {
                    problems.push(format!(
                        "user_id già presente per lo stesso studio alla riga {}",
                        first.get()
                    ));
                }
                Entry::Vacant(slot) => {
                    slot.insert(line);
                }
            }
        }
        let credentials = match (f.password.take(), f.pin.take()) {
            (None, None) => None,
            (Some(_), None) => {
                problems.push(
                    "c'è la password ma manca il PIN (pin): indicali entrambi o nessuno dei due"
                        .into(),
                );
                None
            }
            (None, Some(pin)) => {
                if !pin_is_digits(&pin) {
                    problems.push("il PIN (pin) deve contenere solo cifre".into());
                }
                problems.push(
                    "c'è il PIN ma manca la password (password): indicali entrambi o nessuno dei due"
                        .into(),
                );
                None
            }
            (Some(password), Some(pin)) => {
                if pin_is_digits(&pin) {
                    Some((password, pin))
                } else {
                    problems.push("il PIN (pin) deve contenere solo cifre".into());
                    None
                }
            }
        };

        if !problems.is_empty() {
            return self.refuse(line, id_text.as_deref(), &problems);
        }
        let (
            Some(user_id),
            Some(fiscal_code),
            Some(region),
            Some(asl),
            Some(ssa),
            Some(role),
            Some(environment),
            Some(practice),
        ) = (
            user_id,
            fiscal_code,
            region,
            asl,
            ssa,
            role,
            environment,
            practice,
        )
        else {
            unreachable!("every missing value has left a problem");
        };
        let practice_name = f
            .take(Field::PracticeName)
            .or_else(|| self.defaults.name_of(&practice));
        let profile = UserProfile {
            user_id,
            fiscal_code,
            region,
            asl,
            ssa,
            specialization: f.take(Field::Specialization),
            display_name: f.take(Field::DisplayName),
            environment,
            role,
            password_changed_at: None,
        };
        // The official region list, the fiscal code's check character in production.
        let problems: Vec<String> = crate::fields::check_profile(&profile)
            .into_iter()
            .map(|p| p.message)
            .collect();
        if !problems.is_empty() {
            return self.refuse(line, id_text.as_deref(), &problems);
        }
        self.plan.users.push(ImportLine {
            line,
            item: ImportedUser {
                practice,
                practice_name,
                profile,
                credentials,
            },
        });
    }

    /// Validates a workstation object of the JSON object form.
    fn workstation(&mut self, line: usize, item: &Value) {
        let Some(object) = item.as_object() else {
            return self.refuse(line, None, &[format!("postazione: {}", not_an_object())]);
        };
        let mut problems = Vec::new();
        let text = |key: &str, problems: &mut Vec<String>| match object.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
            Some(_) => {
                problems.push(format!("`{key}` deve essere un testo tra virgolette"));
                None
            }
        };
        let name = text("name", &mut problems);
        let role_text = text("role", &mut problems);
        let practice_text = text("practice", &mut problems);
        for key in object.keys() {
            if !["name", "role", "practice", "users"].contains(&key.as_str()) {
                problems.push(format!(
                    "campo sconosciuto `{}` (ammessi: name, role, practice, users)",
                    quoted(key)
                ));
            }
        }

        match &name {
            None => problems.push("manca il nome (name)".into()),
            Some(n) if n.chars().count() > MAX_WORKSTATION_NAME => {
                problems.push(format!("il nome supera i {MAX_WORKSTATION_NAME} caratteri"))
            }
            Some(n) if n.chars().any(char::is_control) => {
                problems.push("il nome contiene caratteri di controllo".into());
            }
            Some(_) => {}
        }
        let role = match role_text {
            None => {
                problems.push("manca il ruolo (role)".into());
                None
            }
            Some(s) => WorkstationRole::parse(&s.to_lowercase()).or_else(|| {
                problems
                    .push("ruolo non valido: usa admin, doctor, staff, backend o vendor".into());
                None
            }),
        };
        let given_practice = practice_text.map(PracticeId::new);
        // `Some(p)`: the practice is settled (`p` may be "none"); `None`: it is not.
        let practice = match (role, given_practice) {
            (Some(role), given) if role.practice_rule() == PracticeRule::Forbidden => {
                if given.is_some() {
                    problems.push(format!(
                        "una postazione {role} non appartiene a nessuno studio: togli practice"
                    ));
                }
                Some(None)
            }
            (_, Some(Err(_))) => {
                problems.push(invalid_practice("practice"));
                None
            }
            (None, _) => None,
            (Some(_), Some(Ok(p))) => Some(Some(p)),
            (Some(role), None) => match self.defaults.practice() {
                Some(p) => Some(Some(p.clone())),
                None if role.practice_rule() == PracticeRule::Required => {
                    problems.push("manca lo studio (practice)".into());
                    None
                }
                None => Some(None),
            },
        };
        let users = workstation_users(object.get("users"), role, &mut problems);

        if let (Some(name), Some(practice)) = (&name, &practice) {
            match self
                .workstations_seen
                .entry((practice.clone(), name.clone()))
            {
                Entry::Occupied(first) => problems.push(format!(
                    "già presente alla riga {} (stesso studio e stesso nome)",
                    first.get()
                )),
                Entry::Vacant(slot) => {
                    slot.insert(line);
                }
            }
        }

        if !problems.is_empty() {
            let problem = format!("postazione: {}", problems.join("; "));
            return self.refuse(line, name.as_deref(), &[problem]);
        }
        let (Some(name), Some(role), Some(practice), Some(users)) = (name, role, practice, users)
        else {
            unreachable!("every missing value has left a problem");
        };
        self.plan.workstations.push(ImportLine {
            line,
            item: WorkstationSpec {
                name,
                role,
                practice,
                users,
            },
        });
    }
}

/// The `users` of a workstation, sorted and without repetitions.
fn workstation_users(
    value: Option<&Value>,
    role: Option<WorkstationRole>,
    problems: &mut Vec<String>,
) -> Option<Vec<UserId>> {
    let items = match value {
        None | Some(Value::Null) => return Some(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => {
            problems.push("users deve essere un elenco di user_id ([\"…\", \"…\"])".into());
            return None;
        }
    };
    if let Some(role) = role.filter(|r| !r.lists_users() && !items.is_empty()) {
        problems.push(format!(
            "una postazione {role} non elenca utenti: togli users"
        ));
        return None;
    }
    let mut users = Vec::with_capacity(items.len());
    let mut bad = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item.as_str().map(|s| UserId::new(s.trim())) {
            Some(Ok(id)) => users.push(id),
            _ => bad.push((i + 1).to_string()),
        }
    }
    if !bad.is_empty() {
        problems.push(format!(
            "users contiene user_id non validi (posizione {}): ognuno da 1 a 16 caratteri, senza spazi, tra virgolette",
            bad.join(", ")
        ));
        return None;
    }
    users.sort();
    users.dedup();
    Some(users)
}

/// A required or optional code of `len` ASCII letters or digits.
fn code(
    f: &mut UserFields,
    problems: &mut Vec<String>,
    field: Field,
    len: usize,
    missing: &str,
    invalid: &str,
) -> Option<String> {
    match f.take(field) {
        None => {
            problems.push(missing.into());
            None
        }
        Some(s) if s.len() == len && s.bytes().all(|b| b.is_ascii_alphanumeric()) => Some(s),
        Some(_) => {
            problems.push(invalid.into());
            None
        }
    }
}

fn pin_is_digits(pin: &Pin) -> bool {
    pin.expose_secret().bytes().all(|b| b.is_ascii_digit())
}

fn invalid_practice(what: &str) -> String {
    format!(
        "{what} non valido: da 1 a 64 caratteri tra lettere minuscole, cifre, '-', '_' e '.', che inizi con una lettera o una cifra (es. studio-rossi)"
    )
}

fn not_an_object() -> String {
    "l'elemento deve essere un oggetto JSON ({ … })".into()
}

// ---------------------------------------------------------------------------------------
// CSV

fn parse_csv(
    text: &str,
    default_practice: Option<&PracticeId>,
    environment: Environment,
) -> Result<ImportPlan, ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(detect_delimiter(text))
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let csv_error = |e: csv::Error| ImportError::Csv {
        line: e
            .position()
            .map_or(0, |p| LineCounter::new(text).line_at(p.byte() as usize)),
    };
    let mut lines = LineCounter::new(text);

    let mut record = csv::StringRecord::new();
    loop {
        if !reader.read_record(&mut record).map_err(csv_error)? {
            return Err(ImportError::Empty);
        }
        if !is_blank(&record) {
            break;
        }
    }
    let columns = parse_header(&record)?;

    let mut validator = Validator::new(Defaults {
        file: None,
        caller: default_practice,
        environment,
    });
    while reader.read_record(&mut record).map_err(csv_error)? {
        if is_blank(&record) {
            continue;
        }
        let line = lines.line_at(record.position().map_or(0, |p| p.byte() as usize));
        let mut fields = UserFields::default();
        let mut stray = None;
        for (i, value) in record.iter().enumerate() {
            match columns.get(i) {
                Some(Some(field)) => fields.set(*field, value),
                _ if value.trim().is_empty() => {}
                _ => {
                    stray = Some(i + 1);
                    break;
                }
            }
        }
        // A value where no column is named means the columns have shifted: nothing of the row
        // can be trusted (the id itself may be another column's value, a password even).
        if let Some(column) = stray {
            let problem = if column > columns.len() {
                format!(
                    "la riga ha {} campi ma l'intestazione ne ha {}: controlla i separatori (un testo che contiene il separatore va tra virgolette)",
                    record.len(),
                    columns.len()
                )
            } else {
                format!("c'è un valore nella colonna {column}, che nell'intestazione non ha nome")
            };
            validator.refuse(line, None, &[problem]);
            continue;
        }
        validator.user(line, fields, Vec::new());
    }
    Ok(validator.plan)
}

/// The physical line of a CSV record from the byte offset the reader gives. The reader's own
/// line count forgets the blank lines it skips and counts `\r\n` wrongly; its offset points
/// at the end of the previous record, before the blank lines, so these are skipped here.
struct LineCounter<'t> {
    text: &'t [u8],
    offset: usize,
    line: usize,
}

impl<'t> LineCounter<'t> {
    fn new(text: &'t str) -> Self {
        Self {
            text: text.as_bytes(),
            offset: 0,
            line: 1,
        }
    }

    /// The line of the record the reader says starts at `byte` (not before the last asked).
    fn line_at(&mut self, byte: usize) -> usize {
        let mut start = byte.max(self.offset).min(self.text.len());
        while matches!(self.text.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        let passed = &self.text[self.offset..start];
        // `\n`, `\r\n` and a lone `\r` each end a line.
        self.line += passed
            .iter()
            .enumerate()
            .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && passed.get(i + 1) != Some(&b'\n')))
            .count();
        self.offset = start;
        self.line
    }
}

/// `;` when the header line has more semicolons than commas (outside quotes), else `,`.
fn detect_delimiter(text: &str) -> u8 {
    let header = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let (mut semicolons, mut commas, mut quoted) = (0usize, 0usize, false);
    for c in header.chars() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => semicolons += 1,
            ',' if !quoted => commas += 1,
            _ => {}
        }
    }
    if semicolons > commas { b';' } else { b',' }
}

fn is_blank(record: &csv::StringRecord) -> bool {
    record.iter().all(|f| f.trim().is_empty())
}

/// The field of each column (`None`: a column without a name, whose values must be empty).
fn parse_header(header: &csv::StringRecord) -> Result<Vec<Option<Field>>, ImportError> {
    let normalized: Vec<String> = header
        .iter()
        .map(|h| h.trim().to_lowercase().replace([' ', '-'], "_"))
        .collect();
    let columns: Vec<Option<Field>> = normalized.iter().map(|h| Field::parse(h)).collect();
    // No known name at all: the first row is data, and naming its "columns" could print a
    // password.
    if columns.iter().all(Option::is_none) {
        return Err(ImportError::MissingHeader);
    }
    for (i, (name, field)) in normalized.iter().zip(&columns).enumerate() {
        if field.is_none() && !name.is_empty() {
            return Err(ImportError::UnknownColumn {
                name: quoted(header.get(i).unwrap_or_default().trim()),
                column: i + 1,
            });
        }
    }
    for (i, field) in columns.iter().enumerate() {
        if let Some(field) = field
            && columns[..i].contains(&Some(*field))
        {
            return Err(ImportError::DuplicateColumn(field.name()));
        }
    }
    if let Some(missing) = Field::REQUIRED
        .into_iter()
        .find(|f| !columns.contains(&Some(*f)))
    {
        return Err(ImportError::MissingColumn(missing.name()));
    }
    Ok(columns)
}

// ---------------------------------------------------------------------------------------
// JSON

fn parse_json(
    text: &str,
    default_practice: Option<&PracticeId>,
    environment: Environment,
) -> Result<ImportPlan, ImportError> {
    let value: Value = serde_json::from_str(text).map_err(|e| json_error(&e))?;
    let (file_practice, users, workstations) = match value {
        Value::Array(users) => (None, users, Vec::new()),
        Value::Object(mut object) => {
            if let Some(key) = object
                .keys()
                .find(|k| !["practice", "users", "workstations"].contains(&k.as_str()))
            {
                return Err(ImportError::JsonStructure(format!(
                    "campo sconosciuto `{}` nell'oggetto principale (ammessi: practice, users, workstations).",
                    quoted(key)
                )));
            }
            let practice = file_practice(object.remove("practice"))?;
            let users = json_list(object.remove("users"), "users")?;
            let workstations = json_list(object.remove("workstations"), "workstations")?;
            (practice, users, workstations)
        }
        _ => {
            return Err(ImportError::JsonStructure(
                "serve un elenco di utenti ([ { … }, … ]) o un oggetto con users e workstations ({ \"users\": [ … ], \"workstations\": [ … ] })."
                    .into(),
            ));
        }
    };

    let mut validator = Validator::new(Defaults {
        file: file_practice,
        caller: default_practice,
        environment,
    });
    for (i, item) in users.iter().enumerate() {
        let line = i + 1;
        let Some(object) = item.as_object() else {
            validator.refuse(line, None, &[not_an_object()]);
            continue;
        };
        let (fields, problems) = user_fields(object);
        validator.user(line, fields, problems);
    }
    for (i, item) in workstations.iter().enumerate() {
        validator.workstation(i + 1, item);
    }
    Ok(validator.plan)
}

fn json_error(e: &serde_json::Error) -> ImportError {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Eof => {
            "il file finisce prima del previsto (manca una parentesi o una virgoletta di chiusura?)"
        }
        Category::Syntax => "sintassi non valida",
        Category::Data | Category::Io => "contenuto non valido",
    };
    // The parser's own words ("trailing comma", "expected `:`") help; its position is already
    // in the message's line and column. It never quotes the input.
    let detail = e.to_string();
    let detail = detail.split(" at line ").next().unwrap_or_default();
    ImportError::Json {
        line: e.line(),
        column: e.column(),
        reason: format!("{what} ({detail})"),
    }
}

/// The object form's `practice`: `{"id": …, "name": …}` or just the id.
fn file_practice(
    value: Option<Value>,
) -> Result<Option<(PracticeId, Option<String>)>, ImportError> {
    let structure = |s: &str| Err(ImportError::JsonStructure(s.into()));
    let (id, name) = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(id)) => (id, None),
        Some(Value::Object(mut o)) => {
            if let Some(key) = o.keys().find(|k| !["id", "name"].contains(&k.as_str())) {
                return Err(ImportError::JsonStructure(format!(
                    "campo sconosciuto `{}` in practice (ammessi: id, name).",
                    quoted(key)
                )));
            }
            let id = match o.remove("id") {
                Some(Value::String(id)) => id,
                _ => {
                    return structure(
                        "practice deve avere l'identificativo dello studio (id) tra virgolette.",
                    );
                }
            };
            let name = match o.remove("name") {
                None | Some(Value::Null) => None,
                Some(Value::String(name)) => Some(name.trim().to_owned()).filter(|n| !n.is_empty()),
                Some(_) => {
                    return structure(
                        "il nome dello studio (practice.name) deve essere un testo tra virgolette.",
                    );
                }
            };
            (id, name)
        }
        Some(_) => return structure("practice deve essere un oggetto { \"id\": …, \"name\": … }."),
    };
    match PracticeId::new(id.trim()) {
        Ok(id) => Ok(Some((id, name))),
        Err(_) => Err(ImportError::JsonStructure(format!(
            "{}.",
            invalid_practice("practice.id")
        ))),
    }
}

fn json_list(value: Option<Value>, key: &str) -> Result<Vec<Value>, ImportError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(ImportError::JsonStructure(format!(
            "{key} deve essere un elenco ([ … ])."
        ))),
    }
}

/// The fields of a JSON user object, and the problems of its shape (unknown fields, values
/// that are not text). Never quotes a value.
fn user_fields(object: &Map<String, Value>) -> (UserFields, Vec<String>) {
    let mut fields = UserFields::default();
    let mut problems = Vec::new();
    for (key, value) in object {
        let Some(field) = Field::parse(key) else {
            problems.push(format!(
                "campo sconosciuto `{}` (ammessi: {COLUMNS})",
                quoted(key)
            ));
            continue;
        };
        match value {
            Value::Null => {}
            Value::String(s) => fields.set(field, s),
            _ => problems.push(format!(
                "`{}` deve essere un testo tra virgolette (es. \"010\", non 010)",
                field.name()
            )),
        }
    }
    (fields, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn practice(id: &str) -> PracticeId {
        PracticeId::new(id).unwrap()
    }

    fn csv(text: &str) -> ImportPlan {
        parse_import(
            text.as_bytes(),
            ImportFormat::Csv,
            Some(&practice("studio-a")),
        )
        .unwrap()
    }

    fn json(text: &str, default: Option<&PracticeId>) -> ImportPlan {
        parse_import(text.as_bytes(), ImportFormat::Json, default).unwrap()
    }

    fn lines<T>(rows: &[ImportLine<T>]) -> Vec<usize> {
        rows.iter().map(|r| r.line).collect()
    }

    fn refused(plan: &ImportPlan) -> Vec<(usize, Option<&str>, &str)> {
        plan.refused
            .iter()
            .map(|r| (r.line, r.id.as_deref(), r.reason.as_str()))
            .collect()
    }

    #[test]
    fn format_from_the_name_then_the_content() {
        assert_eq!(
            ImportFormat::detect(b"[]", Some("medici.CSV")),
            ImportFormat::Csv
        );
        assert_eq!(
            ImportFormat::detect(b"a,b", Some("x.json")),
            ImportFormat::Json
        );
        assert_eq!(
            ImportFormat::detect(b" \n [ ]", Some("export")),
            ImportFormat::Json
        );
        assert_eq!(
            ImportFormat::detect(b"\xEF\xBB\xBF{}", None),
            ImportFormat::Json
        );
        assert_eq!(
            ImportFormat::detect(b"user_id;cf", Some("a.txt")),
            ImportFormat::Csv
        );
        assert_eq!(ImportFormat::detect(b"", None), ImportFormat::Csv);
    }

    #[test]
    fn csv_with_commas() {
        let plan = csv("user_id,cf,region,asl,display_name,password,pin\n\
             PROVAX00X00X000Y,provax00x00x000y,130,202,Dr.ssa Rossi,Segreta1,1234567890\n\
             BIANCHI01,BNCMRA70A01H501Z,010,101,,,\n");
        assert!(plan.refused.is_empty(), "{:?}", plan.refused);
        assert_eq!(lines(&plan.users), [2, 3]);
        let first = &plan.users[0].item;
        assert_eq!(first.practice, practice("studio-a"));
        assert_eq!(first.practice_name, None);
        let p = &first.profile;
        assert_eq!(p.user_id.as_str(), "PROVAX00X00X000Y");
        assert_eq!(p.fiscal_code, "PROVAX00X00X000Y");
        assert_eq!((p.region.as_str(), p.asl.as_str()), ("130", "202"));
        assert_eq!(p.ssa, "000000");
        assert_eq!(p.role, Role::Titolare);
        assert_eq!(
            p.environment,
            Environment::Test,
            "production only when said"
        );
        assert_eq!(p.display_name.as_deref(), Some("Dr.ssa Rossi"));
        let (pw, pin) = first.credentials.as_ref().unwrap();
        assert_eq!(
            (pw.expose_secret(), pin.expose_secret()),
            ("Segreta1", "1234567890")
        );
        let second = &plan.users[1].item;
        assert!(second.credentials.is_none());
        assert_eq!(second.profile.display_name, None);
    }

    #[test]
    fn csv_with_semicolons_and_an_odd_header() {
        let plan = csv(
            "\u{feff} User_ID ; CF;Region;\"ASL\";SSA;Role;Environment;Practice;Practice Name;Specialization\r\n\
             PROVAX00X00X000Y;PROVAX00X00X000Y;130;202;123456;Sostituto;TEST;studio-b;Studio B;\"Cardiologia; adulti\"\r\n",
        );
        assert!(plan.refused.is_empty(), "{:?}", plan.refused);
        let u = &plan.users[0];
        assert_eq!(u.line, 2);
        assert_eq!(u.item.practice, practice("studio-b"));
        assert_eq!(u.item.practice_name.as_deref(), Some("Studio B"));
        assert_eq!(u.item.profile.ssa, "123456");
        assert_eq!(u.item.profile.role, Role::Sostituto);
        assert_eq!(u.item.profile.environment, Environment::Test);
        assert_eq!(
            u.item.profile.specialization.as_deref(),
            Some("Cardiologia; adulti")
        );
    }

    #[test]
    fn csv_bad_rows_are_refused_with_their_lines() {
        let plan = csv(concat!(
            "user_id;cf;region;asl;ssa;role;environment;practice;password;pin\n", // 1
            "OK000001;PROVAX00X00X000Y;130;202;;;;;;\n",                          // 2
            ";PROVAX00X00X000Y;130;202;;;;;;\n",                                  // 3
            "TROPPOLUNGO000000X;PROVAX00X00X000Y;130;202;;;;;;\n",                // 4
            "BAD00004;PROVAX00X00X;130;202;;;;;;\n",                              // 5
            "BAD00005;PROVAX00X00X000Y;13;2020;;;;;;\n",                          // 6
            "BAD00006;PROVAX00X00X000Y;130;202;0000;;;;;\n",                      // 7
            "BAD00007;PROVAX00X00X000Y;130;202;;medico;prod;;;\n",                // 8
            "BAD00008;PROVAX00X00X000Y;130;202;;;;Studio Rossi;;\n",              // 9
            "BAD00009;PROVAX00X00X000Y;130;202;;;;;soloPassword;\n",              // 10
            "BAD00010;PROVAX00X00X000Y;130;202;;;;;;1234\n",                      // 11
            "BAD00011;PROVAX00X00X000Y;130;202;;;;;pw;12a4\n",                    // 12
            "\n",                                                                 // 13
            ";;;;;;;;;\n",                                                        // 14
            "BAD00015;;;;;;;;;\n",                                                // 15
            "OK000016;\"PROVAX00X00X000Y\";\"1\n30\";202;;;;;;\n",                // 16-17
            "OK000018;PROVAX00X00X000Y;130;202;;;;;;\n",                          // 18
            "BAD00019;PROVAX00X00X000Y;130;202;;;;;;;x\n",                        // 19
        ));
        assert_eq!(lines(&plan.users), [2, 18]);
        let r = refused(&plan);
        let expect: &[(usize, Option<&str>, &str)] = &[
            (3, None, "Manca l'utente Sistema TS (user_id)."),
            (4, Some("TROPPOLUNGO000000X"), "User_id non valido"),
            (5, Some("BAD00004"), "Cf non valido"),
            (6, Some("BAD00005"), "Region non valido"),
            (7, Some("BAD00006"), "Ssa non valido"),
            (8, Some("BAD00007"), "Role non valido"),
            (9, Some("BAD00008"), "Practice non valido"),
            (10, Some("BAD00009"), "C'è la password ma manca il PIN"),
            (11, Some("BAD00010"), "C'è il PIN ma manca la password"),
            (
                12,
                Some("BAD00011"),
                "Il PIN (pin) deve contenere solo cifre.",
            ),
            (
                15,
                Some("BAD00015"),
                "Manca il codice fiscale del medico (cf)",
            ),
            (16, Some("OK000016"), "Region non valido"),
            (19, None, "La riga ha 11 campi ma l'intestazione ne ha 10"),
        ];
        assert_eq!(r.len(), expect.len(), "{r:#?}");
        for (got, want) in r.iter().zip(expect) {
            assert_eq!((got.0, got.1), (want.0, want.1), "{got:?}");
            assert!(
                got.2.starts_with(want.2),
                "{got:?} does not start with {:?}",
                want.2
            );
        }
        assert!(r[3].2.contains("asl non valido"), "{:?}", r[3]);
        assert!(r[5].2.contains("environment non valido"), "{:?}", r[5]);
        let many = r[10].2;
        for part in ["cf)", "region)", "asl)"] {
            assert!(many.contains(part), "{many}");
        }
    }

    #[test]
    fn line_numbers_count_crlf_and_blank_lines() {
        // The csv reader's own line count gets both wrong.
        let plan = csv(
            "\r\nuser_id;cf;region;asl\r\n\r\nA1;PROVAX00X00X000Y;130;202\r\n\r\n\r\nA2;x;130;202\r\n;;;\r\n\"A3\";\"PROVAX00X00X000Y\";\"1\r\n3\";202\r\nA4;PROVAX00X00X000Y;130;202",
        );
        assert_eq!(lines(&plan.users), [4, 11]);
        let got: Vec<_> = plan.refused.iter().map(|r| r.line).collect();
        assert_eq!(got, [7, 9]);
        // … and the last record, without a final line break.
        let plan = csv(
            "user_id,cf,region,asl\rA1,PROVAX00X00X000Y,130,202\r\rA2,PROVAX00X00X000Y,130,202",
        );
        assert_eq!(lines(&plan.users), [2, 4]);
    }

    #[test]
    fn a_user_twice_is_refused_the_second_time() {
        let plan = csv("user_id,cf,region,asl\n\
             DUP00001,PROVAX00X00X000Y,130,202\n\
             OTHER001,PROVAX00X00X000Y,130,202\n\
             DUP00001,PROVAX00X00X000Y,130,203\n\
             DUP00001,PROVAX00X00X000Y,130,2\n");
        assert_eq!(lines(&plan.users), [2, 3]);
        assert_eq!(
            refused(&plan),
            [
                (
                    4,
                    Some("DUP00001"),
                    "User_id già presente per lo stesso studio alla riga 2."
                ),
                (
                    5,
                    Some("DUP00001"),
                    "Asl non valido: servono esattamente 3 lettere o cifre (es. 201); user_id già presente per lo stesso studio alla riga 2."
                ),
            ]
        );
        // The same doctor in two practices is two memberships, not a mistake.
        let two = parse_import(
            "practice,user_id,cf,region,asl
             studio-a,DUP00001,PROVAX00X00X000Y,130,202
             studio-b,DUP00001,PROVAX00X00X000Y,130,202
"
            .as_bytes(),
            ImportFormat::Csv,
            None,
        )
        .unwrap();
        assert_eq!(lines(&two.users), [2, 3]);
        assert!(two.refused.is_empty());
    }

    #[test]
    fn csv_header_errors() {
        let err = |text: &str| parse_import(text.as_bytes(), ImportFormat::Csv, None).unwrap_err();
        let e = err("user_id,cf,region,asl,telefono\nA,B,C,D,E\n");
        assert_eq!(
            e,
            ImportError::UnknownColumn {
                name: "telefono".into(),
                column: 5
            }
        );
        assert!(e.to_string().contains("`telefono` (colonna 5)"), "{e}");
        assert_eq!(
            err("user_id;cf;region\nA;B;C\n"),
            ImportError::MissingColumn("asl")
        );
        assert_eq!(
            err("user_id,cf,region,asl,CF\n"),
            ImportError::DuplicateColumn("cf")
        );
        assert_eq!(
            err("PROVAX00X00X000Y,PROVAX00X00X000Y,130,202\n"),
            ImportError::MissingHeader
        );
        assert_eq!(err("user_id,cf,region,asl\n\n,,\n"), ImportError::Empty);
        assert_eq!(err(" \r\n\n"), ImportError::Empty);
        assert_eq!(err(""), ImportError::Empty);
        assert_eq!(
            parse_import(
                b"user_id,cf,region,asl\nROSS\xC8,B,C,D\n",
                ImportFormat::Csv,
                None
            )
            .unwrap_err(),
            ImportError::NotUtf8 { line: 2 }
        );
        // Columns without a name are allowed (Excel's trailing separators) while empty.
        let plan = csv(
            "user_id;cf;region;asl;;\nA1;PROVAX00X00X000Y;130;202;;\nA2;PROVAX00X00X000Y;130;202;x;\n",
        );
        assert_eq!(lines(&plan.users), [2]);
        assert_eq!(
            refused(&plan),
            [(
                3,
                None,
                "C'è un valore nella colonna 5, che nell'intestazione non ha nome."
            )]
        );
    }

    #[test]
    fn default_practice_applies_only_when_the_row_names_none() {
        let text = "practice,practice_name,user_id,cf,region,asl\n\
                    ,,A1,PROVAX00X00X000Y,130,202\n\
                    studio-b,Studio B,A2,PROVAX00X00X000Y,130,202\n";
        let default = PracticeId::default_practice();
        let plan = parse_import(text.as_bytes(), ImportFormat::Csv, Some(&default)).unwrap();
        assert_eq!(plan.users[0].item.practice, default);
        assert_eq!(plan.users[1].item.practice, practice("studio-b"));

        let plan = parse_import(text.as_bytes(), ImportFormat::Csv, None).unwrap();
        assert_eq!(lines(&plan.users), [3]);
        assert_eq!(
            refused(&plan),
            [(2, Some("A1"), "Manca lo studio (practice).")]
        );
    }

    #[test]
    fn json_array_of_users() {
        let plan = json(
            r#"[
                {"user_id": "A1", "cf": "PROVAX00X00X000Y", "region": "130", "asl": "202",
                 "role": "farmacia", "password": "pw", "pin": "1234", "specialization": null},
                {"user_id": "A2", "cf": "PROVAX00X00X000Y", "region": 130, "asl": "202", "telefono": "1"},
                "A3",
                {"user_id": " A4 ", "cf": " provax00x00x000y ", "region": "130", "asl": "202", "ssa": ""}
            ]"#,
            Some(&practice("studio-a")),
        );
        assert_eq!(lines(&plan.users), [1, 4]);
        assert_eq!(plan.users[0].item.profile.role, Role::Farmacia);
        assert!(plan.users[0].item.credentials.is_some());
        let a4 = &plan.users[1].item.profile;
        assert_eq!(
            (a4.user_id.as_str(), a4.fiscal_code.as_str()),
            ("A4", "PROVAX00X00X000Y")
        );
        assert_eq!(a4.ssa, "000000");
        assert_eq!(
            refused(&plan),
            [
                (
                    2,
                    Some("A2"),
                    "`region` deve essere un testo tra virgolette (es. \"010\", non 010); campo sconosciuto `telefono` (ammessi: practice, practice_name, user_id, cf, region, asl, ssa, specialization, display_name, role, environment, password, pin); manca il codice della regione (region)."
                ),
                (3, None, "L'elemento deve essere un oggetto JSON ({ … })."),
            ]
        );
    }

    #[test]
    fn json_object_with_practice_and_workstations() {
        let plan = json(
            r#"{
              "practice": {"id": "studio-rossi", "name": "Studio Rossi"},
              "users": [
                {"user_id": "A1", "cf": "PROVAX00X00X000Y", "region": "130", "asl": "202"},
                {"user_id": "A2", "cf": "PROVAX00X00X000Y", "region": "130", "asl": "202", "practice": "studio-b"},
                {"user_id": "A3", "cf": "PROVAX00X00X000Y", "region": "130", "asl": "202", "practice": "studio-rossi"}
              ],
              "workstations": [
                {"name": "Ambulatorio 1", "role": "Doctor", "users": ["A3", "A1", "A1"]},
                {"name": "Gestionale", "role": "backend"},
                {"name": "Provisioning", "role": "vendor"},
                {"name": "Reception", "role": "staff", "practice": "studio-b", "users": []},
                {"name": "Ambulatorio 1", "role": "admin"},
                {"name": "Ambulatorio 1", "role": "staff", "practice": "studio-b"},
                {"name": "Fornitore", "role": "vendor", "practice": "studio-b"},
                {"name": "Server", "role": "backend", "users": ["A1"]},
                {"name": "", "role": "boss", "users": ["A1", "non valido", 3]},
                {"name": "Lunga", "role": "doctor", "colore": "blu"},
                ["non", "un", "oggetto"]
              ]
            }"#,
            None,
        );
        let rossi = practice("studio-rossi");
        let names: Vec<_> = plan
            .users
            .iter()
            .map(|u| (u.item.practice.as_str(), u.item.practice_name.as_deref()))
            .collect();
        assert_eq!(
            names,
            [
                ("studio-rossi", Some("Studio Rossi")),
                ("studio-b", None),
                ("studio-rossi", Some("Studio Rossi"))
            ]
        );
        assert_eq!(lines(&plan.workstations), [1, 2, 3, 4, 6]);
        let ws: Vec<_> = plan.workstations.iter().map(|w| &w.item).collect();
        assert_eq!(
            *ws[0],
            WorkstationSpec {
                name: "Ambulatorio 1".into(),
                role: WorkstationRole::Doctor,
                practice: Some(rossi.clone()),
                users: vec![UserId::new("A1").unwrap(), UserId::new("A3").unwrap()],
            }
        );
        assert_eq!(ws[1].practice, Some(rossi.clone()));
        assert_eq!(
            (ws[2].role, ws[2].practice.as_ref()),
            (WorkstationRole::Vendor, None)
        );
        assert_eq!(ws[3].practice, Some(practice("studio-b")));
        assert_eq!(ws[4].practice, Some(practice("studio-b")));
        assert_eq!(
            refused(&plan),
            [
                (
                    5,
                    Some("Ambulatorio 1"),
                    "Postazione: già presente alla riga 1 (stesso studio e stesso nome)."
                ),
                (
                    7,
                    Some("Fornitore"),
                    "Postazione: una postazione vendor non appartiene a nessuno studio: togli practice."
                ),
                (
                    8,
                    Some("Server"),
                    "Postazione: una postazione backend non elenca utenti: togli users."
                ),
                (
                    9,
                    None,
                    "Postazione: manca il nome (name); ruolo non valido: usa admin, doctor, staff, backend o vendor; users contiene user_id non validi (posizione 2, 3): ognuno da 1 a 16 caratteri, senza spazi, tra virgolette."
                ),
                (
                    10,
                    Some("Lunga"),
                    "Postazione: campo sconosciuto `colore` (ammessi: name, role, practice, users)."
                ),
                (
                    11,
                    None,
                    "Postazione: l'elemento deve essere un oggetto JSON ({ … })."
                )
            ]
        );
    }

    #[test]
    fn workstation_practice_rules_without_any_default() {
        let plan = json(
            r#"{"workstations": [
                {"name": "Banco", "role": "staff"},
                {"name": "Server", "role": "backend"},
                {"name": "Lungo", "role": "admin", "practice": "studio-a", "users": []}
            ]}"#,
            None,
        );
        assert_eq!(lines(&plan.workstations), [2, 3]);
        assert_eq!(plan.workstations[0].item.practice, None);
        assert_eq!(
            refused(&plan),
            [(1, Some("Banco"), "Postazione: manca lo studio (practice).")]
        );
        let long = "x".repeat(101);
        let plan = json(
            &format!(r#"{{"workstations": [{{"name": "{long}", "role": "doctor"}}]}}"#),
            Some(&practice("studio-a")),
        );
        assert!(plan.refused[0].reason.contains("supera i 100 caratteri"));
        assert_eq!(
            plan.refused[0].id.as_ref().map(|s| s.chars().count()),
            Some(65)
        );
    }

    #[test]
    fn json_file_level_errors() {
        let err = |text: &str| parse_import(text.as_bytes(), ImportFormat::Json, None).unwrap_err();
        match err("[\n  {\"user_id\": \"A1\",}\n]") {
            ImportError::Json {
                line,
                column,
                reason,
            } => {
                assert_eq!((line, column), (2, 20));
                assert!(
                    reason.starts_with("sintassi non valida (trailing comma)"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
        let e = err("[{\"user_id\": \"A1\"");
        assert!(e.to_string().contains("finisce prima del previsto"), "{e}");
        assert!(matches!(err("\"ciao\""), ImportError::JsonStructure(_)));
        let e = err(r#"{"utenti": []}"#);
        assert!(e.to_string().contains("`utenti`"), "{e}");
        assert!(matches!(
            err(r#"{"users": {}}"#),
            ImportError::JsonStructure(_)
        ));
        assert!(matches!(
            err(r#"{"practice": {"id": "Studio Rossi"}, "users": [{}]}"#),
            ImportError::JsonStructure(_)
        ));
        assert_eq!(err("[]"), ImportError::Empty);
        assert_eq!(
            err(r#"{"users": [], "workstations": null}"#),
            ImportError::Empty
        );
    }

    #[test]
    fn secrets_never_leak() {
        let password = "Pw-Segretissima-77";
        let pin = "98765432109";
        // A refused row (password and a PIN that is not digits, then a PIN without password).
        let text = format!(
            "user_id,cf,region,asl,password,pin\n\
             A1,PROVAX00X00X000Y,130,202,{password},{pin}x\n\
             A2,PROVAX00X00X000Y,130,202,,{pin}\n\
             A3,PROVAX00X00X000Y,1300,202,{password},{pin}\n\
             A4,PROVAX00X00X000Y,130,202,{password},{pin},{password}\n\
             A5,PROVAX00X00X000Y,130,202,{password},{pin}\n"
        );
        let default = PracticeId::default_practice();
        let plan = parse_import(text.as_bytes(), ImportFormat::Csv, Some(&default)).unwrap();
        assert_eq!(plan.refused.len(), 4, "{:#?}", plan.refused);
        assert_eq!(lines(&plan.users), [6]);
        let dump = format!("{plan:?} {}", serde_json::to_string(&plan.refused).unwrap());
        assert!(!dump.contains(password) && !dump.contains(pin), "{dump}");

        let plan = json(
            &format!(
                r#"[{{"user_id": "A1", "cf": "PROVAX00X00X000Y", "region": "130", "asl": "202", "password": "{password}", "pin": {pin}}}]"#
            ),
            None,
        );
        let dump = format!("{plan:?}");
        assert!(!dump.contains(password) && !dump.contains(pin), "{dump}");

        // A file without a header: its first row must not be quoted as a column name.
        for text in [
            format!("{password},{pin},A1,PROVAX00X00X000Y\n"),
            format!("[{{\"password\": \"{password}\", \"pin\": \"{pin}\",]"),
            format!("[{{\"password\": \"{password}\", \"pin\": {pin}x}}]"),
        ] {
            let format = ImportFormat::detect(text.as_bytes(), None);
            let e = parse_import(text.as_bytes(), format, None).unwrap_err();
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains(password) && !shown.contains(pin), "{shown}");
        }
    }

    #[test]
    fn a_hundred_thousand_rows() {
        use std::fmt::Write;
        const N: usize = 100_000;
        let mut text = String::with_capacity(N * 64);
        text.push_str("user_id;cf;region;asl;display_name;password;pin\n");
        for i in 0..N {
            writeln!(
                text,
                "U{i:08};PROVAX00X00X000Y;130;202;Dottore {i};pw{i};{i}"
            )
            .unwrap();
        }
        let plan =
            parse_import(text.as_bytes(), ImportFormat::Csv, Some(&practice("aft-1"))).unwrap();
        assert!(plan.refused.is_empty(), "{:?}", &plan.refused[..1]);
        assert_eq!(plan.users.len(), N);
        let last = plan.users.last().unwrap();
        assert_eq!(last.line, N + 1);
        assert_eq!(last.item.profile.user_id.as_str(), format!("U{:08}", N - 1));
    }
}
