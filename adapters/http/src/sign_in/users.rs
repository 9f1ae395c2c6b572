//! Staff accounts for admins (`/users`) and the sign-in trail
//! (`/sign-in/events`).

use super::*;

/// A staff account to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// The address the person signs in with.
    pub email: String,
    /// Their role: assessor, finance, auditor or admin.
    #[schema(value_type = RoleName)]
    pub role: Role,
}

/// A made account's setup link.
#[derive(Debug, Serialize, ToSchema)]
pub struct Invited {
    /// The account.
    pub email: String,
    /// Its role.
    #[schema(value_type = RoleName)]
    pub role: Role,
    /// The setup link's secret: give it to the person (it works once, for 3
    /// days) to send to /account/setup.
    pub setup_token: String,
    /// When it stops working.
    pub expires: DateTime<Utc>,
}

/// An account as an admin sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserRow {
    /// The address.
    pub email: String,
    /// The role.
    #[schema(value_type = RoleName)]
    pub role: Role,
    /// `invited`, `active` or `disabled`.
    pub standing: String,
    /// When it was made.
    pub created: DateTime<Utc>,
}

/// Makes a staff account (or a new setup link for one not yet set up).
#[utoipa::path(post, path = "/users", tag = "users",
    request_body = NewUser,
    security(("token" = ["admin"])),
    responses(
        (status = 201, description = "Made; hand the setup token to its owner", body = Invited),
        (status = 400, description = "Not an e-mail address or a role", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Signed out", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The account is set up already", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Applicants have no accounts", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn add_user(
    State(state): State<AppState>,
    caller: Caller,
    body: Body<NewUser>,
) -> Result<(StatusCode, Json<Invited>), Problem> {
    let who = caller.require(&[Role::Admin])?.clone();
    let body = body.get()?;
    let now = (state.clock)();
    let email = Email::parse(&body.email).map_err(|e| Problem::bad_request(e.to_string()))?;
    let role = body.role;
    let made = {
        let email = email.clone();
        state
            .records(move |a| Ok(invite(a, &email, role, now)))
            .await?
    };
    let secret = made.map_err(|e| match e {
        InviteError::Applicant => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "applicant_account",
            e.to_string(),
        ),
        InviteError::Exists(_) => {
            Problem::new(StatusCode::CONFLICT, "account_exists", e.to_string())
        }
        other => internal(other),
    })?;
    state.audit.write(&crate::audit::Record {
        at: now,
        who: &who.name,
        role: who.role,
        route: "add_user",
        programme: None,
        command: None,
        outcome: "applied",
    });
    Ok((
        StatusCode::CREATED,
        Json(Invited {
            email: email.to_string(),
            role,
            setup_token: secret,
            expires: now + Setup::LIFETIME,
        }),
    ))
}

/// The staff accounts, by address (at most 1,000).
#[utoipa::path(get, path = "/users", tag = "users",
    security(("token" = ["admin"])),
    responses(
        (status = 200, description = "The accounts", body = Vec<UserRow>),
        (status = 401, description = "Signed out", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn users(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<UserRow>>, Problem> {
    caller.require(&[Role::Admin])?;
    let accounts = state.records(|a| a.accounts(1_000)).await?;
    Ok(Json(
        accounts
            .into_iter()
            .map(|a| UserRow {
                standing: a.standing().into(),
                email: a.email.to_string(),
                role: a.role,
                created: a.created,
            })
            .collect(),
    ))
}

/// How many sign-in events to show.
#[derive(Debug, Deserialize, IntoParams)]
pub struct EventsQuery {
    /// At most this many, newest first (1 to 500; 100 when left out).
    pub limit: Option<usize>,
}

/// The sign-in trail: sign-ins, failures, lockouts, codes sent, set-ups and
/// sign-outs, newest first.
#[utoipa::path(get, path = "/sign-in/events", tag = "users",
    params(EventsQuery),
    security(("token" = ["admin", "auditor"])),
    responses(
        (status = 200, description = "The newest events", body = Vec<Object>),
        (status = 400, description = "A limit outside 1 to 500", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Signed out", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither admin nor auditor", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<EventsQuery>,
) -> Result<Json<Vec<SignInEvent>>, Problem> {
    caller.require(&[Role::Admin, Role::Auditor])?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(Problem::bad_request("`limit` must be from 1 to 500"));
    }
    Ok(Json(state.records(move |a| a.events(limit)).await?))
}
