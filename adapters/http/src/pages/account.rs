//! Signing in and out on pages: applicants by a code sent to their
//! address (`/account/sign-in`, then `/account/code`), staff by password
//! and second factor (`/account/staff-sign-in`); `/account` says who is
//! signed in, and `/staff` is the staff's start page (an admin sees the
//! sign-in trail there). The same functions as the JSON API's sign-in sit
//! underneath, so the throttles and the audit are the same. A form is
//! refused when its `Origin` is another site's; a signed-in change also
//! needs the session's CSRF token in the form.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use grantflow_accounts::SignInEvent;

use super::{Message, page};
use crate::AppState;
use crate::problem::Problem;
use crate::roles::{Caller, Role, Via};
use crate::sign_in::{self, END_SESSION, PasswordSignIn, SignedIn, Source, same_secret, send_code};

type Fields = HashMap<String, String>;

/// One input of a form: a text input, or radios when it has choices.
pub(super) struct Field {
    pub(super) id: &'static str,
    pub(super) label: &'static str,
    pub(super) hint: &'static str,
    pub(super) kind: &'static str,
    pub(super) autocomplete: &'static str,
    pub(super) width: &'static str,
    pub(super) value: String,
    pub(super) error: Option<String>,
    /// `(value, label)` of each radio.
    pub(super) choices: Vec<(&'static str, &'static str)>,
}

impl Field {
    /// A text input.
    pub(super) fn text(
        id: &'static str,
        label: &'static str,
        hint: &'static str,
        value: String,
    ) -> Field {
        Field {
            id,
            label,
            hint,
            kind: "text",
            autocomplete: "off",
            width: "input-wide",
            value,
            error: None,
            choices: Vec::new(),
        }
    }
}

#[derive(Template)]
#[template(path = "form.html")]
pub(super) struct FormPage {
    pub(super) heading: String,
    pub(super) intro: Vec<String>,
    pub(super) action: String,
    pub(super) hidden: Vec<(&'static str, String)>,
    pub(super) fields: Vec<Field>,
    pub(super) button: &'static str,
    /// A picture drawn on the server (SVG), shown above the fields.
    pub(super) picture: Option<String>,
    pub(super) errors: Vec<(&'static str, String)>,
    pub(super) links: Vec<(String, &'static str)>,
}

impl FormPage {
    /// The page, with its error summary from the fields' errors. Only a
    /// `GET` shows it: a post is always answered by a redirect here.
    pub(super) fn show(mut self) -> Response {
        self.errors = self
            .fields
            .iter()
            .filter_map(|f| f.error.clone().map(|e| (f.id, e)))
            .collect();
        page(StatusCode::OK, &self)
    }
}

/// Where to go after signing in: a path on this site only.
fn next(fields: &Fields, default: &str) -> String {
    fields
        .get("next")
        .map(|n| n.trim())
        .filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or(default)
        .to_string()
}

pub(super) fn redirect(to: &str, cookie: Option<HeaderValue>) -> Response {
    let mut response =
        (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// A form sent from another site (its `Origin` is not this host) is refused.
pub(super) fn from_elsewhere(headers: &HeaderMap) -> Option<Response> {
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let origin_host = origin.split("://").nth(1).unwrap_or(origin);
    if origin == "null" || origin_host != host {
        return Some(page(
            StatusCode::FORBIDDEN,
            &Message {
                heading: "This form came from another website",
                detail:
                    "Nothing was done. Open this service's own page and send the form from there."
                        .into(),
            },
        ));
    }
    None
}

fn email_form(next: &str, email: &str, error: Option<String>) -> FormPage {
    FormPage {
        heading: "Sign in to apply".into(),
        intro: vec![
            "We will send a six-digit code to your e-mail address. It works once, for 10 minutes."
                .into(),
        ],
        action: "/account/sign-in".into(),
        hidden: vec![("next", next.to_string())],
        fields: vec![Field {
            id: "email",
            label: "E-mail address",
            hint: "Use the address your organisation's application is made with.",
            kind: "email",
            autocomplete: "email",
            width: "input-wide",
            value: email.to_string(),
            error,
            choices: Vec::new(),
        }],
        button: "Send the code",
        picture: None,
        errors: Vec::new(),
        links: vec![(
            format!("/account/staff-sign-in?next={}", encode(next)),
            "Programme staff: sign in with your password",
        )],
    }
}

pub(super) fn encode(text: &str) -> String {
    serde_urlencoded::to_string([("", text)])
        .map(|s| s.trim_start_matches('=').to_string())
        .unwrap_or_default()
}

/// What went wrong with a sign-in form, carried in the address of the
/// page it sends you back to (redirect after every post): a word from a
/// fixed list, so nobody can put their own sentence on this site's page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mistake {
    /// Nothing typed.
    Empty,
    /// Not an e-mail address.
    Invalid,
    /// The address, password or code is not right.
    Wrong,
    /// Too many attempts: it waits.
    Throttled,
    /// The code could not be sent.
    Unsent,
}

impl Mistake {
    const ALL: [Mistake; 5] = [
        Mistake::Empty,
        Mistake::Invalid,
        Mistake::Wrong,
        Mistake::Throttled,
        Mistake::Unsent,
    ];

    pub(super) fn as_str(self) -> &'static str {
        match self {
            Mistake::Empty => "empty",
            Mistake::Invalid => "invalid",
            Mistake::Wrong => "wrong",
            Mistake::Throttled => "throttled",
            Mistake::Unsent => "unsent",
        }
    }

    /// The mistake the page's address names, if any.
    pub(super) fn of(q: &Fields) -> Option<Mistake> {
        let word = q.get("error")?;
        Mistake::ALL.into_iter().find(|m| m.as_str() == word)
    }

    /// The mistake a sign-in function's problem stands for.
    fn from_problem(p: &Problem) -> Mistake {
        match p.status {
            400 => Mistake::Invalid,
            429 => Mistake::Throttled,
            401 | 403 | 404 => Mistake::Wrong,
            _ => Mistake::Unsent,
        }
    }

    fn throttled() -> String {
        "There have been too many attempts: wait 5 minutes, then try again".into()
    }
}

/// The page's address again, with `fields` and the mistake in its query.
fn back(path: &str, fields: &[(&str, &str)], mistake: Mistake) -> Response {
    let mut query: Vec<(&str, &str)> = fields.to_vec();
    query.push(("error", mistake.as_str()));
    redirect(
        &format!(
            "{path}?{}",
            serde_urlencoded::to_string(&query).unwrap_or_default()
        ),
        None,
    )
}

/// `/account/sign-in`: the applicant's e-mail address.
pub(super) async fn email_page(Query(q): Query<Fields>) -> Response {
    let error = Mistake::of(&q).map(|m| match m {
        Mistake::Empty => "Enter your e-mail address".to_string(),
        Mistake::Throttled => Mistake::throttled(),
        Mistake::Unsent => "The code could not be sent: try again in a minute".into(),
        Mistake::Invalid | Mistake::Wrong => {
            "Enter an e-mail address in the right form, like name@example.org".into()
        }
    });
    let email = q.get("email").map(String::as_str).unwrap_or("");
    email_form(&next(&q, "/account"), email, error).show()
}

/// The address was sent: a code goes to it.
pub(super) async fn email_sent(
    State(state): State<AppState>,
    source: Source,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> Response {
    if let Some(refused) = from_elsewhere(&headers) {
        return refused;
    }
    let to = next(&f, "/account");
    let email = f.get("email").cloned().unwrap_or_default();
    let kept = [("next", to.as_str()), ("email", email.trim())];
    if email.trim().is_empty() {
        return back("/account/sign-in", &kept, Mistake::Empty);
    }
    match send_code(&state, &source, &email).await {
        Ok(_) => redirect(
            &format!(
                "/account/code?{}",
                serde_urlencoded::to_string([("email", email.trim()), ("next", to.as_str())])
                    .unwrap_or_default()
            ),
            None,
        ),
        Err(p) => back("/account/sign-in", &kept, Mistake::from_problem(&p)),
    }
}

fn code_form(email: &str, next: &str, error: Option<String>) -> FormPage {
    FormPage {
        heading: "Check your e-mail".into(),
        intro: vec![format!(
            "We sent a code to {email}. It works once, for 10 minutes."
        )],
        action: "/account/code".into(),
        hidden: vec![("email", email.to_string()), ("next", next.to_string())],
        fields: vec![Field {
            id: "code",
            label: "Code",
            hint: "The six digits in the e-mail, for example 123456.",
            kind: "text",
            autocomplete: "one-time-code",
            width: "input-short",
            value: String::new(),
            error,
            choices: Vec::new(),
        }],
        button: "Sign in",
        picture: None,
        errors: Vec::new(),
        links: vec![(
            format!("/account/sign-in?next={}", encode(next)),
            "Not received it? Send a new code",
        )],
    }
}

/// `/account/code`: the code from the e-mail.
pub(super) async fn code_page(Query(q): Query<Fields>) -> Response {
    let email = q.get("email").cloned().unwrap_or_default();
    let error = Mistake::of(&q).map(|m| match m {
        Mistake::Empty => "Enter the code from the e-mail".to_string(),
        Mistake::Throttled => Mistake::throttled(),
        _ => "The code is not right, or it has expired or been used: check the e-mail, or send a new code".into(),
    });
    code_form(&email, &next(&q, "/account"), error).show()
}

fn signed_in(done: Result<SignedIn, Problem>, to: &str) -> Result<Response, Problem> {
    done.map(|s| redirect(to, Some(s.cookie)))
}

/// The code was sent: signed in, or sent back to say why not.
pub(super) async fn code_sent(
    State(state): State<AppState>,
    source: Source,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> Response {
    if let Some(refused) = from_elsewhere(&headers) {
        return refused;
    }
    let to = next(&f, "/account");
    let email = f.get("email").cloned().unwrap_or_default();
    let code = f.get("code").cloned().unwrap_or_default();
    let kept = [("email", email.as_str()), ("next", to.as_str())];
    if code.trim().is_empty() {
        return back("/account/code", &kept, Mistake::Empty);
    }
    let done = sign_in::sign_in_by_code(&state, &source, &headers, &email, &code).await;
    signed_in(done, &to).unwrap_or_else(|p| {
        let mistake = match Mistake::from_problem(&p) {
            Mistake::Throttled => Mistake::Throttled,
            _ => Mistake::Wrong,
        };
        back("/account/code", &kept, mistake)
    })
}

fn staff_form(next: &str, email: &str, error: Option<String>) -> FormPage {
    let (email_error, password_error) = match error {
        Some(e) => (Some(e), None::<String>),
        None => (None, None),
    };
    FormPage {
        heading: "Sign in as programme staff".into(),
        intro: vec!["Use your password and the code your authenticator app shows now.".into()],
        action: "/account/staff-sign-in".into(),
        hidden: vec![("next", next.to_string())],
        fields: vec![
            Field {
                id: "email",
                label: "E-mail address",
                hint: "",
                kind: "email",
                autocomplete: "username",
                width: "input-wide",
                value: email.to_string(),
                error: email_error,
                choices: Vec::new(),
            },
            Field {
                id: "password",
                label: "Password",
                hint: "",
                kind: "password",
                autocomplete: "current-password",
                width: "input-wide",
                value: String::new(),
                error: password_error,
                choices: Vec::new(),
            },
            Field {
                id: "totp",
                label: "Code from your authenticator app",
                hint: "Six digits, for example 123456.",
                kind: "text",
                autocomplete: "one-time-code",
                width: "input-short",
                value: String::new(),
                error: None,
                choices: Vec::new(),
            },
        ],
        button: "Sign in",
        picture: None,
        errors: Vec::new(),
        links: vec![(
            format!("/account/sign-in?next={}", encode(next)),
            "Applying for funding? Sign in with a code by e-mail",
        )],
    }
}

/// `/account/staff-sign-in`: password and second factor.
pub(super) async fn staff_page(Query(q): Query<Fields>) -> Response {
    let error = Mistake::of(&q).map(|m| match m {
        Mistake::Invalid | Mistake::Empty => {
            "Enter an e-mail address in the right form, like name@example.org".to_string()
        }
        Mistake::Throttled => Mistake::throttled(),
        Mistake::Wrong | Mistake::Unsent => {
            "The e-mail address, password or code is not right: check them and try again".into()
        }
    });
    let email = q.get("email").map(String::as_str).unwrap_or("");
    let to = next(&q, "/staff");
    let mut form = staff_form(&to, email, error);
    if q.get("set_up").is_some_and(|v| v == "yes") {
        form.intro.insert(
            0,
            "Your account is ready: sign in with your new password and the next code your app shows.".into(),
        );
    }
    // A locked account still gets in with a code sent to its address,
    // so nobody can lock staff out by guessing at their passwords.
    if q.get("locked").is_some_and(|v| v == "yes") {
        form.hidden.push(("locked", "yes".into()));
        form.fields.push(Field {
            width: "input-short",
            autocomplete: "one-time-code",
            ..Field::text(
                "email_code",
                "Code sent to your e-mail address",
                "If your account is waiting after too many failed attempts, this code gets you in now with your password and app code.",
                String::new(),
            )
        });
        if q.get("sent").is_some_and(|v| v == "yes") {
            form.intro.push(format!(
                "We sent a code to {email}. It works once, for 10 minutes."
            ));
        } else {
            form.links.insert(
                0,
                (
                    format!(
                        "/account/staff-code?{}",
                        serde_urlencoded::to_string([("email", email), ("next", to.as_str())])
                            .unwrap_or_default()
                    ),
                    "Get a code sent to your e-mail address",
                ),
            );
        }
    }
    form.show()
}

/// `/account/staff-code`: a locked-out staff member asks for a code.
pub(super) async fn staff_code_page(Query(q): Query<Fields>) -> Response {
    let email = q.get("email").cloned().unwrap_or_default();
    let error = Mistake::of(&q).map(|m| match m {
        Mistake::Throttled => Mistake::throttled(),
        Mistake::Unsent => "The code could not be sent: try again in a minute".into(),
        _ => "Enter an e-mail address in the right form, like name@example.org".to_string(),
    });
    FormPage {
        heading: "Get a code by e-mail".into(),
        intro: vec![
            "We send a six-digit code to your address. It works once, for 10 minutes, with your password and app code.".into(),
        ],
        action: "/account/staff-code".into(),
        hidden: vec![("next", next(&q, "/staff"))],
        fields: vec![Field {
            kind: "email",
            autocomplete: "username",
            error,
            ..Field::text("email", "E-mail address", "", email)
        }],
        button: "Send the code",
        picture: None,
        errors: Vec::new(),
        links: Vec::new(),
    }
    .show()
}

/// The code was asked for: sent, and back to the sign-in form with a
/// place to type it.
pub(super) async fn staff_code_sent(
    State(state): State<AppState>,
    source: Source,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> Response {
    if let Some(refused) = from_elsewhere(&headers) {
        return refused;
    }
    let to = next(&f, "/staff");
    let email = f.get("email").cloned().unwrap_or_default();
    let kept = [("next", to.as_str()), ("email", email.trim())];
    match send_code(&state, &source, &email).await {
        Ok(_) => redirect(
            &format!(
                "/account/staff-sign-in?{}",
                serde_urlencoded::to_string([
                    ("next", to.as_str()),
                    ("email", email.trim()),
                    ("locked", "yes"),
                    ("sent", "yes"),
                ])
                .unwrap_or_default()
            ),
            None,
        ),
        Err(p) => back("/account/staff-code", &kept, Mistake::from_problem(&p)),
    }
}

/// The staff form was sent: signed in, or sent back to say (the same way
/// whatever was wrong) that it was not.
pub(super) async fn staff_sent(
    State(state): State<AppState>,
    source: Source,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> Response {
    if let Some(refused) = from_elsewhere(&headers) {
        return refused;
    }
    let to = next(&f, "/staff");
    let field = |k: &str| f.get(k).cloned().unwrap_or_default();
    let body = PasswordSignIn {
        email: field("email"),
        password: field("password"),
        totp: field("totp"),
        email_code: f
            .get("email_code")
            .cloned()
            .filter(|c| !c.trim().is_empty()),
    };
    let email = body.email.clone();
    let done = sign_in::sign_in_by_password(&state, &source, &headers, body).await;
    let locked = f.get("locked").is_some_and(|v| v == "yes");
    signed_in(done, &to).unwrap_or_else(|p| {
        let mistake = Mistake::from_problem(&p);
        let mut kept = vec![("next", to.as_str()), ("email", email.trim())];
        if locked || mistake == Mistake::Throttled {
            kept.push(("locked", "yes"));
        }
        back("/account/staff-sign-in", &kept, mistake)
    })
}

struct EventRow {
    at: String,
    email: String,
    method: String,
    outcome: String,
    source: String,
}

fn word<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
        .unwrap_or_default()
}

impl From<SignInEvent> for EventRow {
    fn from(e: SignInEvent) -> EventRow {
        EventRow {
            at: e.at.format("%-d %b %Y %H:%M:%S").to_string(),
            method: word(&e.method),
            outcome: word(&e.outcome),
            email: e.email,
            source: e.source,
        }
    }
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    heading: &'static str,
    email: String,
    role: Role,
    ends: String,
    csrf: String,
    lines: Vec<String>,
    links: Vec<(String, String)>,
    events: Vec<EventRow>,
}

/// The signed-in caller's session, or the way to sign in.
pub(super) async fn session(
    state: &AppState,
    caller: &Caller,
    here: &str,
    staff: bool,
) -> Result<(crate::roles::Signed, String, String), Response> {
    let sign_in = if staff {
        format!("/account/staff-sign-in?next={}", encode(here))
    } else {
        format!("/account/sign-in?next={}", encode(here))
    };
    let Caller::Signed(who) = caller else {
        return Err(redirect(&sign_in, None));
    };
    let Via::Session { key, csrf, .. } = &who.via else {
        return Err(redirect(&sign_in, None));
    };
    let now = (state.clock)();
    let key = key.clone();
    let ends = state
        .records(move |a| a.session(&key, now))
        .await
        .ok()
        .flatten()
        .map(|s| s.expires.format("%H:%M UTC").to_string())
        .unwrap_or_default();
    Ok((who.clone(), csrf.clone(), ends))
}

/// The sender of a signed-in form posted to `here`, with its session's
/// CSRF token: its `Origin` must be this site, it must be signed in (else
/// the way to sign in), `refuse` must find nothing against its role, and
/// the form's `csrf` must be its session's token (else the expired-form
/// page). Nothing has been done when any of these refuses it.
pub(super) async fn signed_form(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    here: &str,
    staff: bool,
    given_csrf: Option<&String>,
    refuse: impl FnOnce(&crate::roles::Signed) -> Option<Response>,
) -> Result<(crate::roles::Signed, String), Response> {
    if let Some(refused) = from_elsewhere(headers) {
        return Err(refused);
    }
    let (who, csrf, _) = session(state, caller, here, staff).await?;
    if let Some(refused) = refuse(&who) {
        return Err(refused);
    }
    if !same_secret(given_csrf.map(String::as_str).unwrap_or(""), &csrf) {
        return Err(super::expired());
    }
    Ok((who, csrf))
}

/// `/account`: who is signed in, and the way out.
pub(super) async fn account(State(state): State<AppState>, caller: Caller) -> Response {
    match session(&state, &caller, "/account", false).await {
        Err(to_sign_in) => to_sign_in,
        Ok((who, csrf, ends)) => page(
            StatusCode::OK,
            &AccountPage {
                heading: "Your account",
                email: who.name,
                role: who.role,
                ends,
                csrf,
                lines: Vec::new(),
                links: Vec::new(),
                events: Vec::new(),
            },
        ),
    }
}

/// What each staff role does here, in a sentence.
fn role_line(role: Role) -> &'static str {
    match role {
        Role::Assessor => "As an assessor you record certification milestones.",
        Role::Finance => {
            "As finance you pay claims, top up the pot, claw back and export the grants."
        }
        Role::Auditor => {
            "As an auditor you read any application's history, the ledger and the exports; you change nothing."
        }
        Role::Admin => {
            "As an admin you set programmes up, manage users and see every sign-in below."
        }
        Role::Applicant => "",
    }
}

/// `/staff`: the staff's start page. Signed out, it sends you to sign in;
/// an applicant's session is refused.
pub(super) async fn staff(State(state): State<AppState>, caller: Caller) -> Response {
    let (who, csrf, ends) = match session(&state, &caller, "/staff", true).await {
        Err(to_sign_in) => return to_sign_in,
        Ok(s) => s,
    };
    if !who.role.is_staff() {
        return page(
            StatusCode::FORBIDDEN,
            &Message {
                heading: "This page is for programme staff",
                detail: "You are signed in as an applicant. Staff sign in with their password and authenticator app.".into(),
            },
        );
    }
    let events = if who.role == Role::Admin {
        state
            .records(|a| a.events(50))
            .await
            .unwrap_or_default()
            .into_iter()
            .map(EventRow::from)
            .collect()
    } else {
        Vec::new()
    };
    page(
        StatusCode::OK,
        &AccountPage {
            heading: "Staff",
            email: who.name.clone(),
            role: who.role,
            ends,
            csrf,
            lines: vec![role_line(who.role).to_string()],
            links: {
                let pot = matches!(who.role, Role::Finance | Role::Auditor | Role::Admin);
                let mut links: Vec<(String, String)> = Vec::new();
                for p in state.featured.iter() {
                    links.push((
                        format!("/staff/{p}/applications"),
                        format!("The applications to {p}"),
                    ));
                    if pot {
                        links.push((format!("/staff/{p}/dashboard"), format!("The pot of {p}")));
                    }
                }
                if who.role == Role::Admin {
                    links.push(("/staff/users".into(), "Staff accounts".into()));
                }
                links
            },
            events,
        },
    )
}

/// Signing out: the form carries the session's CSRF token.
pub(super) async fn sign_out(
    State(state): State<AppState>,
    caller: Caller,
    source: Source,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> Response {
    if let Some(refused) = from_elsewhere(&headers) {
        return refused;
    }
    if let Caller::Signed(who) = &caller {
        if let Via::Session { key, csrf, .. } = &who.via {
            let given = f.get("csrf").map(String::as_str).unwrap_or("");
            if !same_secret(given, csrf) {
                return super::expired();
            }
            let key = key.clone();
            let _ = state.records(move |a| a.end_session(&key)).await;
            let now = (state.clock)();
            let _ = state
                .trail(
                    &who.name,
                    grantflow_accounts::Method::SignOut,
                    grantflow_accounts::SignInOutcome::SignedOut,
                    &source,
                    now,
                )
                .await;
        }
    }
    redirect("/", Some(HeaderValue::from_static(END_SESSION)))
}
