//! Finance's changes to the pot and to an award, one per page: top up the
//! pot (`/staff/{programme}/top-up`), claw back money paid on an award
//! (`…/applications/{reference}/clawback`) and close an award, releasing
//! what is left of it (`…/applications/{reference}/close`). Each form goes
//! back to its page with its errors and what was typed, or on to the page
//! it changed with a notice saying what was done.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use grantflow_core::{Action, ApplicationId, Command, Money};

use super::account::{Field, FormPage, encode, redirect, session};
use super::staff::{Change, again, checked, run, wrong_role};
use super::{drafts, rules, typed_money};
use crate::AppState;
use crate::roles::{Caller, Role};

type Fields = BTreeMap<String, String>;

/// Shows the finance form `form` at `here`, with what its last post kept.
async fn show(state: &AppState, caller: &Caller, here: &str, mut form: FormPage) -> Response {
    let (who, csrf, _) = match session(state, caller, here, true).await {
        Ok(s) => s,
        Err(to_sign_in) => return to_sign_in,
    };
    if who.role != Role::Finance {
        return wrong_role(Role::Finance, &who);
    }
    let form_id = match super::form_id() {
        Ok(id) => id,
        Err(page) => return page,
    };
    let kept = drafts::take(state, drafts::key(&who, here), drafts::owner(&who)).await;
    for f in &mut form.fields {
        f.value = kept.value(f.id).to_string();
        f.error = kept.error(f.id).map(str::to_string);
    }
    form.action = here.to_string();
    form.hidden.extend([("csrf", csrf), ("form_id", form_id)]);
    form.show()
}

/// The amount a form sent and the text in `field` beside it, or each
/// one's error (`example` shows a good amount; `missing` asks for the text).
fn amount_and(
    f: &Fields,
    field: &'static str,
    example: &str,
    missing: &str,
) -> Result<(Money, String), Vec<(&'static str, String)>> {
    let amount = f.get("amount").and_then(|a| typed_money(a));
    let text = f
        .get(field)
        .map(|t| t.trim().to_string())
        .unwrap_or_default();
    let mut errors = Vec::new();
    if amount.is_none() {
        errors.push((
            "amount",
            format!("Enter the amount in pounds, like {example}"),
        ));
    }
    if text.is_empty() {
        errors.push((field, missing.to_string()));
    }
    match amount {
        Some(amount) if errors.is_empty() => Ok((amount, text)),
        _ => Err(errors),
    }
}

fn amount_field(label: &'static str, hint: &'static str) -> Field {
    Field {
        width: "input-short",
        ..Field::text("amount", label, hint, String::new())
    }
}

fn form(
    heading: String,
    intro: Vec<String>,
    fields: Vec<Field>,
    button: &'static str,
    back: String,
) -> FormPage {
    FormPage {
        heading,
        intro,
        action: String::new(),
        hidden: Vec::new(),
        fields,
        button,
        picture: None,
        errors: Vec::new(),
        links: vec![(back, "Go back without changing anything")],
    }
}

/// `/staff/{programme}/top-up`: add money to the pot.
pub(super) async fn top_up_page(
    State(state): State<AppState>,
    caller: Caller,
    Path(programme): Path<String>,
) -> Response {
    let p = match rules(&state, &programme).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let here = format!("/staff/{}/top-up", p.id);
    let page = form(
        format!("Top up the pot of {}", p.name),
        vec!["The money is available to offers at once; applications on the waiting list are offered it in the order they arrived.".into()],
        vec![
            amount_field("Amount, in pounds", "For example 25000 or 25,000.00."),
            Field::text("note", "Where the money comes from", "For example, the grant letter's reference; it is kept in the history.", String::new()),
        ],
        "Top up the pot",
        format!("/staff/{}/dashboard", p.id),
    );
    show(&state, &caller, &here, page).await
}

/// The top-up was sent.
pub(super) async fn top_up(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(programme): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    let here = format!("/staff/{programme}/top-up");
    let (who, id) = match checked(&state, &caller, &headers, &here, Role::Finance, &f).await {
        Ok(c) => c,
        Err(refused) => return refused,
    };
    let (amount, note) = match amount_and(
        &f,
        "note",
        "25000 or 25,000.00",
        "Enter where the money comes from",
    ) {
        Ok(sent) => sent,
        Err(errors) => return again(&state, &who, &here, &f, errors).await,
    };
    let action = Action::TopUp { amount, note };
    let to = format!("/staff/{programme}/dashboard");
    let notice = format!("The pot was topped up by {}.", amount.display_pounds());
    let change = Change {
        here: &here,
        to: &to,
        fields: &f,
        field: "amount",
    };
    run(
        &state,
        &who,
        &programme,
        Command::new(id, action),
        change,
        notice,
    )
    .await
}

fn application_here(programme: &str, reference: &str, what: &str) -> (String, String) {
    let page = format!("/staff/{programme}/applications/{}", encode(reference));
    (format!("{page}/{what}"), page)
}

/// `…/applications/{reference}/clawback`: recover money paid on an award.
pub(super) async fn clawback_page(
    State(state): State<AppState>,
    caller: Caller,
    Path((programme, reference)): Path<(String, String)>,
) -> Response {
    let (here, back) = application_here(&programme, &reference, "clawback");
    let page = form(
        format!("Claw back money paid to {reference}"),
        vec!["The amount goes back to the pot and counts as recovered. It can be at most what has been paid on the award and not yet recovered.".into()],
        vec![
            amount_field("Amount, in pounds", "For example 450 or 450.00."),
            Field::text("reason", "Why it is recovered", "For example, the certificate was withdrawn; it is kept in the history.", String::new()),
        ],
        "Claw back",
        back,
    );
    show(&state, &caller, &here, page).await
}

/// The clawback was sent.
pub(super) async fn clawback(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((programme, reference)): Path<(String, String)>,
    Form(f): Form<Fields>,
) -> Response {
    let (here, to) = application_here(&programme, &reference, "clawback");
    let (who, id) = match checked(&state, &caller, &headers, &here, Role::Finance, &f).await {
        Ok(c) => c,
        Err(refused) => return refused,
    };
    let (amount, reason) = match amount_and(
        &f,
        "reason",
        "450 or 450.00",
        "Enter why the money is recovered",
    ) {
        Ok(sent) => sent,
        Err(errors) => return again(&state, &who, &here, &f, errors).await,
    };
    let action = Action::Clawback {
        application: ApplicationId::parse_or_name(reference.trim()),
        amount,
        reason,
    };
    let notice = format!("{} was clawed back.", amount.display_pounds());
    let change = Change {
        here: &here,
        to: &to,
        fields: &f,
        field: "amount",
    };
    run(
        &state,
        &who,
        &programme,
        Command::new(id, action),
        change,
        notice,
    )
    .await
}

/// `…/applications/{reference}/close`: close an award.
pub(super) async fn close_page(
    State(state): State<AppState>,
    caller: Caller,
    Path((programme, reference)): Path<(String, String)>,
) -> Response {
    let (here, back) = application_here(&programme, &reference, "close");
    let page = form(
        format!("Close the award to {reference}?"),
        vec![
            "What is left of the award goes back to the pot, and no more claims can be paid on it."
                .into(),
            "This cannot be undone.".into(),
        ],
        vec![Field {
            choices: vec![("yes", "Yes, close it"), ("no", "No, keep it open")],
            ..Field::text("close", "Close this award now?", "", String::new())
        }],
        "Continue",
        back,
    );
    show(&state, &caller, &here, page).await
}

/// The answer to closing was sent.
pub(super) async fn close(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((programme, reference)): Path<(String, String)>,
    Form(f): Form<Fields>,
) -> Response {
    let (here, to) = application_here(&programme, &reference, "close");
    let (who, id) = match checked(&state, &caller, &headers, &here, Role::Finance, &f).await {
        Ok(c) => c,
        Err(refused) => return refused,
    };
    match f.get("close").map(String::as_str) {
        Some("no") => return redirect(&to, None),
        Some("yes") => {}
        _ => {
            let errors = vec![(
                "close",
                "Select yes to close the award, or no to keep it open".to_string(),
            )];
            return again(&state, &who, &here, &f, errors).await;
        }
    }
    let action = Action::Complete {
        application: ApplicationId::parse_or_name(reference.trim()),
    };
    let notice = "The award is closed; what was left of it is back in the pot.".into();
    let change = Change {
        here: &here,
        to: &to,
        fields: &f,
        field: "close",
    };
    run(
        &state,
        &who,
        &programme,
        Command::new(id, action),
        change,
        notice,
    )
    .await
}
