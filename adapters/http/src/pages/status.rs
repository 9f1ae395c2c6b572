//! `/applications/{programme}/{reference}`: where an application stands,
//! for its applicant (and any staff): offered with the amount and the date
//! the offer lapses, waitlisted with the place in the queue, or not
//! eligible and why; the next step and its deadline; what the award covers
//! and what has been paid per item; and its history in plain words. An
//! offer is accepted or declined here.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use grantflow_core::{
    Action, ApplicationId, Command, CommandId, Item, ProgrammeId, Stage, explain,
};

use super::account::{encode, session, signed_form};
use super::history::when;
use super::{Message, drafts, page, rules};
use crate::AppState;
use crate::roles::{Caller, Role};

type Fields = BTreeMap<String, String>;

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
    covers: &'static str,
    history: Vec<(String, String)>,
    notice: String,
    errors: Vec<(String, String)>,
    choice_error: Option<String>,
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
    let view = match found {
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
    let history = match super::history::of(&state, &ProgrammeId::new(&p.id), application).await {
        Ok(lines) => lines,
        Err(problem) => return super::trouble(problem),
    };
    let form_id = match super::form_id() {
        Ok(id) => id,
        Err(page) => return page,
    };
    let kept = drafts::take(&state, drafts::key(&who, &here), drafts::owner(&who)).await;
    page(
        StatusCode::OK,
        &StatusPage {
            history,
            notice: kept.value("notice").to_string(),
            choice_error: kept.error("choice").map(str::to_string),
            errors: kept.errors,
            programme: p.name.clone(),
            respond: format!("{here}/respond"),
            reference,
            heading: view.heading,
            good: view.good,
            lines: view.lines.into_iter().filter(|l| !l.is_empty()).collect(),
            // Staff read the page; only the applicant answers the offer.
            offered: view.offered && who.role == Role::Applicant,
            covers: view.covers,
            csrf,
            form_id,
            reasons: view.reasons,
            items: view.items,
        },
    )
}

/// What the status page says of an application.
struct View {
    heading: String,
    good: bool,
    lines: Vec<String>,
    reasons: Vec<String>,
    items: Vec<(String, String, String)>,
    /// Whether an offer waits for an answer.
    offered: bool,
    /// The heading over what the money covers.
    covers: &'static str,
}

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
    let view = |heading: String, good: bool, line: String| View {
        heading,
        good,
        lines: vec![line],
        reasons: Vec::new(),
        items: items.clone(),
        offered: false,
        covers: "Your award",
    };
    let due = |by| format!("Your organisation must be certified by {}.", when(by));
    match app.stage() {
        Stage::Offered { expires } => View {
            offered: true,
            covers: "What the offer covers",
            ..view(
                format!("You have been offered {award}"),
                true,
                format!("Accept it by {}. If you do not, the offer lapses and the money goes to the next organisation waiting.", when(expires)),
            )
        },
        Stage::Waitlisted => View {
            items: Vec::new(),
            ..view(
                format!("You are number {} on the waiting list", place.unwrap_or(0)),
                false,
                "Your organisation can get this funding, but the pot is spoken for now. When money comes back, offers go out in the order applications arrived.".into(),
            )
        },
        Stage::Ineligible => View {
            lines: Vec::new(),
            items: Vec::new(),
            reasons: explain(p, app.applicant(), app.submitted_at().date_naive())
                .failed()
                .map(|c| c.sentence.clone())
                .collect(),
            ..view("Your organisation cannot get this funding".into(), false, String::new())
        },
        Stage::Awarded { pass_by } => view(
            format!("Your award: {award}"),
            true,
            format!("Next: your consultant starts work with you. {}", due(pass_by)),
        ),
        Stage::ConsultancyEngaged { pass_by } => view(
            format!("Your award: {award}"),
            true,
            format!("Next: send your self-assessment to the certification body. {}", due(pass_by)),
        ),
        Stage::SelfAssessmentSubmitted { pass_by, .. } => view(
            format!("Your award: {award}"),
            true,
            format!("Next: the certification body assesses your self-assessment. {}", due(pass_by)),
        ),
        Stage::FeedbackDue { respond_by, .. } => view(
            format!("Your award: {award}"),
            false,
            format!("Your self-assessment did not pass. Next: answer the assessor's feedback by {}.", when(respond_by)),
        ),
        Stage::Certified { plus_by: Some(by) } => view(
            "Your organisation is certified to Cyber Essentials".into(),
            true,
            format!("Next: the Cyber Essentials Plus audit, which must pass by {}.", when(by)),
        ),
        Stage::Certified { plus_by: None } => view(
            "Your organisation is certified to Cyber Essentials".into(),
            true,
            "Next: your consultant and the certification body send their invoices, which the programme pays.".into(),
        ),
        Stage::PlusAuditBooked { plus_by, .. } => view(
            "Your Cyber Essentials Plus audit is booked".into(),
            true,
            format!("It must pass by {}.", when(plus_by)),
        ),
        Stage::PlusRetest { retest_by, .. } => view(
            "Your Cyber Essentials Plus audit did not pass".into(),
            false,
            format!("Next: a re-test, which must pass by {}.", when(retest_by)),
        ),
        Stage::PlusCertified => view(
            "Your organisation is certified to Cyber Essentials Plus".into(),
            true,
            "The programme pays the invoices for what the award covers.".into(),
        ),
        Stage::PlusNotAchieved => view(
            "Cyber Essentials Plus was not achieved".into(),
            false,
            "Your Cyber Essentials certificate stands.".into(),
        ),
        Stage::Completed => view(
            "Your award is closed".into(),
            true,
            "Everything the award paid for is paid; what was left went back to the pot.".into(),
        ),
        Stage::Failed => view(
            "Certification ended without a certificate".into(),
            false,
            "What was left of the award went back to the pot.".into(),
        ),
        Stage::Declined => view(
            "You declined the offer".into(),
            false,
            "The money went to the next organisation waiting.".into(),
        ),
        Stage::Lapsed => view(
            "The offer lapsed".into(),
            false,
            "It was not accepted in time, and the money went to the next organisation waiting.".into(),
        ),
        Stage::Withdrawn => view(
            "Your application was withdrawn".into(),
            false,
            "Nothing more happens with it.".into(),
        ),
        _ => view(
            format!("Your application is {}", app.stage().kind().as_str().replace('_', " ")),
            true,
            String::new(),
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
    let here = format!("/applications/{programme}/{}", encode(&reference));
    let refuse = |who: &crate::roles::Signed| {
        (who.role != Role::Applicant).then(|| {
            page(
                StatusCode::FORBIDDEN,
                &Message {
                    heading: "Offers are answered by their applicants",
                    detail: format!("You are signed in as {} ({}).", who.name, who.role),
                },
            )
        })
    };
    let sent = signed_form(
        &state,
        &caller,
        &headers,
        &here,
        false,
        f.get("csrf"),
        refuse,
    );
    let who = match sent.await {
        Ok((who, _)) => who,
        Err(refused) => return refused,
    };
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
        _ => {
            let errors = vec![(
                "choice".to_string(),
                "Select yes to accept the offer, or no to decline it".to_string(),
            )];
            return told(&state, &who, &here, errors, String::new()).await;
        }
    };
    let accepted = matches!(action, Action::Accept { .. });
    match super::execute(&state, &who, id, Command::new(command_id, action)).await {
        Ok(()) => {
            let notice = if accepted {
                "You accepted the offer."
            } else {
                "You declined the offer."
            };
            told(&state, &who, &here, Vec::new(), notice.into()).await
        }
        Err(why) => {
            told(
                &state,
                &who,
                &here,
                vec![("choice".into(), why)],
                String::new(),
            )
            .await
        }
    }
}

/// Goes back to the status page, which shows `errors` or `notice` once.
async fn told(
    state: &AppState,
    who: &crate::roles::Signed,
    here: &str,
    errors: Vec<(String, String)>,
    notice: String,
) -> Response {
    let values = Fields::from([("notice".to_string(), notice)]);
    let draft = drafts::of(Some(who), &values, errors);
    drafts::keep_and_go(state, drafts::key(who, here), draft, here).await
}
