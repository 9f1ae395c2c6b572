//! The web pages, rendered on the server (askama), usable without
//! JavaScript, following the GOV.UK Design System's patterns: one question
//! per page, an error summary headed "There is a problem" that links to the
//! field, "Error: " at the start of a failed page's title, and the answers
//! carried in the address, so Back and "Change your answers" just work.
//! Every post is answered by a redirect (its errors and what was typed wait
//! in a draft, [`drafts`]), so reloading a page never sends a form again.
//!
//! - `/` lists the programmes the server features ([`crate::Server::featuring`]).
//! - `/check/{programme}` is the public "Am I eligible?" checker ([`check`]):
//!   a few questions, then each criterion with its verdict, its sentence,
//!   its source, and what to do instead; and which figures are sourced or
//!   assumed.
//! - `/account/…` and `/staff` sign people in and out ([`account`]);
//!   `/account/setup?token=…` sets a staff account up from its one-time
//!   link ([`setup`]).
//! - `/apply/{programme}/…` takes an application as a task list with
//!   "Check your answers" ([`apply`]); `/applications/{programme}/{reference}`
//!   says what came of it and takes the answer to an offer ([`status`]).
//! - `/staff/{programme}/applications` lists a programme's applications
//!   for staff, by stage ([`applications`]).
//! - `/staff/users` is where admins make staff accounts and switch them
//!   off ([`users`]).
//! - `/staff/{programme}/dashboard` is the finance dashboard ([`dashboard`]);
//!   `/staff/{programme}/applications/{reference}` is one application for
//!   staff, where assessors record milestones and finance pays claims
//!   ([`staff`]); finance tops the pot up, claws back and closes awards on
//!   pages of their own ([`finance`]).

mod account;
mod applications;
mod apply;
mod check;
mod dashboard;
mod drafts;
mod finance;
mod history;
mod setup;
mod staff;
mod status;
mod users;

use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use grantflow_core::{Command, Programme, ProgrammeId};

use crate::roles::Signed;

use crate::AppState;
use crate::problem::Problem;

/// The stylesheet every page uses.
const STYLES: &str = include_str!("../../assets/site.css");

/// The pages' routes.
pub(crate) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/", get(home))
        .route("/assets/site.css", get(styles))
        .route("/check/{programme}", get(check::start))
        .route("/check/{programme}/{step}", get(check::step))
        .route("/account", get(account::account))
        .route(
            "/account/sign-in",
            get(account::email_page).post(account::email_sent),
        )
        .route(
            "/account/code",
            get(account::code_page).post(account::code_sent),
        )
        .route(
            "/account/staff-sign-in",
            get(account::staff_page).post(account::staff_sent),
        )
        .route(
            "/account/staff-code",
            get(account::staff_code_page).post(account::staff_code_sent),
        )
        .route("/account/sign-out", axum::routing::post(account::sign_out))
        .route("/account/setup", get(setup::setup_page))
        .route(
            "/account/setup/password",
            axum::routing::post(setup::password_sent),
        )
        .route("/account/setup/code", axum::routing::post(setup::code_sent))
        .route("/staff", get(account::staff))
        .route("/staff/users", get(users::users).post(users::add))
        .route(
            "/staff/users/switch-off",
            axum::routing::post(users::switch_off),
        )
        .route("/staff/{programme}/dashboard", get(dashboard::dashboard))
        .route("/staff/{programme}/applications", get(applications::list))
        .route(
            "/staff/{programme}/applications/{reference}",
            get(staff::application),
        )
        .route(
            "/staff/{programme}/applications/{reference}/milestone",
            axum::routing::post(staff::milestone),
        )
        .route(
            "/staff/{programme}/applications/{reference}/claim",
            axum::routing::post(staff::claim),
        )
        .route(
            "/staff/{programme}/applications/{reference}/clawback",
            get(finance::clawback_page).post(finance::clawback),
        )
        .route(
            "/staff/{programme}/applications/{reference}/close",
            get(finance::close_page).post(finance::close),
        )
        .route(
            "/staff/{programme}/top-up",
            get(finance::top_up_page).post(finance::top_up),
        )
        .route(
            "/apply/{programme}",
            get(apply::start_page).post(apply::start),
        )
        .route("/apply/{programme}/tasks", get(apply::tasks))
        .route(
            "/apply/{programme}/check",
            get(apply::check_page).post(apply::submit),
        )
        .route(
            "/apply/{programme}/{section}",
            get(apply::section_page).post(apply::section_sent),
        )
        .route("/applications/{programme}/{reference}", get(status::status))
        .route(
            "/applications/{programme}/{reference}/respond",
            axum::routing::post(status::respond),
        )
}

async fn styles() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLES).into_response()
}

/// A rendered page, or the plain page that says it could not be.
fn page(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Html(format!(
                "<!DOCTYPE html><html lang=\"en\"><head><title>Sorry, there is a problem with this service</title></head><body><main><h1>Sorry, there is a problem with this service</h1><p>The page could not be drawn ({}). Try again later.</p></main></body></html>",
                askama::filters::escape(e.to_string(), askama::filters::Html).map(|s| s.to_string()).unwrap_or_default()
            )),
        )
            .into_response(),
    }
}

/// A page that says one thing.
#[derive(Template)]
#[template(path = "message.html")]
struct Message {
    heading: &'static str,
    detail: String,
}

/// A form's random id (the command id it sends), or the page that says
/// there is no random source.
#[allow(clippy::result_large_err)] // The page is answered at once, never carried.
fn form_id() -> Result<String, Response> {
    crate::sign_in::new_token().ok_or_else(|| {
        page(
            StatusCode::INTERNAL_SERVER_ERROR,
            &Message {
                heading: "Sorry, there is a problem with this service",
                detail: "No random source: try again later.".into(),
            },
        )
    })
}

/// The page for a form without its session's CSRF token or id.
fn expired() -> Response {
    page(
        StatusCode::FORBIDDEN,
        &Message {
            heading: "This form has expired",
            detail: "Nothing was done. Go back, reload the page and try again.".into(),
        },
    )
}

fn not_found(detail: impl Into<String>) -> Response {
    page(
        StatusCode::NOT_FOUND,
        &Message {
            heading: "Page not found",
            detail: detail.into(),
        },
    )
}

/// The page for a problem the engines reported.
fn trouble(p: Problem) -> Response {
    if p.status == 404 {
        return not_found(p.detail);
    }
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    page(
        status,
        &Message {
            heading: "Sorry, there is a problem with this service",
            detail: p.detail,
        },
    )
}

/// The rules of `programme`, if it is open on this server.
async fn rules(state: &AppState, programme: &str) -> Result<Programme, Response> {
    let id = ProgrammeId::new(programme.trim());
    let found = state
        .blocking(move |programmes| {
            let mut rules = None;
            programmes.read(&id, &mut |s| rules = s.programme().cloned())?;
            Ok(rules)
        })
        .await
        .map_err(trouble)?;
    found.ok_or_else(|| {
        not_found(format!(
            "There is no programme called “{programme}” on this service."
        ))
    })
}

struct Card {
    id: String,
    name: String,
    description: String,
    opens: String,
    closes: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    programmes: Vec<Card>,
}

/// An amount of money as typed: `900`, `900.00`, `£1,250.50`.
fn typed_money(text: &str) -> Option<grantflow_core::Money> {
    text.trim()
        .trim_start_matches('£')
        .replace(',', "")
        .parse()
        .ok()
}

/// `text` with a capital first letter, as a sentence on a page starts
/// (the core's and the API's sentences start in lower case).
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A date as people write it: 1 September 2020.
fn day(d: chrono::NaiveDate) -> String {
    d.format("%-d %B %Y").to_string()
}

async fn home(State(state): State<AppState>) -> Response {
    let mut programmes = Vec::new();
    for id in state.featured.iter() {
        if let Ok(p) = rules(&state, id.as_str()).await {
            programmes.push(Card {
                id: p.id.clone(),
                name: p.name.clone(),
                description: p.description.clone(),
                opens: day(p.opens.value),
                closes: day(p.closes.value),
            });
        }
    }
    page(StatusCode::OK, &Home { programmes })
}

/// Runs `command` through the group commit, audited; a refusal is its sentence.
pub(super) async fn execute(
    state: &AppState,
    who: &Signed,
    programme: ProgrammeId,
    command: Command,
) -> Result<(), String> {
    let now = (state.clock)();
    let kind = command.action.kind();
    let command_about = command.action.application();
    let id = command.id;
    let result = state
        .committer
        .execute(programme.clone(), command, now)
        .await;
    state.audit.write(&crate::audit::Record {
        at: now,
        who: &who.name,
        role: who.role,
        route: "page",
        programme: Some(programme.as_str()),
        command: Some((id, kind.as_str())),
        outcome: if result.is_ok() { "applied" } else { "refused" },
    });
    // A page is about one application, so its refusal names it as such
    // rather than by the id people never see.
    let about = command_about.map(|a| a.to_string());
    result.map(|_| ()).map_err(|p| {
        let detail = match &about {
            Some(id) => p
                .detail
                .replace(&format!("application {id}"), "this application")
                .replace(id.as_str(), "this application"),
            None => p.detail,
        };
        capitalised(&detail)
    })
}
