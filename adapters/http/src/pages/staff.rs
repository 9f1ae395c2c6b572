//! `/staff/{programme}/applications/{reference}`: one application as staff
//! see it (stage, award, what each item has been paid, its history in
//! words), where an assessor records milestones and finance pays claims.
//! Each form carries the session's CSRF token and a random id that is the
//! command's id, so sending a form twice records it once.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use grantflow_core::{Action, ApplicationId, Command, CommandId, Item, Milestone, ProgrammeId};

use super::account::{encode, session, signed_form};
use super::{Message, drafts, page, rules, typed_money};
use crate::AppState;
use crate::roles::{Caller, Role, Signed};
use grantflow_accounts::Draft;

type Fields = BTreeMap<String, String>;

#[derive(Template)]
#[template(path = "staff_application.html")]
struct StaffApplication {
    programme: String,
    reference: String,
    here: String,
    organisation: String,
    stage: String,
    award: String,
    items: Vec<(String, String, String, String)>,
    history: Vec<(String, String)>,
    assessor: bool,
    finance: bool,
    csrf: String,
    form_id: String,
    milestones: Vec<(String, String)>,
    item_choices: Vec<(String, String)>,
    errors: Vec<(String, String)>,
    notice: String,
    milestone_error: Option<String>,
    item_error: Option<String>,
    invoice_error: Option<String>,
    amount_error: Option<String>,
    claim_item: String,
    claim_invoice: String,
    claim_amount: String,
}

fn words<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// What the page shows of the application, read from the state and events.
struct Seen {
    organisation: String,
    stage: String,
    award: String,
    items: Vec<(String, String, String, String)>,
    history: Vec<(String, String)>,
}

async fn seen(
    state: &AppState,
    programme: &ProgrammeId,
    application: ApplicationId,
) -> Result<Option<Seen>, crate::Problem> {
    let p = programme.clone();
    state
        .blocking(move |programmes| {
            let mut found = None;
            programmes.read(&p, &mut |s| {
                if let Some(app) = s.application(&application) {
                    found = Some(Seen {
                        organisation: app.applicant().organisation.name.clone(),
                        stage: app.stage().kind().as_str().replace('_', " "),
                        award: app.award().display_pounds(),
                        items: Item::ALL
                            .iter()
                            .filter(|i| app.coverage().is_some_and(|c| !c.item(**i).is_zero()))
                            .map(|i| {
                                (
                                    i.as_str().replace('_', " "),
                                    app.coverage()
                                        .map(|c| c.item(*i).display_pounds())
                                        .unwrap_or_default(),
                                    app.item_paid(*i).display_pounds(),
                                    app.payable(*i).display_pounds(),
                                )
                            })
                            .collect(),
                        history: Vec::new(),
                    });
                }
            })?;
            Ok(found)
        })
        .await
}

/// The page, with the errors and values its last post kept.
async fn show(
    state: &AppState,
    who: &Signed,
    csrf: &str,
    programme: &str,
    reference: &str,
    kept: Draft,
) -> Response {
    let p = match rules(state, programme).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let id = ProgrammeId::new(&p.id);
    let application = ApplicationId::parse_or_name(reference.trim());
    let mut seen = match seen(state, &id, application).await {
        Ok(Some(seen)) => seen,
        Ok(None) => {
            return super::not_found(format!(
                "There is no application “{reference}” in this programme."
            ));
        }
        Err(problem) => return super::trouble(problem),
    };
    seen.history = match super::history::of(state, &id, application).await {
        Ok(lines) => lines,
        Err(problem) => return super::trouble(problem),
    };
    let form_id = match super::form_id() {
        Ok(id) => id,
        Err(page) => return page,
    };
    let v = |k: &str| kept.value(k).to_string();
    let e = |k: &str| kept.error(k).map(str::to_string);
    page(
        StatusCode::OK,
        &StaffApplication {
            programme: p.name.clone(),
            here: format!("/staff/{}/applications/{}", p.id, encode(reference)),
            reference: reference.to_string(),
            organisation: seen.organisation,
            stage: seen.stage,
            award: seen.award,
            items: seen.items,
            history: seen.history,
            assessor: who.role == Role::Assessor,
            finance: who.role == Role::Finance,
            csrf: csrf.to_string(),
            form_id,
            milestones: Milestone::ALL
                .iter()
                .map(|m| {
                    let w = words(m);
                    (w.clone(), w.replace('_', " "))
                })
                .collect(),
            item_choices: Item::ALL
                .iter()
                .map(|i| (i.as_str().to_string(), i.as_str().replace('_', " ")))
                .collect(),
            milestone_error: e("milestone"),
            item_error: e("item"),
            invoice_error: e("invoice_ref"),
            amount_error: e("amount"),
            notice: v("notice"),
            errors: kept.errors.clone(),
            claim_item: v("item"),
            claim_invoice: v("invoice_ref"),
            claim_amount: v("amount"),
        },
    )
}

/// The page for a staff member whose role may not do this.
pub(super) fn wrong_role(role: Role, who: &Signed) -> Response {
    page(
        StatusCode::FORBIDDEN,
        &Message {
            heading: "Your role may not do this",
            detail: format!(
                "This needs the {role} role; you are signed in as {}.",
                who.role
            ),
        },
    )
}

pub(super) fn staff_only(who: &Signed) -> Option<Response> {
    (!who.role.is_staff()).then(|| {
        page(
            StatusCode::FORBIDDEN,
            &Message {
                heading: "This page is for programme staff",
                detail: "You are signed in as an applicant.".into(),
            },
        )
    })
}

/// `/staff/{programme}/applications/{reference}`.
pub(super) async fn application(
    State(state): State<AppState>,
    caller: Caller,
    Path((programme, reference)): Path<(String, String)>,
) -> Response {
    let here = format!("/staff/{programme}/applications/{}", encode(&reference));
    let (who, csrf, _) = match session(&state, &caller, &here, true).await {
        Ok(s) => s,
        Err(to_sign_in) => return to_sign_in,
    };
    if let Some(refused) = staff_only(&who) {
        return refused;
    }
    let kept = drafts::take(&state, drafts::key(&who, &here), drafts::owner(&who)).await;
    show(&state, &who, &csrf, &programme, &reference, kept).await
}

/// Goes back to `here` with `errors` and what `f` typed kept (redirect
/// after every post).
pub(super) async fn again(
    state: &AppState,
    who: &Signed,
    here: &str,
    f: &Fields,
    errors: Vec<(&str, String)>,
) -> Response {
    let errors = errors
        .into_iter()
        .map(|(k, m)| (k.to_string(), m))
        .collect();
    let draft = drafts::of(Some(who), f, errors);
    drafts::keep_and_go(state, drafts::key(who, here), draft, here).await
}

/// A staff form's command: the form's page, where to go once it is done,
/// what the form sent, and the field a refusal is shown against.
pub(super) struct Change<'a> {
    pub(super) here: &'a str,
    pub(super) to: &'a str,
    pub(super) fields: &'a Fields,
    pub(super) field: &'static str,
}

/// Runs `command`, sent from the form at `change.here`: on to `change.to`,
/// which says `notice` once; or back to the form with the refusal.
pub(super) async fn run(
    state: &AppState,
    who: &Signed,
    programme: &str,
    command: Command,
    change: Change<'_>,
    notice: String,
) -> Response {
    match super::execute(state, who, ProgrammeId::new(programme.trim()), command).await {
        Ok(()) => done(state, who, change.to, notice).await,
        Err(why) => {
            let errors = vec![(change.field, why)];
            again(state, who, change.here, change.fields, errors).await
        }
    }
}

/// Goes on to `to`, whose page says `notice` once.
pub(super) async fn done(state: &AppState, who: &Signed, to: &str, notice: String) -> Response {
    let values = Fields::from([("notice".to_string(), notice)]);
    let draft = drafts::of(Some(who), &values, Vec::new());
    drafts::keep_and_go(state, drafts::key(who, to), draft, to).await
}

/// Checks a staff form: its origin, its session, its role, its CSRF token
/// and its command id.
pub(super) async fn checked(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    here: &str,
    role: Role,
    f: &Fields,
) -> Result<(Signed, CommandId), Response> {
    let refuse = |who: &Signed| (who.role != role).then(|| wrong_role(role, who));
    let (who, _) = signed_form(state, caller, headers, here, true, f.get("csrf"), refuse).await?;
    let id = CommandId::given(f.get("form_id").map(String::as_str).unwrap_or(""))
        .map_err(|_| super::expired())?;
    Ok((who, id))
}

/// An assessor records a milestone.
pub(super) async fn milestone(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((programme, reference)): Path<(String, String)>,
    Form(f): Form<Fields>,
) -> Response {
    let here = format!("/staff/{programme}/applications/{}", encode(&reference));
    let (who, id) = match checked(&state, &caller, &headers, &here, Role::Assessor, &f).await {
        Ok(c) => c,
        Err(refused) => return refused,
    };
    let chosen = Milestone::ALL
        .iter()
        .copied()
        .find(|m| Some(words(m).as_str()) == f.get("milestone").map(String::as_str));
    let Some(milestone) = chosen else {
        let errors = vec![("milestone", "Select what has happened".into())];
        return again(&state, &who, &here, &f, errors).await;
    };
    let application = ApplicationId::parse_or_name(reference.trim());
    let notice = format!("Recorded: {}.", words(&milestone).replace('_', " "));
    let action = Action::Milestone {
        application,
        milestone,
    };
    let change = Change {
        here: &here,
        to: &here,
        fields: &f,
        field: "milestone",
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

/// Finance pays a claim.
pub(super) async fn claim(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((programme, reference)): Path<(String, String)>,
    Form(f): Form<Fields>,
) -> Response {
    let here = format!("/staff/{programme}/applications/{}", encode(&reference));
    let (who, id) = match checked(&state, &caller, &headers, &here, Role::Finance, &f).await {
        Ok(c) => c,
        Err(refused) => return refused,
    };
    let mut errors = Vec::new();
    let item = Item::ALL
        .iter()
        .copied()
        .find(|i| Some(i.as_str()) == f.get("item").map(String::as_str));
    if item.is_none() {
        errors.push(("item", "Select which item the invoice is for".to_string()));
    }
    let invoice_ref = f
        .get("invoice_ref")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    if invoice_ref.is_empty() {
        errors.push(("invoice_ref", "Enter the invoice reference".to_string()));
    }
    let amount = f.get("amount").and_then(|a| typed_money(a));
    if amount.is_none() {
        errors.push((
            "amount",
            "Enter the amount in pounds, like 900 or 900.00".to_string(),
        ));
    }
    let (Some(item), Some(amount), true) = (item, amount, errors.is_empty()) else {
        return again(&state, &who, &here, &f, errors).await;
    };
    let application = ApplicationId::parse_or_name(reference.trim());
    let action = Action::Claim {
        application,
        item,
        invoice_ref,
        amount,
    };
    let notice = format!("Paid {}.", amount.display_pounds());
    let change = Change {
        here: &here,
        to: &here,
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
