//! `/staff/users`, for admins: the staff accounts and how each stands,
//! a form that makes an account and shows its one-time setup link once,
//! and a button that switches an account off (its sessions end at once;
//! a new setup link switches it on again). Applicants have no accounts.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use grantflow_accounts::{Email, Role};

use super::account::{encode, session, signed_form};
use super::staff::{again, done, wrong_role};
use super::{drafts, page};
use crate::AppState;
use crate::roles::{Caller, Signed};
use crate::sign_in::{InviteError, Source, invite};

type Fields = BTreeMap<String, String>;

const HERE: &str = "/staff/users";

/// The staff roles an admin hands out.
const ROLES: [(&str, &str); 4] = [
    ("assessor", "Assessor: records certification milestones"),
    (
        "finance",
        "Finance: pays claims, tops up, claws back, exports",
    ),
    ("auditor", "Auditor: reads everything, changes nothing"),
    ("admin", "Admin: sets programmes up and manages users"),
];

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    accounts: Vec<(String, String, String, String, bool)>,
    csrf: String,
    notice: String,
    link: String,
    email: String,
    role: String,
    roles: Vec<(&'static str, &'static str)>,
    email_error: Option<String>,
    role_error: Option<String>,
    errors: Vec<(String, String)>,
}

/// `/staff/users`.
pub(super) async fn users(State(state): State<AppState>, caller: Caller) -> Response {
    let (who, csrf, _) = match session(&state, &caller, HERE, true).await {
        Ok(s) => s,
        Err(to_sign_in) => return to_sign_in,
    };
    if who.role != Role::Admin {
        return wrong_role(Role::Admin, &who);
    }
    let kept = drafts::take(&state, drafts::key(&who, HERE), drafts::owner(&who)).await;
    let accounts = match state.records(|a| a.accounts(1_000)).await {
        Ok(accounts) => accounts,
        Err(p) => return super::trouble(p),
    };
    page(
        StatusCode::OK,
        &UsersPage {
            accounts: accounts
                .into_iter()
                .map(|a| {
                    let mine = a.email.as_str() == who.name;
                    (
                        a.email.to_string(),
                        a.role.to_string(),
                        a.standing().to_string(),
                        a.created.format("%-d %B %Y").to_string(),
                        !mine && !a.disabled,
                    )
                })
                .collect(),
            csrf,
            notice: kept.value("notice").to_string(),
            link: kept.value("link").to_string(),
            email: kept.value("email").to_string(),
            role: kept.value("role").to_string(),
            roles: ROLES.to_vec(),
            email_error: kept.error("email").map(str::to_string),
            role_error: kept.error("role").map(str::to_string),
            errors: kept.errors,
        },
    )
}

/// Checks an admin's form: origin, session, role, CSRF token.
async fn admin(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    f: &Fields,
) -> Result<Signed, Response> {
    let refuse = |who: &Signed| (who.role != Role::Admin).then(|| wrong_role(Role::Admin, who));
    let (who, _) = signed_form(state, caller, headers, HERE, true, f.get("csrf"), refuse).await?;
    Ok(who)
}

/// This site's address as the browser used it, for the setup link.
fn site(headers: &HeaderMap, source: &Source) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let tls = source.via_proxy
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    format!("{}://{host}", if tls { "https" } else { "http" })
}

/// The new account was sent: made, with its link shown once.
pub(super) async fn add(
    State(state): State<AppState>,
    caller: Caller,
    source: Source,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> Response {
    let who = match admin(&state, &caller, &headers, &f).await {
        Ok(who) => who,
        Err(refused) => return refused,
    };
    let mut errors = Vec::new();
    let email = Email::parse(f.get("email").map(String::as_str).unwrap_or(""));
    if email.is_err() {
        errors.push((
            "email",
            "Enter an e-mail address in the right form, like name@example.org".to_string(),
        ));
    }
    let role = f
        .get("role")
        .and_then(|r| r.parse::<Role>().ok())
        .filter(|r| r.is_staff());
    if role.is_none() {
        errors.push(("role", "Select the role the account has".to_string()));
    }
    let (Ok(email), Some(role), true) = (email, role, errors.is_empty()) else {
        return again(&state, &who, HERE, &f, errors).await;
    };
    let now = (state.clock)();
    let made = {
        let email = email.clone();
        state
            .records(move |a| Ok(invite(a, &email, role, now)))
            .await
    };
    let secret = match made {
        Ok(Ok(secret)) => secret,
        Ok(Err(InviteError::Exists(_))) => {
            let message = format!(
                "{email} is set up already: it signs in with its password. Switch it off first to set it up again."
            );
            return again(&state, &who, HERE, &f, vec![("email", message)]).await;
        }
        Ok(Err(e)) => {
            let p =
                crate::Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string());
            return super::trouble(p);
        }
        Err(p) => return super::trouble(p),
    };
    state.audit.write(&crate::audit::Record {
        at: now,
        who: &who.name,
        role: who.role,
        route: "page_add_user",
        programme: None,
        command: None,
        outcome: "applied",
    });
    let link = format!(
        "{}/account/setup?token={}",
        site(&headers, &source),
        encode(&secret)
    );
    let values = Fields::from([
        (
            "notice".to_string(),
            format!(
                "{email} can now be set up as {role}. Give them this link; it works once, for 3 days, and is not shown again:"
            ),
        ),
        ("link".to_string(), link),
    ]);
    let draft = drafts::of(Some(&who), &values, Vec::new());
    drafts::keep_and_go(&state, drafts::key(&who, HERE), draft, HERE).await
}

/// Switching an account off was sent.
pub(super) async fn switch_off(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> Response {
    let who = match admin(&state, &caller, &headers, &f).await {
        Ok(who) => who,
        Err(refused) => return refused,
    };
    let Ok(email) = Email::parse(f.get("email").map(String::as_str).unwrap_or("")) else {
        return super::account::redirect(HERE, None);
    };
    if email.as_str() == who.name {
        let message = "You cannot switch off your own account: ask another admin".to_string();
        return again(&state, &who, HERE, &Fields::new(), vec![("email", message)]).await;
    }
    let target = email.clone();
    let switched = state
        .records(move |a| {
            let Some(mut account) = a.account(&target)? else {
                return Ok(false);
            };
            account.disabled = true;
            a.save_account(&account)?;
            Ok(true)
        })
        .await;
    match switched {
        Ok(true) => {
            state.audit.write(&crate::audit::Record {
                at: (state.clock)(),
                who: &who.name,
                role: who.role,
                route: "page_switch_off_user",
                programme: None,
                command: None,
                outcome: "applied",
            });
            done(
                &state,
                &who,
                HERE,
                format!("{email} is switched off; its sessions have ended."),
            )
            .await
        }
        Ok(false) => super::account::redirect(HERE, None),
        Err(p) => super::trouble(p),
    }
}
