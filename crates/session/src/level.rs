//! The colour of a session's card, shared by the record (what was last announced) and the
//! view.

use serde::{Deserialize, Serialize};

/// Card colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Usable, more than the yellow window left.
    Green,
    /// Usable but close to expiry, or being re-verified.
    Yellow,
    /// Not usable.
    Red,
}
