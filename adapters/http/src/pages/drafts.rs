//! Redirect after every post: a form's post keeps what was typed and what
//! was wrong in a [`Draft`], then sends the browser to a page that shows
//! it. A signed-in form's draft is keyed by its session and the form's
//! page, so only that session ever sees it; the few forms used before
//! sign-in key theirs by their link's secret, or carry a word for what
//! went wrong in the address instead.

use axum::response::Response;
use grantflow_accounts::Draft;

use crate::AppState;
use crate::roles::{Signed, Via};

/// The field names a draft never keeps.
const NEVER_KEPT: [&str; 5] = ["csrf", "form_id", "password", "totp", "code"];

/// The session hash `who` signed in with (none for a token).
pub(super) fn owner(who: &Signed) -> Option<String> {
    match &who.via {
        Via::Session { key, .. } => Some(key.clone()),
        Via::Token => None,
    }
}

/// The draft key of the form `form` for `who`'s session.
pub(super) fn key(who: &Signed, form: &str) -> String {
    format!("{}/{form}", owner(who).unwrap_or_default())
}

/// A draft of `values` (less what is never kept) with `errors`, written by
/// `who`'s session.
pub(super) fn of<'a>(
    who: Option<&Signed>,
    values: impl IntoIterator<Item = (&'a String, &'a String)>,
    errors: Vec<(String, String)>,
) -> Draft {
    Draft {
        owner: who.and_then(owner),
        values: values
            .into_iter()
            .filter(|(k, _)| !NEVER_KEPT.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        errors,
        ..Draft::default()
    }
}

/// Keeps `draft` under `key` and sends the browser on to `to` (or shows
/// the page that says the records are down).
pub(super) async fn keep_and_go(state: &AppState, key: String, draft: Draft, to: &str) -> Response {
    let now = (state.clock)();
    match state
        .records(move |a| a.save_draft(&key, &draft, now))
        .await
    {
        Ok(()) => super::account::redirect(to, None),
        Err(down) => super::trouble(down),
    }
}

/// The draft under `key` for `owner` (kept for the next page too), or an
/// empty one.
pub(super) async fn read(state: &AppState, key: String, owner: Option<String>) -> Draft {
    let now = (state.clock)();
    state
        .records(move |a| a.draft(&key, owner.as_deref(), now))
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// The draft under `key` for `owner`, shown once, or an empty one.
pub(super) async fn take(state: &AppState, key: String, owner: Option<String>) -> Draft {
    let now = (state.clock)();
    state
        .records(move |a| a.take_draft(&key, owner.as_deref(), now))
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}
