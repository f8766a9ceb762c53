//! Pages of long lists: `?after=<cursor>&limit=<n>&search=<text>` in, the rows as a JSON
//! array and the next page's cursor in the `X-Next-Cursor` header out (no header: last page).
//! The body stays an array, so that a client that ignores paging reads the first page as
//! before.

use axum::Json;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tsgate_session::{ListQuery, Page, PracticeId};

/// The header holding the next page's cursor.
pub(crate) const NEXT_CURSOR: &str = "x-next-cursor";

/// The paging part of a list's query string.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct PageParams {
    /// The cursor of the previous page's `X-Next-Cursor`.
    pub after: Option<String>,
    /// At most this many rows (1 to 1000; 100 when absent).
    #[serde(default, deserialize_with = "number_or_text")]
    pub limit: Option<u32>,
    /// Only rows whose identifier or name contains this text.
    pub search: Option<String>,
}

impl PageParams {
    /// The domain's query, within `practice` when given.
    pub(crate) fn query(&self, practice: Option<PracticeId>) -> ListQuery {
        ListQuery {
            practice,
            search: self.search.clone(),
            after: self.after.clone().filter(|a| !a.is_empty()),
            limit: self.limit,
        }
    }
}

/// The rows as a JSON array, with the cursor of the next page when there is one.
pub(crate) fn paged<T: Serialize>(page: Page<T>) -> Response {
    let mut response = Json(page.items).into_response();
    if let Some(next) = page.next.and_then(|n| HeaderValue::from_str(&n).ok()) {
        response.headers_mut().insert(NEXT_CURSOR, next);
    }
    response
}

/// A number given as a number or as text: inside a `#[serde(flatten)]` query struct every
/// value reaches the deserializer as text.
fn number_or_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Number(u32),
        Text(String),
    }
    match Option::<Either>::deserialize(d)? {
        None => Ok(None),
        Some(Either::Number(n)) => Ok(Some(n)),
        Some(Either::Text(t)) if t.trim().is_empty() => Ok(None),
        Some(Either::Text(t)) => t.trim().parse().map(Some).map_err(|_| {
            serde::de::Error::custom(format!(
                "limit deve essere un numero tra 1 e {} (trovato {t:?})",
                ListQuery::MAX_LIMIT
            ))
        }),
    }
}

/// A `true`/`false` flag given as a boolean or as text (see [`number_or_text`]).
pub(crate) fn flag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Bool(bool),
        Text(String),
    }
    match Either::deserialize(d)? {
        Either::Bool(b) => Ok(b),
        Either::Text(t) => match t.trim() {
            "true" | "1" => Ok(true),
            "false" | "0" | "" => Ok(false),
            other => Err(serde::de::Error::custom(format!(
                "atteso true o false (trovato {other:?})"
            ))),
        },
    }
}
