//! The "Am I eligible?" checker: `/check/{programme}` starts it, each
//! question is `/check/{programme}/{question}`, and
//! `/check/{programme}/result` judges the answers with the core's
//! [`explain`], criterion by criterion.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use grantflow_core::{Applicant, Contact, Organisation, Programme, explain};

use super::{day, not_found, page, rules};
use crate::AppState;

/// The answers so far, as the address carries them.
type Answers = BTreeMap<String, String>;

/// The hidden field that says which question a form answers.
const ANSWERING: &str = "answering";

/// Every answer the checker may carry, by name.
pub(super) const ANSWERS: [&str; 4] = ["sector", "location", "size", "certified"];

/// The checker's answers in `given`, when every question `p` asks has a
/// good one (the others dropped).
pub(super) fn answers_of(p: &Programme, given: &BTreeMap<String, String>) -> Option<Answers> {
    let questions = Question::all(p);
    let mut kept = Answers::new();
    for q in &questions {
        let answer = given.get(q.slug())?;
        q.check(p, answer).ok()?;
        kept.insert(q.slug().to_string(), answer.trim().to_string());
    }
    Some(kept)
}

/// `(question, answer, where to change it)` for each of good `answers`,
/// for a "Check your answers" page.
pub(super) fn summary(p: &Programme, answers: &Answers) -> Vec<(String, String, String)> {
    Question::all(p)
        .into_iter()
        .map(|q| {
            let given = answers.get(q.slug()).cloned().unwrap_or_default();
            let shown = q
                .choices(p)
                .into_iter()
                .find(|c| c.value == given)
                .map_or(given, |c| c.label);
            (
                q.text().0.to_string(),
                shown,
                address(&p.id, q.slug(), answers),
            )
        })
        .collect()
}

/// The applicant's sector, staff, location and certificate from good answers.
pub(super) fn applicant_answers(answers: &Answers) -> (String, u32, bool, bool) {
    let answer = |q: Question| answers.get(q.slug()).map(String::as_str).unwrap_or("");
    (
        answer(Question::Sector).trim().to_string(),
        employees(answer(Question::Size)).unwrap_or(0),
        yes_or_no(answer(Question::Location)).unwrap_or(true),
        yes_or_no(answer(Question::Certified)).unwrap_or(false),
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Question {
    Sector,
    Location,
    Size,
    Certified,
}

impl Question {
    fn slug(self) -> &'static str {
        match self {
            Question::Sector => "sector",
            Question::Location => "location",
            Question::Size => "size",
            Question::Certified => "certified",
        }
    }

    /// The questions `p`'s rules need answered, in order.
    fn all(p: &Programme) -> Vec<Question> {
        let mut q = vec![Question::Sector];
        if p.eligibility.uk_only.value {
            q.push(Question::Location);
        }
        q.push(Question::Size);
        if p.eligibility.exclude_already_certified.value {
            q.push(Question::Certified);
        }
        q
    }

    fn text(self) -> (&'static str, &'static str) {
        match self {
            Question::Sector => (
                "What kind of organisation is yours?",
                "Choose the closest. If none fits, choose “Something else”.",
            ),
            Question::Location => (
                "Is your organisation based in the UK?",
                "Where it is registered or, if it is not registered, where it mainly works.",
            ),
            Question::Size => (
                "How many people work for your organisation?",
                "Count everyone: full-time and part-time staff, and directors. For example, 25.",
            ),
            Question::Certified => (
                "Does your organisation hold a Cyber Essentials certificate now?",
                "A certificate lasts 12 months from the day it was issued.",
            ),
        }
    }

    fn choices(self, p: &Programme) -> Vec<Choice> {
        let yes_no = || {
            vec![
                Choice {
                    value: "yes".into(),
                    label: "Yes".into(),
                },
                Choice {
                    value: "no".into(),
                    label: "No".into(),
                },
            ]
        };
        match self {
            Question::Sector => p
                .sectors
                .iter()
                .map(|s| Choice {
                    value: s.id.clone(),
                    label: s.name.clone(),
                })
                .chain([Choice {
                    value: OTHER.into(),
                    label: "Something else".into(),
                }])
                .collect(),
            Question::Location | Question::Certified => yes_no(),
            Question::Size => Vec::new(),
        }
    }

    /// Why `answer` is not an answer, in the words of the error summary.
    fn check(self, p: &Programme, answer: &str) -> Result<(), &'static str> {
        let answer = answer.trim();
        match self {
            Question::Sector => {
                if answer == OTHER || p.sector(answer).is_some() {
                    Ok(())
                } else {
                    Err("Select the kind of organisation yours is")
                }
            }
            Question::Location => yes_or_no(answer)
                .map(|_| ())
                .ok_or("Select yes if your organisation is based in the UK"),
            Question::Size => employees(answer).map(|_| ()).ok_or(
                "Enter the number of people who work for your organisation, as a whole number like 25",
            ),
            Question::Certified => yes_or_no(answer)
                .map(|_| ())
                .ok_or("Select yes if your organisation holds a Cyber Essentials certificate now"),
        }
    }
}

/// The sector answer for "none of these".
const OTHER: &str = "other";

fn yes_or_no(answer: &str) -> Option<bool> {
    match answer.trim() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

fn employees(answer: &str) -> Option<u32> {
    let digits: String = answer.trim().chars().filter(|c| *c != ',').collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u32>().ok().filter(|n| *n <= 10_000_000)
}

struct Choice {
    value: String,
    label: String,
}

#[derive(Template)]
#[template(path = "check_start.html")]
struct Start {
    name: String,
    description: String,
    questions: usize,
    opens: String,
    closes: String,
    first: String,
}

#[derive(Template)]
#[template(path = "question.html")]
struct Asking {
    question: &'static str,
    hint: &'static str,
    field: &'static str,
    choices: Vec<Choice>,
    typed: String,
    error: Option<&'static str>,
    carried: Vec<(String, String)>,
    action: String,
    back: String,
}

struct CriterionView {
    passed: bool,
    sentence: String,
    source: Option<String>,
    assumed: bool,
    instead: Option<String>,
}

/// `text` with its first letter a capital, as a sentence on a page starts.
fn sentence(text: &str) -> String {
    if text.is_empty() {
        return String::new();
    }
    super::capitalised(text) + "."
}

struct Parameter {
    name: &'static str,
    value: String,
    source: String,
    assumed: bool,
}

#[derive(Template)]
#[template(path = "result.html")]
struct Verdict {
    name: String,
    eligible: bool,
    failed: usize,
    criteria: Vec<CriterionView>,
    parameters: Vec<Parameter>,
    change: String,
    apply: String,
}

fn address(programme: &str, step: &str, answers: &Answers) -> String {
    let query = serde_urlencoded::to_string(answers).unwrap_or_default();
    if query.is_empty() {
        format!("/check/{programme}/{step}")
    } else {
        format!("/check/{programme}/{step}?{query}")
    }
}

fn redirect(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
}

/// The checker's first page: what it asks, and the programme's dates.
pub(super) async fn start(
    State(state): State<AppState>,
    Path(programme): Path<String>,
) -> Response {
    let p = match rules(&state, &programme).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let questions = Question::all(&p);
    page(
        StatusCode::OK,
        &Start {
            first: address(&p.id, questions[0].slug(), &Answers::new()),
            questions: questions.len(),
            name: p.name.clone(),
            description: p.description.clone(),
            opens: day(p.opens.value),
            closes: day(p.closes.value),
        },
    )
}

/// A question, or (when its form was sent) the next one; or the result.
pub(super) async fn step(
    State(state): State<AppState>,
    Path((programme, step)): Path<(String, String)>,
    Query(mut answers): Query<Answers>,
) -> Response {
    let p = match rules(&state, &programme).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let questions = Question::all(&p);
    // Only the answers the questions ask are carried on.
    let answering = answers.remove(ANSWERING);
    answers.retain(|k, _| questions.iter().any(|q| q.slug() == k));
    if step == "result" {
        return result(&state, &p, &questions, &answers);
    }
    let Some(at) = questions.iter().position(|q| q.slug() == step) else {
        return not_found("This checker has no such question.");
    };
    let q = questions[at];
    let typed = answers.get(q.slug()).cloned().unwrap_or_default();
    let mut error = None;
    if answering.as_deref() == Some(q.slug()) {
        match q.check(&p, &typed) {
            Ok(()) => {
                let next = questions.get(at + 1).map_or("result", |n| n.slug());
                return redirect(&address(&p.id, next, &answers));
            }
            Err(e) => error = Some(e),
        }
    }
    let back = if at == 0 {
        format!("/check/{}", p.id)
    } else {
        address(&p.id, questions[at - 1].slug(), &answers)
    };
    let mut carried: Vec<(String, String)> = answers
        .iter()
        .filter(|(k, _)| *k != q.slug())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    carried.push((ANSWERING.into(), q.slug().into()));
    let (question, hint) = q.text();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    page(
        status,
        &Asking {
            question,
            hint,
            field: q.slug(),
            choices: q.choices(&p),
            typed,
            error,
            carried,
            action: format!("/check/{}/{}", p.id, q.slug()),
            back,
        },
    )
}

/// What to do instead, for a criterion not met.
fn instead(id: &str, p: &Programme) -> Option<String> {
    Some(match id {
        "open" => format!(
            "This programme takes applications from {} to {}. Look for a later round, or work towards Cyber Essentials now with the free Cyber Essentials Readiness Tool.",
            day(p.opens.value),
            day(p.closes.value)
        ),
        "sector" => format!(
            "This programme funds {}. Other organisations can still prepare for Cyber Essentials with the free Cyber Essentials Readiness Tool, and may find funding elsewhere.",
            p.sectors
                .iter()
                .filter(|s| s.eligible)
                .map(|s| s.name.to_lowercase())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "size" => format!(
            "This programme is for organisations with fewer than {} people. Larger organisations usually pay for certification themselves.",
            p.eligibility.max_employees_exclusive.value
        ),
        "location" => "This programme is for organisations based in the UK.".into(),
        "not_certified" => "Your organisation is certified already: renew with your certification body before the certificate expires.".into(),
        _ => return None,
    })
}

fn parameter<T>(name: &'static str, value: String, param: &grantflow_core::Param<T>) -> Parameter {
    Parameter {
        name,
        value,
        assumed: param.reference.is_none() && param.assumed.is_some(),
        source: param
            .reference
            .clone()
            .or_else(|| param.assumed.clone())
            .unwrap_or_else(|| "No source given".into()),
    }
}

fn yes_no_text(b: bool) -> String {
    if b { "Yes".into() } else { "No".into() }
}

fn result(state: &AppState, p: &Programme, questions: &[Question], answers: &Answers) -> Response {
    // An unanswered or bad answer sends the visitor back to its question.
    for q in questions {
        let given = answers.get(q.slug()).map(String::as_str).unwrap_or("");
        if q.check(p, given).is_err() {
            return redirect(&address(&p.id, q.slug(), answers));
        }
    }
    let (sector, employees, uk_based, already_certified) = applicant_answers(answers);
    let applicant = Applicant {
        organisation: Organisation {
            name: "Your organisation".into(),
            company_number: None,
            charity_number: None,
            ods_code: None,
            region: None,
        },
        contact: Contact {
            name: "You".into(),
            email: "you@example.invalid".into(),
        },
        sector,
        employees,
        uk_based,
        already_certified,
        vat_registered: false,
    };
    let today = (state.clock)().date_naive();
    let verdict = explain(p, &applicant, today);
    let criteria: Vec<CriterionView> = verdict
        .criteria
        .iter()
        .map(|c| {
            let assumed = c
                .reference
                .as_deref()
                .and_then(|r| r.strip_prefix("assumed: "));
            CriterionView {
                passed: c.passed,
                sentence: sentence(&c.sentence),
                assumed: assumed.is_some(),
                source: assumed.map(str::to_string).or_else(|| c.reference.clone()),
                instead: if c.passed { None } else { instead(&c.id, p) },
            }
        })
        .collect();
    let e = &p.eligibility;
    let parameters = vec![
        parameter("Applications open", day(p.opens.value), &p.opens),
        parameter("Applications close", day(p.closes.value), &p.closes),
        parameter("The pot", p.pot.value.display_pounds(), &p.pot),
        parameter(
            "Fewer people than",
            e.max_employees_exclusive.value.to_string(),
            &e.max_employees_exclusive,
        ),
        parameter(
            "Based in the UK only",
            yes_no_text(e.uk_only.value),
            &e.uk_only,
        ),
        parameter(
            "Not certified already",
            yes_no_text(e.exclude_already_certified.value),
            &e.exclude_already_certified,
        ),
    ];
    page(
        StatusCode::OK,
        &Verdict {
            name: p.name.clone(),
            eligible: verdict.eligible,
            failed: verdict.failed().count(),
            criteria,
            parameters,
            change: address(&p.id, questions[0].slug(), answers),
            apply: format!(
                "/apply/{}?{}",
                p.id,
                serde_urlencoded::to_string(answers).unwrap_or_default()
            ),
        },
    )
}
