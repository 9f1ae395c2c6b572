//! Applying, for a signed-in applicant: `/apply/{programme}` takes the
//! eligibility checker's answers (so nothing is asked twice) and asks the
//! rest; a bad answer is shown with the error summary and everything typed
//! kept; a good one is submitted to the ledger at once, and the applicant
//! lands on `/applications/{programme}/{reference}`, which says what came
//! of it (offered with the amount and the date the offer lapses,
//! waitlisted with the place in the queue, or not eligible and why) and
//! takes their answer to an offer.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use grantflow_core::{
    Action, Applicant, ApplicationId, Command, CommandId, Contact, CostRequest, Item, Level, Money,
    Organisation, ProgrammeId, Stage, explain,
};
use rust_decimal::Decimal;

use super::account::{Field, FormPage, encode, from_elsewhere, redirect, session};
use super::check::{ANSWERS, answers_of, applicant_answers};
use super::{Message, page, rules};
use crate::AppState;
use crate::roles::{Caller, Role};
use crate::sign_in::same_secret;

type Fields = BTreeMap<String, String>;

fn yes_no() -> Vec<(&'static str, &'static str)> {
    vec![("yes", "Yes"), ("no", "No")]
}

/// The form, with `values` and `errors` (by field).
fn form(
    p: &grantflow_core::Programme,
    checked: &Fields,
    values: &Fields,
    errors: &BTreeMap<&'static str, String>,
    csrf: &str,
    form_id: &str,
) -> FormPage {
    let v = |k: &str| values.get(k).cloned().unwrap_or_default();
    let mut fields = vec![
        Field::text(
            "organisation",
            "Organisation name",
            "As registered, if it is.",
            v("organisation"),
        ),
        Field::text(
            "company_number",
            "Company number (if it has one)",
            "8 characters from Companies House, like 01234567 or SC123456.",
            v("company_number"),
        ),
        Field::text(
            "region",
            "Region (optional)",
            "For example, North West.",
            v("region"),
        ),
        Field::text("contact_name", "Your name", "", v("contact_name")),
        Field {
            choices: vec![
                ("basic", "Cyber Essentials"),
                ("plus", "Cyber Essentials Plus"),
            ],
            ..Field::text(
                "level",
                "Which certification do you want?",
                "Plus adds an audit by an assessor.",
                v("level"),
            )
        },
        Field {
            width: "input-short",
            ..Field::text(
                "days",
                "Days of consultancy you need",
                "Whole or half days, for example 2 or 1.5.",
                v("days"),
            )
        },
        Field {
            width: "input-short",
            ..Field::text(
                "day_rate",
                "The consultant's day rate, in pounds",
                "Before VAT, for example 450.",
                v("day_rate"),
            )
        },
        Field {
            width: "input-short",
            ..Field::text(
                "plus_quote",
                "The Plus audit quote, in pounds (Plus only)",
                "Before VAT; leave it empty for Cyber Essentials.",
                v("plus_quote"),
            )
        },
        Field {
            choices: yes_no(),
            ..Field::text(
                "vat",
                "Is your organisation registered for VAT?",
                "If it is not, the award covers the VAT too.",
                v("vat"),
            )
        },
    ];
    for f in &mut fields {
        f.error = errors.get(f.id).cloned();
    }
    let mut hidden: Vec<(&'static str, String)> =
        vec![("csrf", csrf.to_string()), ("form_id", form_id.to_string())];
    for (k, val) in checked {
        if let Some(name) = ANSWERS.iter().find(|a| **a == k.as_str()) {
            hidden.push((name, val.clone()));
        }
    }
    FormPage {
        heading: format!("Apply to {}", p.name),
        intro: vec![
            "Your answers to the eligibility check come with you: you will not be asked them again.".into(),
            "We tell you what happens as soon as you send the application.".into(),
        ],
        action: format!("/apply/{}", p.id),
        hidden,
        fields,
        button: "Send application",
        errors: Vec::new(),
        links: vec![(
            format!("/check/{}/sector?{}", p.id, serde_urlencoded::to_string(checked).unwrap_or_default()),
            "Change your eligibility answers",
        )],
    }
}

/// `/apply/{programme}`: the application form, for a signed-in applicant
/// who has been through the checker.
pub(super) async fn form_page(
    State(state): State<AppState>,
    caller: Caller,
    Path(programme): Path<String>,
    Query(q): Query<Fields>,
) -> Response {
    let here = format!(
        "/apply/{programme}?{}",
        serde_urlencoded::to_string(&q).unwrap_or_default()
    );
    let (_who, csrf, _) = match session(&state, &caller, &here, false).await {
        Ok(s) => s,
        Err(to_sign_in) => return to_sign_in,
    };
    let p = match rules(&state, &programme).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let Some(checked) = answers_of(&p, &q) else {
        return redirect(&format!("/check/{}", p.id), None);
    };
    let form_id = match super::form_id() {
        Ok(id) => id,
        Err(page) => return page,
    };
    form(
        &p,
        &checked,
        &Fields::new(),
        &BTreeMap::new(),
        &csrf,
        &form_id,
    )
    .show()
}

fn money(text: &str) -> Option<Money> {
    let t = text.trim().trim_start_matches('£').replace(',', "");
    t.parse::<Money>().ok()
}

/// The application the form describes, or each field's error.
fn read(
    f: &Fields,
    email: &str,
    checked: &Fields,
) -> Result<(Applicant, CostRequest), BTreeMap<&'static str, String>> {
    let mut errors = BTreeMap::new();
    let v = |k: &str| f.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let organisation = v("organisation");
    if organisation.is_empty() {
        errors.insert("organisation", "Enter your organisation's name".to_string());
    } else if organisation.chars().count() > grantflow_core::MAX_NAME {
        errors.insert(
            "organisation",
            format!(
                "Enter a name of {} characters or fewer",
                grantflow_core::MAX_NAME
            ),
        );
    }
    let company_number = v("company_number").to_uppercase().replace(' ', "");
    if !company_number.is_empty()
        && (company_number.len() != 8 || !company_number.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        errors.insert(
            "company_number",
            "Enter a company number of 8 characters, like 01234567 or SC123456, or leave it empty"
                .to_string(),
        );
    }
    let contact_name = v("contact_name");
    if contact_name.is_empty() {
        errors.insert("contact_name", "Enter your name".to_string());
    }
    let level = match v("level").as_str() {
        "basic" => Some(Level::Basic),
        "plus" => Some(Level::Plus),
        _ => {
            errors.insert("level", "Select which certification you want".to_string());
            None
        }
    };
    let days = v("days").parse::<Decimal>().ok().filter(|d| {
        *d >= Decimal::ZERO && *d <= Decimal::from(100) && (*d * Decimal::from(2)).fract().is_zero()
    });
    if days.is_none() {
        errors.insert(
            "days",
            "Enter the days of consultancy as a whole or half number from 0 to 100, like 2 or 1.5"
                .to_string(),
        );
    }
    let day_rate = money(&v("day_rate"));
    if day_rate.is_none() {
        errors.insert(
            "day_rate",
            "Enter the day rate in pounds, like 450 or 450.00".to_string(),
        );
    }
    let plus_quote = match v("plus_quote").as_str() {
        "" => None,
        text => {
            let quote = money(text);
            if quote.is_none() {
                errors.insert(
                    "plus_quote",
                    "Enter the Plus audit quote in pounds, like 1400, or leave it empty"
                        .to_string(),
                );
            }
            quote
        }
    };
    let vat = match v("vat").as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => {
            errors.insert(
                "vat",
                "Select yes if your organisation is registered for VAT".to_string(),
            );
            None
        }
    };
    let (Some(level), Some(days), Some(day_rate), Some(vat), true) =
        (level, days, day_rate, vat, errors.is_empty())
    else {
        return Err(errors);
    };
    let (sector, employees, uk_based, already_certified) = applicant_answers(checked);
    Ok((
        Applicant {
            organisation: Organisation {
                name: organisation,
                company_number: (!company_number.is_empty()).then_some(company_number),
                charity_number: None,
                ods_code: None,
                region: Some(v("region")).filter(|r| !r.is_empty()),
            },
            contact: Contact {
                name: contact_name,
                email: email.to_string(),
            },
            sector,
            employees,
            uk_based,
            already_certified,
            vat_registered: vat,
        },
        CostRequest {
            level,
            consultancy_days: days,
            day_rate,
            plus_audit_quote: plus_quote,
        },
    ))
}

/// The application was sent: submitted to the ledger, or shown again with its errors.
pub(super) async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(programme): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    if let Some(refused) = from_elsewhere(&headers) {
        return refused;
    }
    let here = format!("/apply/{programme}");
    let (who, csrf, _) = match session(&state, &caller, &here, false).await {
        Ok(s) => s,
        Err(to_sign_in) => return to_sign_in,
    };
    if !same_secret(f.get("csrf").map(String::as_str).unwrap_or(""), &csrf) {
        return super::expired();
    }
    let p = match rules(&state, &programme).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let Some(checked) = answers_of(&p, &f) else {
        return redirect(&format!("/check/{}", p.id), None);
    };
    let form_id = f.get("form_id").cloned().unwrap_or_default();
    let Ok(command_id) = CommandId::given(&form_id) else {
        return super::expired();
    };
    let email = who.email.clone().unwrap_or_else(|| who.name.clone());
    let (applicant, request) = match read(&f, &email, &checked) {
        Ok(read) => read,
        Err(errors) => return form(&p, &checked, &f, &errors, &csrf, &form_id).show(),
    };
    let reference = format!(
        "GF-{}",
        form_id.chars().take(8).collect::<String>().to_uppercase()
    );
    let application = ApplicationId::parse_or_name(&reference);
    let id = ProgrammeId::new(&p.id);
    {
        let (id, reference) = (id.clone(), reference.clone());
        if let Err(problem) = state
            .references(move |r| r.remember(&id, application, &reference))
            .await
        {
            return super::trouble(problem);
        }
    }
    let action = Action::Submit {
        application,
        applicant: Arc::new(applicant),
        request,
    };
    match super::execute(&state, &who, id, Command::new(command_id, action)).await {
        Ok(()) => redirect(&format!("/applications/{}/{reference}", p.id), None),
        Err(message) => {
            let mut errors = BTreeMap::new();
            errors.insert("organisation", message);
            form(&p, &checked, &f, &errors, &csrf, &form_id).show()
        }
    }
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    programme: String,
    reference: String,
    heading: String,
    good: bool,
    lines: Vec<String>,
    offered: bool,
    respond: String,
    csrf: String,
    form_id: String,
    reasons: Vec<String>,
    items: Vec<(String, String, String)>,
}

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%-d %B %Y at %H:%M UTC").to_string()
}

/// `/applications/{programme}/{reference}`: where an application stands.
pub(super) async fn status(
    State(state): State<AppState>,
    caller: Caller,
    Path((programme, reference)): Path<(String, String)>,
) -> Response {
    let here = format!("/applications/{programme}/{}", encode(&reference));
    let (who, csrf, _) = match session(&state, &caller, &here, false).await {
        Ok(s) => s,
        Err(to_sign_in) => return to_sign_in,
    };
    let p = match rules(&state, &programme).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let id = ProgrammeId::new(&p.id);
    let application = ApplicationId::parse_or_name(reference.trim());
    let rules_copy = p.clone();
    let viewer = who.clone();
    let found = state
        .blocking(move |programmes| {
            let mut view = None;
            programmes.read(&id, &mut |s| {
                let Some(app) = s.application(&application) else {
                    return;
                };
                let mine = viewer.role != Role::Applicant
                    || Some(app.applicant().contact.email.trim().to_lowercase()) == viewer.email;
                if !mine {
                    view = Some(Err(()));
                    return;
                }
                let place = s
                    .waitlist()
                    .iter()
                    .position(|(_, a)| a == application)
                    .map(|i| i + 1);
                view = Some(Ok(describe(&rules_copy, app, place)));
            })?;
            Ok(view)
        })
        .await;
    let (heading, good, lines, reasons, items, offered) = match found {
        Ok(Some(Ok(v))) => v,
        Ok(Some(Err(()))) | Ok(None) => {
            return page(
                StatusCode::NOT_FOUND,
                &Message {
                    heading: "Application not found",
                    detail: format!(
                        "You have no application called “{reference}” in this programme."
                    ),
                },
            );
        }
        Err(problem) => return super::trouble(problem),
    };
    let form_id = match super::form_id() {
        Ok(id) => id,
        Err(page) => return page,
    };
    page(
        StatusCode::OK,
        &StatusPage {
            programme: p.name.clone(),
            respond: format!("{here}/respond"),
            reference,
            heading,
            good,
            lines,
            offered,
            csrf,
            form_id,
            reasons,
            items,
        },
    )
}

type View = (
    String,
    bool,
    Vec<String>,
    Vec<String>,
    Vec<(String, String, String)>,
    bool,
);

fn describe(
    p: &grantflow_core::Programme,
    app: &grantflow_core::Application,
    place: Option<usize>,
) -> View {
    let award = app.award().display_pounds();
    let items: Vec<(String, String, String)> = Item::ALL
        .iter()
        .filter(|i| !app.payable(**i).is_zero() || !app.item_paid(**i).is_zero())
        .map(|i| {
            let covered = app
                .coverage()
                .map(|c| c.item(*i).display_pounds())
                .unwrap_or_default();
            (
                i.as_str().replace('_', " "),
                covered,
                app.item_paid(*i).display_pounds(),
            )
        })
        .collect();
    match app.stage() {
        Stage::Offered { expires } => (
            format!("You have been offered {award}"),
            true,
            vec![format!("Accept it by {}. If you do not, the offer lapses and the money goes to the next organisation waiting.", when(expires))],
            Vec::new(),
            items,
            true,
        ),
        Stage::Waitlisted => (
            format!("You are number {} on the waiting list", place.unwrap_or(0)),
            false,
            vec!["Your organisation can get this funding, but the pot is spoken for now. When money comes back, offers go out in the order applications arrived.".into()],
            Vec::new(),
            Vec::new(),
            false,
        ),
        Stage::Ineligible => {
            let judged = explain(p, app.applicant(), app.submitted_at().date_naive());
            (
                "Your organisation cannot get this funding".into(),
                false,
                Vec::new(),
                judged.failed().map(|c| c.sentence.clone()).collect(),
                Vec::new(),
                false,
            )
        }
        Stage::Awarded { pass_by } | Stage::ConsultancyEngaged { pass_by } | Stage::SelfAssessmentSubmitted { pass_by, .. } | Stage::FeedbackDue { pass_by, .. } => (
            format!("Your award: {award}"),
            true,
            vec![format!("Next: work with your consultant and get certified by {}. Claims are paid against the items below.", when(pass_by))],
            Vec::new(),
            items,
            false,
        ),
        other => (
            format!("Your application is {}", app.stage().kind().as_str().replace('_', " ")),
            !matches!(other, Stage::Failed | Stage::Declined | Stage::Lapsed | Stage::Withdrawn),
            Vec::new(),
            Vec::new(),
            items,
            false,
        ),
    }
}

/// The applicant's answer to an offer.
pub(super) async fn respond(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((programme, reference)): Path<(String, String)>,
    Form(f): Form<Fields>,
) -> Response {
    if let Some(refused) = from_elsewhere(&headers) {
        return refused;
    }
    let here = format!("/applications/{programme}/{}", encode(&reference));
    let (who, csrf, _) = match session(&state, &caller, &here, false).await {
        Ok(s) => s,
        Err(to_sign_in) => return to_sign_in,
    };
    if !same_secret(f.get("csrf").map(String::as_str).unwrap_or(""), &csrf) {
        return super::expired();
    }
    let Ok(command_id) = CommandId::given(f.get("form_id").map(String::as_str).unwrap_or(""))
    else {
        return super::expired();
    };
    let application = ApplicationId::parse_or_name(reference.trim());
    let id = ProgrammeId::new(programme.trim());
    // Only the application's own applicant answers its offer.
    let viewer = who.clone();
    let owner = {
        let id = id.clone();
        state
            .blocking(move |programmes| {
                let mut mine = false;
                programmes.read(&id, &mut |s| {
                    mine = s.application(&application).is_some_and(|a| {
                        Some(a.applicant().contact.email.trim().to_lowercase()) == viewer.email
                    });
                })?;
                Ok(mine)
            })
            .await
    };
    if !matches!(owner, Ok(true)) {
        return page(
            StatusCode::NOT_FOUND,
            &Message {
                heading: "Application not found",
                detail: format!("You have no application called “{reference}” in this programme."),
            },
        );
    }
    let action = match f.get("choice").map(String::as_str) {
        Some("accept") => Action::Accept { application },
        Some("decline") => Action::Decline { application },
        _ => return redirect(&here, None),
    };
    let _ = super::execute(&state, &who, id, Command::new(command_id, action)).await;
    redirect(&here, None)
}
