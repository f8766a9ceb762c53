//! The simulator's test identities (test data, printed on purpose by `GET /sim/users`).

use serde::{Deserialize, Serialize};

/// What a test identity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A doctor holding his own prescriptions (cfMedico1).
    Titolare,
    /// A substitute doctor (cfMedico2), prescribing on behalf of a titolare.
    Sostituto,
    /// A pharmacy (EROGATORE).
    Farmacia,
}

/// One test identity, as `GET /sim/users` shows it (and clients read it back).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestUser {
    /// Sistema TS user id (the HTTP Basic user).
    pub user_id: String,
    /// Fiscal code bound to the user.
    pub cf: String,
    /// Basic password.
    pub password: String,
    /// Clear PIN (sent encrypted with the simulator's certificate).
    pub pin: String,
    /// Region code (3).
    pub region: String,
    /// ASL code (3).
    pub asl: String,
    /// SSA code.
    pub ssa: String,
    /// Specialization code for prescriptions (`F`).
    pub specialization: String,
    /// Titolare, sostituto or farmacia.
    pub role: Role,
    /// Certified e-mail address that receives the ID-SESSIONE; `null` for the user without one
    /// (his `create` fails with A2F error 200).
    pub email: Option<String>,
    /// Surname printed as communication 0199 on the promemoria.
    #[serde(skip)]
    pub surname: String,
    /// Name printed as communication 0198.
    #[serde(skip)]
    pub name: String,
}

impl TestUser {
    /// The `applicazione` this user's ID-SESSIONE is for.
    pub fn applicazione(&self) -> &'static str {
        match self.role {
            Role::Farmacia => "EROGATORE",
            Role::Titolare | Role::Sostituto => "PRESCRITTORE",
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn user(
    user_id: &str,
    cf: &str,
    password: &str,
    pin: &str,
    (region, asl, ssa): (&str, &str, &str),
    role: Role,
    email: Option<&str>,
    (surname, name): (&str, &str),
) -> TestUser {
    TestUser {
        user_id: user_id.into(),
        cf: cf.into(),
        password: password.into(),
        pin: pin.into(),
        region: region.into(),
        asl: asl.into(),
        ssa: ssa.into(),
        specialization: "F".into(),
        role,
        email: email.map(str::to_owned),
        surname: surname.into(),
        name: name.into(),
    }
}

/// The fixed test identities: a titolare, his substitute, a pharmacy (the kit's public test
/// user ids), a doctor without a certified e-mail and a second pharmacy (invented, to test
/// a prescription taken in charge by another pharmacy). Passwords and PINs are invented.
pub fn default_users() -> Vec<TestUser> {
    vec![
        user(
            "PROVAX00X00X000Y",
            "PROVAX00X00X000Y",
            "Titolare.2026",
            "1234567890",
            ("130", "202", "000000"),
            Role::Titolare,
            Some("provax00x00x000y@medici.sim.tsgate.test"),
            ("PRO", "VA"),
        ),
        user(
            "PROVAX00X00X000Z",
            "PROVAX00X00X000Z",
            "Sostituto.2026",
            "2345678901",
            ("130", "202", "000000"),
            Role::Sostituto,
            Some("provax00x00x000z@medici.sim.tsgate.test"),
            ("PRO", "VAZ"),
        ),
        user(
            "UV386Q5B",
            "BBTMRZ54L19H501T",
            "Farmacia.2026",
            "3456789012",
            ("130", "204", "78909"),
            Role::Farmacia,
            Some("uv386q5b@farmacie.sim.tsgate.test"),
            ("BBT", "MRZ"),
        ),
        user(
            "PROVAX00X00X000W",
            "PROVAX00X00X000W",
            "SenzaMail.2026",
            "4567890123",
            ("130", "202", "000000"),
            Role::Titolare,
            None,
            ("PRO", "VAW"),
        ),
        user(
            "FARMSIM2",
            "VRDLGU60M01A345B",
            "Farmacia2.2026",
            "5678901234",
            ("130", "204", "78910"),
            Role::Farmacia,
            Some("farmsim2@farmacie.sim.tsgate.test"),
            ("VRD", "LGU"),
        ),
    ]
}
