//! Setup links: how a staff account gets its password and second factor
//! ([`invite`], then `/account/setup` and `/account/setup/confirm`).

use super::*;

/// Makes (or remakes) a staff account and returns the secret of its setup
/// link, which works once, for 3 days. Used by `grantflow user add` and
/// `POST /users`.
pub fn invite<S: grantflow_accounts::RecordStore>(
    accounts: &mut grantflow_accounts::Accounts<S>,
    email: &Email,
    role: Role,
    now: DateTime<Utc>,
) -> Result<String, InviteError> {
    if !role.is_staff() {
        return Err(InviteError::Applicant);
    }
    if let Some(existing) = accounts.account(email)? {
        if existing.is_active() {
            return Err(InviteError::Exists(email.clone()));
        }
    }
    let secret = secrets::token().map_err(|e| InviteError::Random(e.to_string()))?;
    let account = Account {
        setup_link: Some(setup_key(&secret)),
        ..Account::invited(email.clone(), role, now)
    };
    accounts.save_account(&account)?;
    accounts.save_setup(
        &setup_key(&secret),
        &Setup {
            email: email.clone(),
            expires: now + Setup::LIFETIME,
        },
    )?;
    Ok(secret)
}

/// Why an account could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InviteError {
    /// Applicants have no accounts.
    #[error("applicants have no accounts: they sign in with a code sent to their address")]
    Applicant,
    /// The account is set up already.
    #[error("{0} has an account that is set up already: it signs in with its password")]
    Exists(Email),
    /// The records failed.
    #[error(transparent)]
    Records(#[from] grantflow_accounts::RecordError),
    /// No random source.
    #[error("no random source: {0}")]
    Random(String),
}

/// Sets the password of an account by its setup link.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupPassword {
    /// The setup link's secret (its `token=` part).
    pub token: String,
    /// The new password: at least 12 characters, not easy to guess.
    pub password: String,
}

impl std::fmt::Debug for SetupPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SetupPassword")
    }
}

/// The second factor to add to an authenticator app.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecondFactor {
    /// The account.
    pub email: String,
    /// The shared secret, base32, for typing in.
    pub secret: String,
    /// The same as an `otpauth://` URI (what a QR code holds).
    pub otpauth_uri: String,
    /// What to do next.
    pub next: String,
}

fn bad_setup() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "setup_link_unknown",
        "this setup link is unknown, used or expired (links work once, for 3 days): ask an admin for a new one",
    )
}

/// Counts an attempt from `address`, then finds the account a setup
/// link's `token` sets up (if the link works at `now`), with the link's key.
async fn linked_account(
    state: &AppState,
    address: &ThrottleKey,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(String, Option<Account>), Problem> {
    if let Err(until) = state.attempt(address.clone(), now).await? {
        return Err(wait(until, now, "from this address"));
    }
    let key = setup_key(token);
    let lookup = key.clone();
    // Only the newest link of an account works: a second invitation
    // (say, after the first went to the wrong person) ends the first.
    let found = state
        .records(move |a| match a.setup(&lookup, now)? {
            Some(s) => Ok(a
                .account(&s.email)?
                .filter(|account| account.takes_setup_link(&lookup))),
            None => Ok(None),
        })
        .await?;
    Ok((key, found))
}

/// Step 1 of setting up a staff account: choose a password; the answer is
/// the second factor's secret, to add to an authenticator app.
#[utoipa::path(post, path = "/account/setup", tag = "sign-in",
    request_body = SetupPassword,
    responses(
        (status = 200, description = "Password set; now confirm a code from the secret", body = SecondFactor),
        (status = 404, description = "Unknown, used or expired setup link", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The password is too short or too easy to guess", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failures from this address", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn setup(
    State(state): State<AppState>,
    source: Source,
    body: Body<SetupPassword>,
) -> Result<Json<SecondFactor>, Problem> {
    let body = body.get()?;
    set_password(&state, &source, &body.token, &body.password)
        .await
        .map(Json)
}

fn second_factor(email: String, secret: String, otpauth_uri: String) -> SecondFactor {
    SecondFactor {
        email,
        secret,
        otpauth_uri,
        next: "add the secret to an authenticator app, then send a code it shows to /account/setup/confirm with the same token".into(),
    }
}

/// Sets the password of the account a setup link's `token` sets up, and
/// gives its new second factor (the API's and the pages' step 1).
pub(crate) async fn set_password(
    state: &AppState,
    source: &Source,
    token: &str,
    password: &str,
) -> Result<SecondFactor, Problem> {
    let now = (state.clock)();
    let address = ThrottleKey::Address(source.address.clone());
    let (_, found) = linked_account(state, &address, token, now).await?;
    let Some(mut account) = found.filter(|a| !a.is_active()) else {
        return Err(bad_setup());
    };
    state.forgive(address, false).await?;
    if let Some(why) = secrets::weak_password(password, account.email.as_str()) {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "weak_password",
            why,
        ));
    }
    let password = password.to_string();
    let hash = tokio::task::spawn_blocking(move || secrets::hash_password(&password))
        .await
        .map_err(internal)?
        .map_err(internal)?;
    let secret = secrets::totp_secret().map_err(internal)?;
    let uri = secrets::otpauth_uri(&secret, account.email.as_str())
        .ok_or_else(|| internal("the second factor could not be made"))?;
    account.password = Some(hash);
    account.totp_secret = Some(secret.clone());
    account.totp_confirmed = false;
    account.totp_last_step = None;
    let email = account.email.to_string();
    state.records(move |a| a.save_account(&account)).await?;
    Ok(second_factor(email, secret, uri))
}

/// Confirms the second factor of an account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupConfirm {
    /// The setup link's secret.
    pub token: String,
    /// The six digits the authenticator app shows now.
    pub totp: String,
}

/// Step 2 of setting up a staff account: show a code from the new second
/// factor. The link is then used up and the account signs in.
#[utoipa::path(post, path = "/account/setup/confirm", tag = "sign-in",
    request_body = SetupConfirm,
    responses(
        (status = 204, description = "The account is set up"),
        (status = 401, description = "The code is not right", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown, used or expired setup link, or no password set yet", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failures from this address", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn setup_confirm(
    State(state): State<AppState>,
    source: Source,
    body: Body<SetupConfirm>,
) -> Result<StatusCode, Problem> {
    let body = body.get()?;
    confirm_factor(&state, &source, &body.token, &body.totp).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Confirms the second factor of the account a setup link's `token` sets
/// up by a code it shows now, and uses the link up (the API's and the
/// pages' step 2).
pub(crate) async fn confirm_factor(
    state: &AppState,
    source: &Source,
    token: &str,
    totp: &str,
) -> Result<(), Problem> {
    let now = (state.clock)();
    let address = ThrottleKey::Address(source.address.clone());
    let (key, found) = linked_account(state, &address, token, now).await?;
    let Some(mut account) = found.filter(|a| !a.is_active() && a.password.is_some()) else {
        return Err(bad_setup());
    };
    let unix = u64::try_from(now.timestamp()).unwrap_or(0);
    let step = account
        .totp_secret
        .as_deref()
        .and_then(|s| secrets::totp_step(s, totp, unix, None));
    let Some(step) = step else {
        return Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            "wrong_code",
            "that code is not the one the authenticator app shows now: check the app's clock and the secret, and try again",
        ));
    };
    account.totp_confirmed = true;
    account.totp_last_step = Some(step);
    let email = account.email.to_string();
    let used = state
        .records(move |a| {
            if a.take_setup(&key, now)?.is_none() {
                return Ok(false);
            }
            a.save_account(&account)?;
            Ok(true)
        })
        .await?;
    if !used {
        return Err(bad_setup());
    }
    state.forgive(address, false).await?;
    state
        .trail(&email, Method::Setup, SignInOutcome::SetUp, source, now)
        .await?;
    Ok(())
}

/// The second factor waiting to be confirmed by the account a setup link's
/// `token` sets up, once its password is set (the pages show it again
/// until it is confirmed); `None` before the password is set.
pub(crate) async fn pending_factor(
    state: &AppState,
    source: &Source,
    token: &str,
) -> Result<Option<SecondFactor>, Problem> {
    let now = (state.clock)();
    let address = ThrottleKey::Address(source.address.clone());
    let (_, found) = linked_account(state, &address, token, now).await?;
    let Some(account) = found.filter(|a| !a.is_active()) else {
        return Err(bad_setup());
    };
    state.forgive(address, false).await?;
    let (Some(_), Some(secret)) = (&account.password, account.totp_secret) else {
        return Ok(None);
    };
    let uri = secrets::otpauth_uri(&secret, account.email.as_str())
        .ok_or_else(|| internal("the second factor could not be made"))?;
    Ok(Some(second_factor(account.email.to_string(), secret, uri)))
}
