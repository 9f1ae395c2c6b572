//! Applying, for a signed-in applicant, as a task list (GOV.UK's "complete
//! multiple tasks" pattern): `/apply/{programme}` takes the eligibility
//! checker's answers (so nothing is asked twice) and starts a draft
//! application; `/apply/{programme}/tasks` lists its parts and how each
//! stands; `/apply/{programme}/organisation` and `…/costs` ask the rest,
//! each going back to itself with its errors and everything typed kept;
//! `/apply/{programme}/check` shows every answer with a link to change it,
//! and sends the application to the ledger. The applicant then lands on
//! `/applications/{programme}/{reference}` ([`super::status`]), which says
//! what came of it.
//!
//! The draft is kept under the session and the programme; the command id
//! it sends with is chosen when it starts, so sending it twice records one
//! application.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use grantflow_accounts::Draft;
use grantflow_core::{
    Action, Applicant, ApplicationId, Command, CommandId, Contact, CostRequest, Level,
    Organisation, ProgrammeId,
};
use rust_decimal::Decimal;

use super::account::{Field, FormPage, redirect, session, signed_form};
use super::check::{ANSWERS, answers_of, applicant_answers, summary};
use super::{Message, drafts, page, rules, typed_money};
use crate::AppState;
use crate::roles::{Caller, Role, Signed};

type Fields = BTreeMap<String, String>;

/// The parts of the application asked on pages of their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Organisation,
    Costs,
}

impl Section {
    const ALL: [Section; 2] = [Section::Organisation, Section::Costs];

    fn slug(self) -> &'static str {
        match self {
            Section::Organisation => "organisation",
            Section::Costs => "costs",
        }
    }

    fn of(slug: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|s| s.slug() == slug)
    }

    fn title(self) -> &'static str {
        match self {
            Section::Organisation => "Your organisation",
            Section::Costs => "The costs of certification",
        }
    }

    /// The value in a draft that says the section was sent without errors.
    fn done(self) -> String {
        format!("done_{}", self.slug())
    }

    /// The section's fields, with `draft`'s values and errors.
    fn fields(self, draft: &Draft) -> Vec<Field> {
        let v = |k: &str| draft.value(k).to_string();
        let mut fields = match self {
            Section::Organisation => vec![
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
            ],
            Section::Costs => vec![
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
                    choices: vec![("yes", "Yes"), ("no", "No")],
                    ..Field::text(
                        "vat",
                        "Is your organisation registered for VAT?",
                        "If it is not, the award covers the VAT too.",
                        v("vat"),
                    )
                },
            ],
        };
        for f in &mut fields {
            f.error = draft.error(f.id).map(str::to_string);
        }
        fields
    }

    /// The names of the section's fields.
    fn names(self) -> Vec<&'static str> {
        self.fields(&Draft::default())
            .iter()
            .map(|f| f.id)
            .collect()
    }
}

/// The key of `who`'s draft application to `programme`.
fn draft_key(who: &Signed, programme: &str) -> String {
    drafts::key(who, &format!("/apply/{programme}"))
}

async fn draft_of(state: &AppState, who: &Signed, programme: &str) -> Draft {
    drafts::read(state, draft_key(who, programme), drafts::owner(who)).await
}

/// Where a signed-in applicant's draft application stands.
enum Standing {
    /// No draft, or one without the checker's answers.
    None,
    /// Sent, under this reference.
    Sent(String),
    /// Being filled in, with these checker's answers.
    Open(Fields),
}

fn standing(p: &grantflow_core::Programme, draft: &Draft) -> Standing {
    if !draft.value("sent").is_empty() {
        return Standing::Sent(draft.value("sent").to_string());
    }
    match answers_of(p, &draft.values) {
        Some(answers) => Standing::Open(answers),
        None => Standing::None,
    }
}

/// Where an applicant goes when the page they asked for does not fit how
/// their draft stands: an open one to its task list, a sent one to its
/// status, none to the checker.
fn elsewhere(p: &grantflow_core::Programme, standing: &Standing) -> Response {
    let to = match standing {
        Standing::Open(_) => format!("/apply/{}/tasks", p.id),
        Standing::Sent(reference) => format!("/applications/{}/{reference}", p.id),
        Standing::None => format!("/check/{}", p.id),
    };
    redirect(&to, None)
}

/// A signed-in applicant's open draft application to a programme.
struct Open {
    who: Signed,
    csrf: String,
    p: grantflow_core::Programme,
    draft: Draft,
    /// The checker's answers it holds.
    checked: Fields,
}

/// The open draft for the page `here` (or, given one, its form: origin and
/// CSRF token checked), or the page to go to instead: sign-in, the
/// programme's absence, or where the draft stands.
async fn open(
    state: &AppState,
    caller: &Caller,
    programme: &str,
    here: &str,
    form: Option<(&HeaderMap, &Fields)>,
) -> Result<Open, Response> {
    let (who, csrf) = match form {
        Some((headers, f)) => applicant_form(state, caller, headers, here, f).await?,
        None => {
            let (who, csrf, _) = session(state, caller, here, false).await?;
            if let Some(refused) = applicants_only(&who) {
                return Err(refused);
            }
            (who, csrf)
        }
    };
    let p = rules(state, programme).await?;
    let draft = draft_of(state, &who, &p.id).await;
    match standing(&p, &draft) {
        Standing::Open(checked) => Ok(Open {
            who,
            csrf,
            p,
            draft,
            checked,
        }),
        other => Err(elsewhere(&p, &other)),
    }
}

/// `/apply/{programme}?…`: the start page, with the checker's answers.
pub(super) async fn start_page(
    State(state): State<AppState>,
    caller: Caller,
    Path(programme): Path<String>,
    Query(q): Query<Fields>,
) -> Response {
    let here = format!(
        "/apply/{programme}?{}",
        serde_urlencoded::to_string(&q).unwrap_or_default()
    );
    let (who, csrf, _) = match session(&state, &caller, &here, false).await {
        Ok(s) => s,
        Err(to_sign_in) => return to_sign_in,
    };
    if let Some(refused) = applicants_only(&who) {
        return refused;
    }
    let p = match rules(&state, &programme).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let Some(checked) = answers_of(&p, &q) else {
        // Without answers, a draft goes on where it was.
        let draft = draft_of(&state, &who, &p.id).await;
        return elsewhere(&p, &standing(&p, &draft));
    };
    let form_id = match super::form_id() {
        Ok(id) => id,
        Err(page) => return page,
    };
    let mut hidden: Vec<(&'static str, String)> = vec![("csrf", csrf), ("form_id", form_id)];
    for (k, val) in &checked {
        if let Some(name) = ANSWERS.iter().find(|a| **a == k.as_str()) {
            hidden.push((name, val.clone()));
        }
    }
    FormPage {
        heading: format!("Apply to {}", p.name),
        intro: vec![
            "Your answers to the eligibility check come with you: you will not be asked them again.".into(),
            "You will need your organisation's name and company number (if it has one), how many days of consultancy you need, the consultant's day rate and, for Cyber Essentials Plus, the audit quote.".into(),
            "It takes about 5 minutes. Your answers are kept for 12 hours, and you check them before you send them.".into(),
        ],
        action: format!("/apply/{}", p.id),
        hidden,
        fields: Vec::new(),
        button: "Start now",
        picture: None,
        errors: Vec::new(),
        links: Vec::new(),
    }
    .show()
}

/// The page for a staff member on an applicant's page: applications are
/// made by applicants only (and through the API, by admins).
fn applicants_only(who: &Signed) -> Option<Response> {
    (who.role != Role::Applicant).then(|| {
        page(
            StatusCode::FORBIDDEN,
            &Message {
                heading: "Applications are made by applicants",
                detail: format!(
                    "You are signed in as {} ({}). Sign out, then sign in with a code sent to the applicant's address.",
                    who.name, who.role
                ),
            },
        )
    })
}

/// Checks an applicant's form (origin, session, role, CSRF token): its
/// sender and their session's CSRF token.
async fn applicant_form(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    here: &str,
    f: &Fields,
) -> Result<(Signed, String), Response> {
    let sent = signed_form(
        state,
        caller,
        headers,
        here,
        false,
        f.get("csrf"),
        applicants_only,
    );
    sent.await
}

/// The start page was sent: the draft starts (or takes the new answers).
pub(super) async fn start(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(programme): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    let here = format!("/apply/{programme}");
    let who = match applicant_form(&state, &caller, &headers, &here, &f).await {
        Ok((who, _)) => who,
        Err(refused) => return refused,
    };
    let p = match rules(&state, &programme).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let Some(checked) = answers_of(&p, &f) else {
        return redirect(&format!("/check/{}", p.id), None);
    };
    let Ok(command) = CommandId::given(f.get("form_id").map(String::as_str).unwrap_or("")) else {
        return super::expired();
    };
    let mut draft = draft_of(&state, &who, &p.id).await;
    if !draft.value("sent").is_empty() || draft.value("command").is_empty() {
        draft = drafts::of(Some(&who), [], Vec::new());
        draft.values.insert("command".into(), command.to_string());
    }
    draft.values.retain(|k, _| !ANSWERS.contains(&k.as_str()));
    draft.values.extend(checked);
    let to = format!("/apply/{}/tasks", p.id);
    drafts::keep_and_go(&state, draft_key(&who, &p.id), draft, &to).await
}

struct Task {
    name: &'static str,
    href: Option<String>,
    status: &'static str,
    done: bool,
}

#[derive(Template)]
#[template(path = "tasks.html")]
struct Tasks {
    name: String,
    tasks: Vec<Task>,
    completed: usize,
}

/// `/apply/{programme}/tasks`: the application's parts and how each stands.
pub(super) async fn tasks(
    State(state): State<AppState>,
    caller: Caller,
    Path(programme): Path<String>,
) -> Response {
    let here = format!("/apply/{programme}/tasks");
    let Open {
        p, draft, checked, ..
    } = match open(&state, &caller, &programme, &here, None).await {
        Ok(open) => open,
        Err(away) => return away,
    };
    let mut tasks = vec![Task {
        name: "Check your organisation is eligible",
        href: Some(format!(
            "/check/{}/result?{}",
            p.id,
            serde_urlencoded::to_string(&checked).unwrap_or_default()
        )),
        status: "Completed",
        done: true,
    }];
    for section in Section::ALL {
        let done = !draft.value(&section.done()).is_empty();
        let started = section.names().iter().any(|n| !draft.value(n).is_empty());
        tasks.push(Task {
            name: section.title(),
            href: Some(format!("/apply/{}/{}", p.id, section.slug())),
            status: if done {
                "Completed"
            } else if started {
                "Incomplete"
            } else {
                "Not yet started"
            },
            done,
        });
    }
    let ready = tasks.iter().all(|t| t.done);
    tasks.push(Task {
        name: "Check your answers and send the application",
        href: ready.then(|| format!("/apply/{}/check", p.id)),
        status: if ready {
            "Not yet started"
        } else {
            "Cannot start yet"
        },
        done: false,
    });
    let completed = tasks.iter().filter(|t| t.done).count();
    page(
        StatusCode::OK,
        &Tasks {
            name: p.name.clone(),
            tasks,
            completed,
        },
    )
}

/// `/apply/{programme}/{section}`: one part of the application.
pub(super) async fn section_page(
    State(state): State<AppState>,
    caller: Caller,
    Path((programme, slug)): Path<(String, String)>,
    Query(q): Query<Fields>,
) -> Response {
    let Some(section) = Section::of(&slug) else {
        return super::not_found("There is no such part of the application.");
    };
    let here = format!("/apply/{programme}/{slug}");
    let Open { csrf, p, draft, .. } = match open(&state, &caller, &programme, &here, None).await {
        Ok(open) => open,
        Err(away) => return away,
    };
    let mut hidden = vec![("csrf", csrf)];
    if q.get("return").is_some_and(|r| r == "check") {
        hidden.push(("return", "check".into()));
    }
    FormPage {
        heading: section.title().into(),
        intro: Vec::new(),
        action: format!("/apply/{}/{}", p.id, section.slug()),
        hidden,
        fields: section.fields(&draft),
        button: "Save and continue",
        picture: None,
        errors: Vec::new(),
        links: vec![(format!("/apply/{}/tasks", p.id), "Back to the application")],
    }
    .show()
}

/// A part of the application was sent: kept, with its errors if any.
pub(super) async fn section_sent(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((programme, slug)): Path<(String, String)>,
    Form(f): Form<Fields>,
) -> Response {
    let Some(section) = Section::of(&slug) else {
        return super::not_found("There is no such part of the application.");
    };
    let here = format!("/apply/{programme}/{slug}");
    let Open {
        who,
        p,
        mut draft,
        checked,
        ..
    } = match open(&state, &caller, &programme, &here, Some((&headers, &f))).await {
        Ok(open) => open,
        Err(away) => return away,
    };
    let names = section.names();
    for name in &names {
        let typed = f.get(*name).cloned().unwrap_or_default();
        draft.values.insert((*name).to_string(), typed);
    }
    let email = who.email.clone().unwrap_or_default();
    let errors: Vec<(String, String)> = match read(&draft.values, &email, &checked) {
        Ok(_) => Vec::new(),
        Err(all) => names
            .iter()
            .filter_map(|n| all.get(n).map(|m| ((*n).to_string(), m.clone())))
            .collect(),
    };
    draft
        .errors
        .retain(|(field, _)| !names.contains(&field.as_str()));
    let good = errors.is_empty();
    draft.errors.extend(errors);
    if good {
        draft.values.insert(section.done(), "yes".into());
    } else {
        draft.values.remove(&section.done());
    }
    let to = match (good, f.get("return").map(String::as_str)) {
        (false, Some("check")) => format!("{here}?return=check"),
        (false, _) => here,
        (true, Some("check")) => format!("/apply/{}/check", p.id),
        (true, _) => format!("/apply/{}/tasks", p.id),
    };
    drafts::keep_and_go(&state, draft_key(&who, &p.id), draft, &to).await
}

/// `(question, answer, where to change it)`.
type Row = (String, String, String);

#[derive(Template)]
#[template(path = "check_answers.html")]
struct CheckAnswers {
    name: String,
    action: String,
    csrf: String,
    groups: Vec<(&'static str, Vec<Row>)>,
    errors: Vec<(String, String)>,
}

/// What an answer in `section` reads as on the check page.
fn shown(field: &Field) -> String {
    if field.choices.is_empty() {
        let text = field.value.trim();
        match (field.id, text.is_empty()) {
            (_, true) => "Not given".into(),
            ("day_rate" | "plus_quote", false) => typed_money(text)
                .map(|m| m.display_pounds())
                .unwrap_or_else(|| text.to_string()),
            _ => text.to_string(),
        }
    } else {
        field
            .choices
            .iter()
            .find(|(v, _)| *v == field.value)
            .map(|(_, label)| (*label).to_string())
            .unwrap_or_default()
    }
}

/// `/apply/{programme}/check`: every answer, each with a link to change it.
pub(super) async fn check_page(
    State(state): State<AppState>,
    caller: Caller,
    Path(programme): Path<String>,
) -> Response {
    let here = format!("/apply/{programme}/check");
    let Open {
        csrf,
        p,
        draft,
        checked,
        ..
    } = match open(&state, &caller, &programme, &here, None).await {
        Ok(open) => open,
        Err(away) => return away,
    };
    if Section::ALL
        .iter()
        .any(|s| draft.value(&s.done()).is_empty())
    {
        return redirect(&format!("/apply/{}/tasks", p.id), None);
    }
    let mut groups = vec![("Eligibility", summary(&p, &checked))];
    for section in Section::ALL {
        let rows = section
            .fields(&draft)
            .iter()
            .map(|f| {
                (
                    f.label.to_string(),
                    shown(f),
                    format!("/apply/{}/{}?return=check#{}", p.id, section.slug(), f.id),
                )
            })
            .collect();
        groups.push((section.title(), rows));
    }
    let sending = draft
        .errors
        .iter()
        .filter(|(f, _)| f == "send")
        .cloned()
        .collect();
    page(
        StatusCode::OK,
        &CheckAnswers {
            name: p.name.clone(),
            action: here,
            csrf,
            groups,
            errors: sending,
        },
    )
}

/// The application was sent: submitted to the ledger, and the applicant
/// sent to its status; or back to the check page with the refusal.
pub(super) async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(programme): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    let here = format!("/apply/{programme}/check");
    let Open {
        who,
        p,
        mut draft,
        checked,
        ..
    } = match open(&state, &caller, &programme, &here, Some((&headers, &f))).await {
        Ok(open) => open,
        Err(away) => return away,
    };
    let email = who.email.clone().unwrap_or_else(|| who.name.clone());
    let (Ok((applicant, request)), Ok(command_id)) = (
        read(&draft.values, &email, &checked),
        CommandId::given(draft.value("command")),
    ) else {
        return redirect(&format!("/apply/{}/tasks", p.id), None);
    };
    let reference = format!(
        "GF-{}",
        command_id
            .to_string()
            .chars()
            .filter(char::is_ascii_hexdigit)
            .take(8)
            .collect::<String>()
            .to_uppercase()
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
        Ok(()) => {
            let sent = drafts::of(
                Some(&who),
                &Fields::from([("sent".to_string(), reference.clone())]),
                Vec::new(),
            );
            let to = format!("/applications/{}/{reference}", p.id);
            drafts::keep_and_go(&state, draft_key(&who, &p.id), sent, &to).await
        }
        Err(message) => {
            draft.errors = vec![("send".into(), message)];
            drafts::keep_and_go(&state, draft_key(&who, &p.id), draft, &here).await
        }
    }
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
    let day_rate = typed_money(&v("day_rate"));
    if day_rate.is_none() {
        errors.insert(
            "day_rate",
            "Enter the day rate in pounds, like 450 or 450.00".to_string(),
        );
    }
    let plus_quote = match v("plus_quote").as_str() {
        "" => None,
        text => {
            let quote = typed_money(text);
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
