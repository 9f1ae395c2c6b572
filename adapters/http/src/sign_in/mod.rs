//! Signing in, for people: applicants by a code sent to their e-mail
//! address, staff by password and second-factor code; the sessions that
//! follow, in cookies; the setup links that give staff their credentials;
//! and the throttles that make password spraying pointless.
//!
//! Each route answers an unknown account exactly as a known one with a
//! wrong password (a dummy hash is checked, so the time is alike too), and
//! every attempt, failure, lockout and sign-in is written to the sign-in
//! trail and the audit log.

mod links;
mod secrets;
mod source;
mod users;

use axum::Json;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use grantflow_accounts::{
    Account, Email, EmailCode, Method, Session, Setup, SignInEvent, SignInOutcome, ThrottleKey,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::api::Body;
use crate::problem::Problem;
use crate::roles::{Caller, Role, Via};

pub use links::{
    __path_setup, __path_setup_confirm, InviteError, SecondFactor, SetupConfirm, SetupPassword,
    invite, setup, setup_confirm,
};
pub(crate) use links::{confirm_factor, pending_factor, set_password};
pub use secrets::{
    ARGON2_MEMORY_KIB, ARGON2_PASSES, MIN_PASSWORD_CHARS, same_secret, totp_code, warm,
};
pub use source::Source;
pub use users::{
    __path_add_user, __path_events, __path_users, EventsQuery, Invited, NewUser, UserRow, add_user,
    events, users,
};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "grantflow_session";
/// The header a cookie-authenticated change carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Sends sign-in codes by e-mail. Implemented for any
/// `Fn(to, subject, body) -> Result<(), String>`, so an SMTP client (such
/// as `grantflow-email`'s) plugs in as a closure.
pub trait Mailer: Send + Sync {
    /// Sends one plain-text message.
    fn send(&self, to: &Email, subject: &str, body: &str) -> Result<(), String>;
}

impl<F> Mailer for F
where
    F: Fn(&Email, &str, &str) -> Result<(), String> + Send + Sync,
{
    fn send(&self, to: &Email, subject: &str, body: &str) -> Result<(), String> {
        self(to, subject, body)
    }
}

/// A fresh 256-bit random token (hex), or `None` with no random source.
pub(crate) fn new_token() -> Option<String> {
    secrets::token().ok()
}

/// The key a session is kept under: the hash of its cookie's secret.
pub fn session_key(secret: &str) -> String {
    secrets::digest(&["session", secret])
}

fn code_hash(email: &Email, code: &str) -> String {
    secrets::digest(&["code", email.as_str(), code.trim()])
}

pub(crate) fn setup_key(secret: &str) -> String {
    secrets::digest(&["setup", secret.trim()])
}

fn internal(e: impl std::fmt::Display) -> Problem {
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        format!(
            "the server could not finish signing in ({e}): try again, and report it if it persists"
        ),
    )
}

fn wrong_credentials() -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "wrong_credentials",
        "the e-mail address, password or code is not right: check them and try again (after 10 failures in 5 minutes the account waits; a code sent by e-mail, given as `email_code`, still gets in)",
    )
}

fn wrong_code() -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "wrong_code",
        "that code is not right, or has expired or been used: codes work once, for 10 minutes, with 5 tries; ask for a new one",
    )
}

fn wait(until: DateTime<Utc>, now: DateTime<Utc>, whose: &str) -> Problem {
    let seconds = (until - now).num_seconds().max(1);
    let mut p = Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
        format!(
            "too many failed attempts {whose}: try again after {} (in {seconds} s); nothing was checked",
            until.to_rfc3339_opts(SecondsFormat::Secs, true)
        ),
    );
    p.retry_after = Some(seconds.unsigned_abs());
    p
}

/// A new session: who signed in, and the cookie that carries it.
#[derive(Debug)]
pub struct SignedIn {
    /// Who, with the session's CSRF token.
    pub answer: SessionAnswer,
    /// The `Set-Cookie` value.
    pub cookie: HeaderValue,
}

impl IntoResponse for SignedIn {
    fn into_response(self) -> Response {
        let mut response = Json(self.answer).into_response();
        response
            .headers_mut()
            .insert(header::SET_COOKIE, self.cookie);
        response
    }
}

/// The `Set-Cookie` value that ends the session cookie.
pub(crate) const END_SESSION: &str =
    "grantflow_session=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax";

impl FromRequestParts<AppState> for Source {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Source, Problem> {
        Ok(Source::of(parts, &state.proxies))
    }
}

impl AppState {
    /// Writes a sign-in event to the trail and the audit log.
    pub(crate) async fn trail(
        &self,
        email: &str,
        method: Method,
        outcome: SignInOutcome,
        source: &Source,
        now: DateTime<Utc>,
    ) -> Result<(), Problem> {
        let event = SignInEvent {
            at: now,
            email: email.chars().take(Email::MAX_LEN).collect(),
            method,
            outcome,
            source: source.address.clone(),
        };
        self.audit.sign_in(&event);
        self.records(move |a| a.record(&event)).await
    }

    /// Counts an attempt against `key` before it is judged, so that attempts
    /// made at once cannot all slip past the limit: `Err` with when to come
    /// back if the key is locked, else whether this attempt locked it.
    async fn attempt(
        &self,
        key: ThrottleKey,
        now: DateTime<Utc>,
    ) -> Result<Result<bool, DateTime<Utc>>, Problem> {
        self.records(move |a| {
            let mut t = a.throttle(&key)?;
            if let Err(until) = t.check(now) {
                return Ok(Err(until));
            }
            let locked = t.fail(now, key.limit()).is_some();
            a.save_throttle(&key, &t)?;
            Ok(Ok(locked))
        })
        .await
    }

    /// Takes back the newest attempt counted against `key` (after a
    /// success), or every one of them with `clear`.
    async fn forgive(&self, key: ThrottleKey, clear: bool) -> Result<(), Problem> {
        self.records(move |a| {
            let mut t = a.throttle(&key)?;
            if clear {
                t.clear();
            } else {
                t.recent.pop();
            }
            a.save_throttle(&key, &t)
        })
        .await
    }

    /// Starts a session for `email` in `role`, ending the one whose cookie
    /// came with the request, and answers with its cookie.
    async fn start_session(
        &self,
        headers: &HeaderMap,
        email: Email,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<SignedIn, Problem> {
        let secret = secrets::token().map_err(internal)?;
        let csrf = secrets::token().map_err(internal)?;
        let old = axum_extra::extract::cookie::CookieJar::from_headers(headers)
            .get(SESSION_COOKIE)
            .map(|c| session_key(c.value()));
        let session = Session {
            email,
            role,
            csrf,
            started: now,
            expires: now + Session::LIFETIME,
        };
        let key = session_key(&secret);
        let answer = SessionAnswer::of(&session);
        self.records(move |a| {
            if let Some(old) = old {
                a.end_session(&old)?;
            }
            a.purge(now)?;
            a.save_session(&key, &session)
        })
        .await?;
        let cookie = format!(
            "{SESSION_COOKIE}={secret}; Path=/; Max-Age={}; Secure; HttpOnly; SameSite=Lax",
            Session::LIFETIME.num_seconds()
        );
        Ok(SignedIn {
            answer,
            cookie: HeaderValue::from_str(&cookie).map_err(internal)?,
        })
    }

    /// Checks `code` against the one sent to `email`, using it up if right.
    async fn check_code(
        &self,
        email: &Email,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, Problem> {
        let (email, given) = (email.clone(), code_hash(email, code));
        self.records(move |a| {
            let Some(mut sent) = a.take_code(&email)? else {
                return Ok(false);
            };
            if !sent.is_live(now) {
                return Ok(false);
            }
            if same_secret(&sent.hash, &given) {
                return Ok(true);
            }
            sent.tries += 1;
            if sent.is_live(now) {
                a.save_code(&email, &sent)?;
            }
            Ok(false)
        })
        .await
    }
}

/// A role, as the API writes it.
#[derive(ToSchema)]
#[schema(as = Role, rename_all = "snake_case")]
#[allow(dead_code)] // Describes `Role` in the OpenAPI document.
enum RoleName {
    Applicant,
    Assessor,
    Finance,
    Auditor,
    Admin,
}

// ------------------------------------------------------------ e-mail codes

/// Asks for a sign-in code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// The address to send it to.
    pub email: String,
}

/// What the server did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Sent {
    /// What happens next.
    pub message: String,
    /// When the code stops working.
    pub expires: DateTime<Utc>,
}

/// Sends a six-digit sign-in code to an address. Anyone may ask; an
/// applicant signs in with it, and a staff member whose account is locked
/// gives it with their password. At most 5 codes per address in 10 minutes.
#[utoipa::path(post, path = "/sign-in/code", tag = "sign-in",
    request_body = CodeRequest,
    responses(
        (status = 202, description = "The code was sent", body = Sent),
        (status = 400, description = "Not an e-mail address", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many codes asked for this address", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "This server sends no e-mail, or the mail server failed", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn request_code(
    State(state): State<AppState>,
    source: Source,
    body: Body<CodeRequest>,
) -> Result<(StatusCode, Json<Sent>), Problem> {
    let body = body.get()?;
    let sent = send_code(&state, &source, &body.email).await?;
    Ok((StatusCode::ACCEPTED, Json(sent)))
}

/// Sends a sign-in code to `email` (the API's and the pages' way alike).
pub(crate) async fn send_code(
    state: &AppState,
    source: &Source,
    email: &str,
) -> Result<Sent, Problem> {
    let now = (state.clock)();
    let email = Email::parse(email).map_err(|e| Problem::bad_request(e.to_string()))?;
    let Some(mailer) = state.mailer.clone() else {
        return Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_mail",
            "this server sends no e-mail, so it cannot send sign-in codes: its operator starts it with --smtp",
        ));
    };
    if let Err(until) = state
        .attempt(ThrottleKey::CodeRequests(email.clone()), now)
        .await?
    {
        state
            .trail(
                email.as_str(),
                Method::EmailCode,
                SignInOutcome::Throttled,
                source,
                now,
            )
            .await?;
        return Err(wait(until, now, "for codes to this address"));
    }
    let code = secrets::six_digits().map_err(internal)?;
    let sent = EmailCode::sent(code_hash(&email, &code), now);
    let expires = sent.expires;
    {
        let (email, sent) = (email.clone(), sent.clone());
        state.records(move |a| a.save_code(&email, &sent)).await?;
    }
    let to = email.clone();
    let body_text = format!(
        "Your grantflow sign-in code is {code}\n\nIt works once, for 10 minutes (until {} UTC).\n\nIf you did not ask for it, you can ignore this message: nobody can sign in without the code.\n",
        expires.format("%H:%M")
    );
    let delivered = tokio::task::spawn_blocking(move || {
        mailer.send(&to, "Your grantflow sign-in code", &body_text)
    })
    .await
    .map_err(internal)?;
    if let Err(e) = delivered {
        return Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "mail_failed",
            format!("the code could not be sent ({e}): try again in a minute"),
        ));
    }
    state
        .trail(
            email.as_str(),
            Method::EmailCode,
            SignInOutcome::CodeSent,
            source,
            now,
        )
        .await?;
    Ok(Sent {
        message: format!("a code is on its way to {email}; it works once, for 10 minutes"),
        expires,
    })
}

/// Signs in with a code sent by e-mail.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeSignIn {
    /// The address the code was sent to.
    pub email: String,
    /// The six digits.
    pub code: String,
}

/// Who is signed in.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionAnswer {
    /// The address, or the token's name.
    pub email: String,
    /// The role.
    #[schema(value_type = RoleName)]
    pub role: Role,
    /// The token to send as `X-CSRF-Token` with every change made with the
    /// session cookie (absent for a service token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
    /// When the session ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<DateTime<Utc>>,
}

impl SessionAnswer {
    fn of(s: &Session) -> SessionAnswer {
        SessionAnswer {
            email: s.email.to_string(),
            role: s.role,
            csrf_token: Some(s.csrf.clone()),
            expires: Some(s.expires),
        }
    }
}

/// Signs in as an applicant with the code sent to the address: the session
/// sees only applications made with that address. Sets the session cookie.
#[utoipa::path(post, path = "/sign-in/code/verify", tag = "sign-in",
    request_body = CodeSignIn,
    responses(
        (status = 200, description = "Signed in; the session cookie is set", body = SessionAnswer),
        (status = 400, description = "Not an e-mail address", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Wrong, expired or used code", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failures from this address", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn verify_code(
    State(state): State<AppState>,
    source: Source,
    headers: HeaderMap,
    body: Body<CodeSignIn>,
) -> Result<SignedIn, Problem> {
    let body = body.get()?;
    sign_in_by_code(&state, &source, &headers, &body.email, &body.code).await
}

/// Signs an applicant in by the code sent to `email`.
pub(crate) async fn sign_in_by_code(
    state: &AppState,
    source: &Source,
    headers: &HeaderMap,
    email: &str,
    code: &str,
) -> Result<SignedIn, Problem> {
    let now = (state.clock)();
    let email = Email::parse(email).map_err(|e| Problem::bad_request(e.to_string()))?;
    let address = ThrottleKey::Address(source.address.clone());
    let locked = match state.attempt(address.clone(), now).await? {
        Err(until) => {
            state
                .trail(
                    email.as_str(),
                    Method::EmailCode,
                    SignInOutcome::Throttled,
                    source,
                    now,
                )
                .await?;
            return Err(wait(until, now, "from this address"));
        }
        Ok(locked) => locked,
    };
    if !state.check_code(&email, code, now).await? {
        let outcome = if locked {
            SignInOutcome::Locked
        } else {
            SignInOutcome::Failed
        };
        state
            .trail(email.as_str(), Method::EmailCode, outcome, source, now)
            .await?;
        return Err(wrong_code());
    }
    state.forgive(address, false).await?;
    state
        .trail(
            email.as_str(),
            Method::EmailCode,
            SignInOutcome::SignedIn,
            source,
            now,
        )
        .await?;
    state
        .start_session(headers, email, Role::Applicant, now)
        .await
}

// ---------------------------------------------------------------- passwords

/// Signs in with a password and a second-factor code.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordSignIn {
    /// The account's address.
    pub email: String,
    /// Its password.
    pub password: String,
    /// The six digits the authenticator app shows now.
    pub totp: String,
    /// A code sent by e-mail (`POST /sign-in/code`): needed only while the
    /// account waits after too many failures.
    #[serde(default)]
    pub email_code: Option<String>,
}

impl std::fmt::Debug for PasswordSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordSignIn")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// Signs a staff member in with their password and second-factor code.
/// After 10 failures for an account in 5 minutes it waits (5 minutes, then
/// longer), unless a code sent by e-mail is given as well; after 30 from one
/// address, that address waits. Sets the session cookie.
#[utoipa::path(post, path = "/sign-in/password", tag = "sign-in",
    request_body = PasswordSignIn,
    responses(
        (status = 200, description = "Signed in; the session cookie is set", body = SessionAnswer),
        (status = 400, description = "Not an e-mail address", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Wrong address, password or code (the same answer for an unknown account)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failures for this account or from this address", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn password(
    State(state): State<AppState>,
    source: Source,
    headers: HeaderMap,
    body: Body<PasswordSignIn>,
) -> Result<SignedIn, Problem> {
    let body = body.get()?;
    sign_in_by_password(&state, &source, &headers, body).await
}

/// Signs a staff member in by password and second factor (and, while the
/// account waits, a code sent by e-mail).
pub(crate) async fn sign_in_by_password(
    state: &AppState,
    source: &Source,
    headers: &HeaderMap,
    body: PasswordSignIn,
) -> Result<SignedIn, Problem> {
    let now = (state.clock)();
    let email = Email::parse(&body.email).map_err(|e| Problem::bad_request(e.to_string()))?;
    let trail = |outcome| state.trail(email.as_str(), Method::Password, outcome, source, now);
    let address = ThrottleKey::Address(source.address.clone());
    let account_key = ThrottleKey::Account(email.clone());

    let address_locked = match state.attempt(address.clone(), now).await? {
        Err(until) => {
            trail(SignInOutcome::Throttled).await?;
            return Err(wait(until, now, "from this address"));
        }
        Ok(locked) => locked,
    };
    let account_locked = match state.attempt(account_key.clone(), now).await? {
        Ok(locked) => locked,
        // A locked account still gets in with a code sent to its address.
        Err(until) => match body.email_code.as_deref() {
            None => {
                trail(SignInOutcome::Throttled).await?;
                return Err(wait(
                    until,
                    now,
                    "for this account (or give a code sent by e-mail as `email_code`)",
                ));
            }
            Some(code) => {
                if !state.check_code(&email, code, now).await? {
                    trail(SignInOutcome::Failed).await?;
                    return Err(wrong_credentials());
                }
                false
            }
        },
    };

    let account: Option<Account> = {
        let email = email.clone();
        state.records(move |a| a.account(&email)).await?
    };
    let active = account.filter(Account::is_active);
    let hash = active.as_ref().and_then(|a| a.password.clone());
    let given = body.password.clone();
    let password_ok =
        tokio::task::spawn_blocking(move || secrets::verify_password(&given, hash.as_deref()))
            .await
            .map_err(internal)?;
    let step = match (&active, password_ok) {
        (Some(a), true) => a.totp_secret.as_deref().and_then(|secret| {
            let unix = u64::try_from(now.timestamp()).unwrap_or(0);
            secrets::totp_step(secret, &body.totp, unix, a.totp_last_step)
        }),
        _ => None,
    };
    let (Some(mut account), Some(step)) = (active, step) else {
        let outcome = if address_locked || account_locked {
            SignInOutcome::Locked
        } else {
            SignInOutcome::Failed
        };
        trail(outcome).await?;
        return Err(wrong_credentials());
    };
    account.totp_last_step = Some(step);
    let role = account.role;
    state.records(move |a| a.save_account(&account)).await?;
    state.forgive(account_key, true).await?;
    state.forgive(address, false).await?;
    trail(SignInOutcome::SignedIn).await?;
    state.start_session(headers, email, role, now).await
}

// ----------------------------------------------------------------- sessions

/// Who is calling: the session's address, role and CSRF token, or the
/// service token's name and role.
#[utoipa::path(get, path = "/session", tag = "sign-in",
    security(("token" = ["applicant", "assessor", "finance", "auditor", "admin"])),
    responses(
        (status = 200, description = "Signed in", body = SessionAnswer),
        (status = 401, description = "Signed out", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn session(caller: Caller) -> Result<Json<SessionAnswer>, Problem> {
    let who = caller.require(&Role::ALL)?;
    Ok(Json(SessionAnswer {
        email: who.name.clone(),
        role: who.role,
        csrf_token: match &who.via {
            Via::Session { csrf, .. } => Some(csrf.clone()),
            Via::Token => None,
        },
        expires: None,
    }))
}

/// Ends the session (a service token has none: nothing happens) and
/// clears its cookie.
#[utoipa::path(post, path = "/sign-out", tag = "sign-in",
    security(("token" = ["applicant", "assessor", "finance", "auditor", "admin"])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Signed out already", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A session cookie without its CSRF token", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn sign_out(
    State(state): State<AppState>,
    source: Source,
    caller: Caller,
) -> Result<Response, Problem> {
    let who = caller.require(&Role::ALL)?.clone();
    let now = (state.clock)();
    if let Via::Session { key, .. } = &who.via {
        let key = key.clone();
        state.records(move |a| a.end_session(&key)).await?;
        state
            .trail(
                &who.name,
                Method::SignOut,
                SignInOutcome::SignedOut,
                &source,
                now,
            )
            .await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, HeaderValue::from_static(END_SESSION));
    Ok(response)
}
