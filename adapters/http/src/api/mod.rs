//! The JSON API: one handler per route, each stating its roles in its
//! OpenAPI operation and checking them first. Commands take their command
//! id from the `Idempotency-Key` header: the same key and body give the
//! first response again (with `Idempotent-Replayed: true`), the same key
//! with another body is the core's `command_id_reused` (422).

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use grantflow_core::{
    Action, Applicant, Application, ApplicationId, Command, CommandId, CostRequest, Item,
    Milestone, Money, Outcome, Programme, ProgrammeId, explain,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::audit::Record;
use crate::problem::Problem;
use crate::roles::{Caller, Role, Signed};

mod reports;
pub use reports::{
    __path_export, __path_history, __path_ledger, ExportQuery, Ledger, MAX_PAGE, Page, export,
    history, ledger,
};

/// The header a command's id comes from.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Set on a response that repeats the first response to a key.
pub const REPLAYED: &str = "idempotent-replayed";

/// A command's id, from its `Idempotency-Key` header. Read before the
/// handler runs but judged after its role check ([`IdempotencyKey::get`]),
/// so a caller who may not call the route learns nothing from it.
#[derive(Clone, Debug)]
pub struct IdempotencyKey(Result<CommandId, Problem>);

impl IdempotencyKey {
    /// The command id, or why the header is not one.
    pub fn get(self) -> Result<CommandId, Problem> {
        self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<IdempotencyKey, Problem> {
        let key = match parts.headers.get(IDEMPOTENCY_KEY).map(|v| v.to_str()) {
            None => Err(Problem::bad_request(
                "a command needs an `Idempotency-Key` header (any unique text, e.g. a UUID): the same key and body may be sent again safely",
            )),
            Some(Err(_)) => Err(Problem::bad_request(
                "the `Idempotency-Key` header must be plain text",
            )),
            Some(Ok(text)) => CommandId::given(text)
                .map_err(|e| Problem::bad_request(format!("`Idempotency-Key`: {e}"))),
        };
        Ok(IdempotencyKey(key))
    }
}

/// A JSON body, read before the handler runs (a body over the limit is
/// 413 at once) but judged after its role check ([`Body::get`]); its
/// faults are problems (400), not axum's plain text.
#[derive(Debug)]
pub struct Body<T>(Result<T, Problem>);

impl<T> Body<T> {
    /// The body, or why it is not what the route takes.
    pub fn get(self) -> Result<T, Problem> {
        self.0
    }
}

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = Problem;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Body<T>, Problem> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Problem::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "too_large",
                        "the body is larger than 1 MiB: send less",
                    )
                } else {
                    Problem::bad_request(format!("the body could not be read: {}", e.body_text()))
                }
            })?;
        Ok(Body(serde_json::from_slice(&bytes).map_err(|e| {
            Problem::bad_request(format!(
                "the body is not what this route takes ({e}): see /openapi.json"
            ))
        })))
    }
}

/// What a command recorded: the same for the first answer and any repeat.
#[derive(Debug, Serialize, ToSchema)]
pub struct Recorded {
    /// The command's events, with their versions.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<Value>,
}

fn recorded(outcome: &Outcome) -> Recorded {
    recorded_events(outcome.events())
}

/// Stored events as the API shows them: each event's JSON with its version.
fn recorded_events(events: &[grantflow_core::Recorded]) -> Recorded {
    Recorded {
        events: events
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(&r.event).unwrap_or(Value::Null);
                if let Value::Object(m) = &mut v {
                    m.insert("version".into(), r.version.into());
                }
                v
            })
            .collect(),
    }
}

fn programme_id(text: &str) -> ProgrammeId {
    ProgrammeId::new(text.trim())
}

/// The answers of every command route, for its OpenAPI operation.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // Describes the responses; the handlers build them.
enum CommandAnswers {
    /// Recorded: the command's events. A repeated key with the same body
    /// gets the same answer, marked `Idempotent-Replayed: true`.
    #[response(status = 200)]
    Recorded(Recorded),
    /// Not the body or the `Idempotency-Key` the route takes.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// Signed out: no valid token.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorised(Problem),
    /// A role that may not do this, or another applicant's application.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// The core refused the command (its code is the problem's `code`);
    /// nothing was recorded.
    #[response(status = 422, content_type = "application/problem+json")]
    Refused(Problem),
}

/// Runs a command for `who` and answers with what it recorded.
async fn run(
    state: &AppState,
    who: &Signed,
    route: &'static str,
    programme: ProgrammeId,
    key: IdempotencyKey,
    action: Action,
) -> Result<Response, Problem> {
    let id = key.get()?;
    let now = (state.clock)();
    let command = Command::new(id, action);
    let kind = command.action.kind();
    let result = state
        .committer
        .execute(programme.clone(), command, now)
        .await;
    state.audit.write(&Record {
        at: now,
        who: &who.name,
        role: who.role,
        route,
        programme: Some(programme.as_str()),
        command: Some((id, kind.as_str())),
        outcome: match &result {
            Ok(Outcome::Applied { .. }) => "applied",
            Ok(Outcome::Duplicate { .. }) => "duplicate",
            Err(_) => "refused",
        },
    });
    let outcome = result?;
    let mut response = Json(recorded(&outcome)).into_response();
    if matches!(outcome, Outcome::Duplicate { .. }) {
        response
            .headers_mut()
            .insert(REPLAYED, HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// Refuses an applicant's token for an application that is not theirs
/// (403, whether or not it exists, so nothing is learnt about others').
fn own(who: &Signed, app: Option<&Application>) -> Result<(), Problem> {
    if who.role != Role::Applicant {
        return Ok(());
    }
    let mine =
        app.is_some_and(|a| Some(a.applicant().contact.email.trim().to_lowercase()) == who.email);
    if mine {
        Ok(())
    } else {
        Err(Problem::forbidden(
            "an applicant may act only on their own applications",
        ))
    }
}

/// Checks, before an applicant's command runs, that the application is theirs.
async fn check_own(
    state: &AppState,
    who: &Signed,
    programme: &ProgrammeId,
    application: ApplicationId,
) -> Result<(), Problem> {
    if who.role != Role::Applicant {
        return Ok(());
    }
    let (p, who) = (programme.clone(), who.clone());
    state
        .blocking(move |programmes| {
            let mut verdict = Ok(());
            programmes.read(&p, &mut |s| {
                verdict = own(&who, s.application(&application))
            })?;
            verdict
        })
        .await
}

// ---------------------------------------------------------------- programmes

/// The programme's rules, as opened.
#[utoipa::path(get, path = "/programmes/{programme}", tag = "programmes",
    params(("programme" = String, Path, description = "The programme's id")),
    responses(
        (status = 200, description = "The programme's rules", body = Object),
        (status = 404, description = "No such programme", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn programme(
    State(state): State<AppState>,
    Path(programme): Path<String>,
) -> Result<Json<Value>, Problem> {
    let p = programme_id(&programme);
    let rules = state
        .blocking(move |programmes| {
            let mut rules = None;
            programmes.read(&p, &mut |s| {
                rules = s
                    .programme()
                    .map(|p| serde_json::to_value(p).unwrap_or_default())
            })?;
            Ok(rules)
        })
        .await?;
    rules
        .map(Json)
        .ok_or_else(|| Problem::not_found(format!("no programme `{programme}` has been opened")))
}

/// Opens a programme with its rules (admin).
#[utoipa::path(put, path = "/programmes/{programme}", tag = "programmes",
    params(("programme" = String, Path, description = "The programme's id; must equal the rules' `id`"),
        ("Idempotency-Key" = String, Header, description = "The command's id")),
    request_body(content = Object, description = "The programme's rules (see `grantflow schema rules`)"),
    security(("token" = ["admin"])),
    responses(CommandAnswers))]
pub async fn open(
    State(state): State<AppState>,
    caller: Caller,
    key: IdempotencyKey,
    Path(programme): Path<String>,
    rules: Body<Programme>,
) -> Result<Response, Problem> {
    let who = caller.require(&[Role::Admin])?;
    let rules = rules.get()?;
    if rules.id != programme.trim() {
        return Err(Problem::bad_request(format!(
            "the rules are for programme `{}`, not `{programme}`: put them at /programmes/{}",
            rules.id, rules.id
        )));
    }
    let action = Action::Open {
        programme: Box::new(rules),
    };
    run(&state, who, "open", programme_id(&programme), key, action).await
}

/// What the eligibility checker answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct EligibilityAnswer {
    pub eligible: bool,
    /// Every criterion with its verdict, its sentence and its source.
    #[schema(value_type = Vec<Object>)]
    pub criteria: Vec<Value>,
}

/// Checks an applicant against the programme's criteria, one by one (no sign-in).
#[utoipa::path(post, path = "/programmes/{programme}/eligibility", tag = "applications",
    params(("programme" = String, Path, description = "The programme's id")),
    request_body(content = Object, description = "The applicant (see `grantflow schema applicant`)"),
    responses(
        (status = 200, description = "Each criterion, passed or not, with its sentence and source", body = EligibilityAnswer),
        (status = 400, description = "Not an applicant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such programme", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn eligibility(
    State(state): State<AppState>,
    Path(programme): Path<String>,
    applicant: Body<Applicant>,
) -> Result<Json<EligibilityAnswer>, Problem> {
    let applicant = applicant.get()?;
    let p = programme_id(&programme);
    let today = (state.clock)().date_naive();
    let answer = state
        .blocking(move |programmes| {
            let mut answer = None;
            programmes.read(&p, &mut |s| {
                answer = s.programme().map(|p| explain(p, &applicant, today));
            })?;
            Ok(answer)
        })
        .await?
        .ok_or_else(|| Problem::not_found(format!("no programme `{programme}` has been opened")))?;
    Ok(Json(EligibilityAnswer {
        eligible: answer.eligible,
        criteria: answer
            .criteria
            .iter()
            .map(|c| serde_json::to_value(c).unwrap_or_default())
            .collect(),
    }))
}

// -------------------------------------------------------------- applications

/// A submission.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    /// The applicant's own reference; the application's id is derived from it.
    pub reference: String,
    #[schema(value_type = Object)]
    pub applicant: Applicant,
    #[schema(value_type = Object)]
    pub request: CostRequest,
}

/// Submits an application: judged and offered, waitlisted or refused at once.
#[utoipa::path(post, path = "/programmes/{programme}/applications", tag = "applications",
    params(("programme" = String, Path, description = "The programme's id"),
        ("Idempotency-Key" = String, Header, description = "The command's id")),
    request_body = Submission,
    security(("token" = ["applicant", "admin"])),
    responses(CommandAnswers))]
pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    key: IdempotencyKey,
    Path(programme): Path<String>,
    s: Body<Submission>,
) -> Result<Response, Problem> {
    let who = caller.require(&[Role::Applicant, Role::Admin])?;
    let s = s.get()?;
    if who.role == Role::Applicant
        && Some(s.applicant.contact.email.trim().to_lowercase()) != who.email
    {
        return Err(Problem::forbidden(
            "an applicant may apply only with their own e-mail address as the contact",
        ));
    }
    let reference = s.reference.trim().to_string();
    let application = ApplicationId::parse_or_name(&reference);
    let programme = programme_id(&programme);
    if !reference.is_empty() {
        let p = programme.clone();
        state
            .references(move |r| r.remember(&p, application, &reference))
            .await?;
    }
    let action = Action::Submit {
        application,
        applicant: Arc::new(s.applicant),
        request: s.request,
    };
    run(&state, who, "submit", programme, key, action).await
}

/// An application as its applicant and staff see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    pub id: String,
    pub organisation: String,
    /// The stage, e.g. `offered`, `awarded`, `certified`.
    pub stage: String,
    /// The stage with its deadlines.
    #[schema(value_type = Object)]
    pub detail: Value,
    /// The award reserved for it (pounds, e.g. "1260.00").
    pub award: String,
    /// Paid per covered item, gross.
    pub paid: Vec<ItemPaid>,
    pub recovered: String,
    pub released: String,
}

/// One covered item's payments.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemPaid {
    pub item: String,
    pub paid: String,
}

fn status_of(app: &Application) -> Status {
    Status {
        id: app.id().to_string(),
        organisation: app.applicant().organisation.name.clone(),
        stage: app.stage().kind().as_str().to_string(),
        detail: serde_json::to_value(app.stage()).unwrap_or_default(),
        award: app.award().to_string(),
        paid: Item::ALL
            .iter()
            .map(|i| ItemPaid {
                item: i.as_str().to_string(),
                paid: app.item_paid(*i).to_string(),
            })
            .collect(),
        recovered: app.account().recovered().to_string(),
        released: app.account().released().to_string(),
    }
}

/// Path parameters of an application's routes.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AppPath {
    /// The programme's id.
    pub programme: String,
    /// The application's reference (as submitted) or id.
    pub application: String,
}

impl AppPath {
    fn ids(&self) -> (ProgrammeId, ApplicationId) {
        (
            programme_id(&self.programme),
            ApplicationId::parse_or_name(self.application.trim()),
        )
    }
}

/// An application's stage, award and payments.
#[utoipa::path(get, path = "/programmes/{programme}/applications/{application}", tag = "applications",
    params(AppPath),
    security(("token" = ["applicant", "assessor", "finance", "auditor", "admin"])),
    responses(
        (status = 200, description = "The application", body = Status),
        (status = 401, description = "Signed out", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Another applicant's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn status(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<AppPath>,
) -> Result<Json<Status>, Problem> {
    let who = caller.require(&Role::ALL)?.clone();
    let (p, a) = path.ids();
    let found = state
        .blocking(move |programmes| {
            let mut found = Ok(None);
            programmes.read(&p, &mut |s| {
                let app = s.application(&a);
                found = own(&who, app).map(|()| app.map(status_of));
            })?;
            found
        })
        .await?;
    found.map(Json).ok_or_else(|| {
        Problem::not_found(format!(
            "no application `{}` in programme `{}`",
            path.application, path.programme
        ))
    })
}

macro_rules! applicant_command {
    ($name:ident, $route:literal, $path:literal, $doc:literal, $variant:ident) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "applications",
            params(AppPath, ("Idempotency-Key" = String, Header, description = "The command's id")),
            security(("token" = ["applicant", "admin"])),
            responses(CommandAnswers))]
        pub async fn $name(
            State(state): State<AppState>,
            caller: Caller,
            key: IdempotencyKey,
            Path(path): Path<AppPath>,
        ) -> Result<Response, Problem> {
            let who = caller.require(&[Role::Applicant, Role::Admin])?;
            let (p, application) = path.ids();
            check_own(&state, who, &p, application).await?;
            run(&state, who, $route, p, key, Action::$variant { application }).await
        }
    };
}

applicant_command!(
    accept,
    "accept",
    "/programmes/{programme}/applications/{application}/accept",
    "The applicant accepts an offer.",
    Accept
);
applicant_command!(
    decline,
    "decline",
    "/programmes/{programme}/applications/{application}/decline",
    "The applicant declines an offer.",
    Decline
);

/// Why an applicant withdraws.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Withdrawal {
    pub reason: String,
}

/// The applicant withdraws, from any stage that is not final.
#[utoipa::path(post, path = "/programmes/{programme}/applications/{application}/withdraw", tag = "applications",
    params(AppPath, ("Idempotency-Key" = String, Header, description = "The command's id")),
    request_body = Withdrawal,
    security(("token" = ["applicant", "admin"])),
    responses(CommandAnswers))]
pub async fn withdraw(
    State(state): State<AppState>,
    caller: Caller,
    key: IdempotencyKey,
    Path(path): Path<AppPath>,
    w: Body<Withdrawal>,
) -> Result<Response, Problem> {
    let who = caller.require(&[Role::Applicant, Role::Admin])?;
    let w = w.get()?;
    let (p, application) = path.ids();
    check_own(&state, who, &p, application).await?;
    let action = Action::Withdraw {
        application,
        reason: w.reason,
    };
    run(&state, who, "withdraw", p, key, action).await
}

/// A milestone an assessor reports.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MilestoneReport {
    /// e.g. `consultancy_engaged`, `assessment_passed`.
    #[schema(value_type = String)]
    pub milestone: Milestone,
}

/// Records a certification milestone.
#[utoipa::path(post, path = "/programmes/{programme}/applications/{application}/milestones", tag = "staff",
    params(AppPath, ("Idempotency-Key" = String, Header, description = "The command's id")),
    request_body = MilestoneReport,
    security(("token" = ["assessor"])),
    responses(CommandAnswers))]
pub async fn milestone(
    State(state): State<AppState>,
    caller: Caller,
    key: IdempotencyKey,
    Path(path): Path<AppPath>,
    m: Body<MilestoneReport>,
) -> Result<Response, Problem> {
    let who = caller.require(&[Role::Assessor])?;
    let m = m.get()?;
    let (p, application) = path.ids();
    let action = Action::Milestone {
        application,
        milestone: m.milestone,
    };
    run(&state, who, "milestone", p, key, action).await
}

/// An invoice to pay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimBody {
    /// `consultancy`, `certification_fee` or `plus_audit`.
    #[schema(value_type = String)]
    pub item: Item,
    pub invoice_ref: String,
    /// Pounds and pence as text, e.g. "360.00".
    #[schema(value_type = String)]
    pub amount: Money,
}

/// Pays an invoice for a covered item.
#[utoipa::path(post, path = "/programmes/{programme}/applications/{application}/claims", tag = "staff",
    params(AppPath, ("Idempotency-Key" = String, Header, description = "The command's id")),
    request_body = ClaimBody,
    security(("token" = ["finance"])),
    responses(CommandAnswers))]
pub async fn claim(
    State(state): State<AppState>,
    caller: Caller,
    key: IdempotencyKey,
    Path(path): Path<AppPath>,
    c: Body<ClaimBody>,
) -> Result<Response, Problem> {
    let who = caller.require(&[Role::Finance])?;
    let c = c.get()?;
    let (p, application) = path.ids();
    let action = Action::Claim {
        application,
        item: c.item,
        invoice_ref: c.invoice_ref,
        amount: c.amount,
    };
    run(&state, who, "claim", p, key, action).await
}

/// Closes an award; what is left of it is released.
#[utoipa::path(post, path = "/programmes/{programme}/applications/{application}/complete", tag = "staff",
    params(AppPath, ("Idempotency-Key" = String, Header, description = "The command's id")),
    security(("token" = ["finance"])),
    responses(CommandAnswers))]
pub async fn complete(
    State(state): State<AppState>,
    caller: Caller,
    key: IdempotencyKey,
    Path(path): Path<AppPath>,
) -> Result<Response, Problem> {
    let who = caller.require(&[Role::Finance])?;
    let (p, application) = path.ids();
    run(
        &state,
        who,
        "complete",
        p,
        key,
        Action::Complete { application },
    )
    .await
}

/// An amount recovered.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClawbackBody {
    #[schema(value_type = String)]
    pub amount: Money,
    pub reason: String,
}

/// Recovers a paid amount and credits it to the pot.
#[utoipa::path(post, path = "/programmes/{programme}/applications/{application}/clawbacks", tag = "staff",
    params(AppPath, ("Idempotency-Key" = String, Header, description = "The command's id")),
    request_body = ClawbackBody,
    security(("token" = ["finance"])),
    responses(CommandAnswers))]
pub async fn clawback(
    State(state): State<AppState>,
    caller: Caller,
    key: IdempotencyKey,
    Path(path): Path<AppPath>,
    c: Body<ClawbackBody>,
) -> Result<Response, Problem> {
    let who = caller.require(&[Role::Finance])?;
    let c = c.get()?;
    let (p, application) = path.ids();
    let action = Action::Clawback {
        application,
        amount: c.amount,
        reason: c.reason,
    };
    run(&state, who, "clawback", p, key, action).await
}

// ------------------------------------------------------------------ the pot

/// Money added to the pot.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopUpBody {
    #[schema(value_type = String)]
    pub amount: Money,
    pub note: String,
}

/// Adds money to the pot; waitlisted applications that now fit are offered.
#[utoipa::path(post, path = "/programmes/{programme}/top-ups", tag = "staff",
    params(("programme" = String, Path, description = "The programme's id"),
        ("Idempotency-Key" = String, Header, description = "The command's id")),
    request_body = TopUpBody,
    security(("token" = ["finance"])),
    responses(CommandAnswers))]
pub async fn top_up(
    State(state): State<AppState>,
    caller: Caller,
    key: IdempotencyKey,
    Path(programme): Path<String>,
    t: Body<TopUpBody>,
) -> Result<Response, Problem> {
    let who = caller.require(&[Role::Finance])?;
    let t = t.get()?;
    let action = Action::TopUp {
        amount: t.amount,
        note: t.note,
    };
    run(&state, who, "top_up", programme_id(&programme), key, action).await
}

/// Fires every deadline due now (lapsed offers, missed windows, reminders).
#[utoipa::path(post, path = "/programmes/{programme}/ticks", tag = "staff",
    params(("programme" = String, Path, description = "The programme's id"),
        ("Idempotency-Key" = String, Header, description = "The command's id")),
    security(("token" = ["admin"])),
    responses(CommandAnswers))]
pub async fn tick(
    State(state): State<AppState>,
    caller: Caller,
    key: IdempotencyKey,
    Path(programme): Path<String>,
) -> Result<Response, Problem> {
    let who = caller.require(&[Role::Admin])?;
    run(
        &state,
        who,
        "tick",
        programme_id(&programme),
        key,
        Action::Tick,
    )
    .await
}

/// Whether the server is up (no sign-in).
#[utoipa::path(get, path = "/health", tag = "programmes",
    responses((status = 200, description = "Up", body = Object)))]
pub async fn health() -> Json<Value> {
    Json(serde_json::json!({ "status": "ok" }))
}
