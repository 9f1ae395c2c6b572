//! Who may do what: the [`Role`]s, the service [`Tokens`] that carry them,
//! and the [`Caller`] every route reads from its request.
//!
//! A token is a random secret shown once, when `grantflow token add` makes
//! it; the tokens file keeps only its SHA-256, its name and its role (and,
//! for an applicant's token, the applicant's e-mail address, which limits
//! it to that applicant's own applications). Each route lists its roles in
//! its OpenAPI operation (`security: [{"token": [roles…]}]`) and checks
//! them with [`Caller::require`] before it reads or changes anything.

use std::collections::HashMap;
use std::path::Path;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
pub use grantflow_accounts::{Role, UnknownRole};
use rand::TryRngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::problem::Problem;
use crate::sign_in::{CSRF_HEADER, SESSION_COOKIE};

/// What went wrong with a tokens file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokensError {
    /// The file could not be read or written.
    #[error("tokens file `{path}`: {detail}")]
    Io { path: String, detail: String },
    /// The file is not a tokens file.
    #[error(
        "tokens file `{path}` is not valid ({detail}): fix it or make a new one with `grantflow token add`"
    )]
    Invalid { path: String, detail: String },
    /// A role that does not exist.
    #[error(transparent)]
    UnknownRole(#[from] UnknownRole),
    /// A name that is blank, or already taken in the file.
    #[error("token name `{0}` is blank or already used in this file: choose another")]
    BadName(String),
    /// An applicant token without an e-mail address, or a staff token with one.
    #[error("an applicant token needs --email (the applicant it acts for); other roles take none")]
    Email,
    /// The operating system gave no random bytes.
    #[error("no random source: {0}")]
    Random(String),
}

/// One token as the file keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEntry {
    /// A name for people and the audit log, e.g. `ledger-bot`.
    pub name: String,
    /// The role it carries.
    pub role: Role,
    /// For an applicant token: the e-mail address of the applicant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// SHA-256 of the secret, hex.
    pub sha256: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TokensFile {
    #[serde(default)]
    token: Vec<TokenEntry>,
}

/// The tokens the server accepts, by the hash of their secret.
#[derive(Clone, Debug, Default)]
pub struct Tokens {
    by_hash: HashMap<String, TokenEntry>,
}

fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn read_file(path: &Path) -> Result<TokensFile, TokensError> {
    let shown = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).map_err(|e| TokensError::Invalid {
            path: shown,
            detail: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TokensFile::default()),
        Err(e) => Err(TokensError::Io {
            path: shown,
            detail: e.to_string(),
        }),
    }
}

impl Tokens {
    /// The tokens in `path`; a missing file holds none (so every route
    /// that needs a role answers 401 until a token is added).
    pub fn load(path: &Path) -> Result<Tokens, TokensError> {
        let file = read_file(path)?;
        Ok(Tokens {
            by_hash: file
                .token
                .into_iter()
                .map(|t| (t.sha256.clone(), t))
                .collect(),
        })
    }

    /// Makes a token, adds it to `path` (created if missing) and returns
    /// its secret, which is shown once and kept nowhere.
    pub fn add(
        path: &Path,
        name: &str,
        role: Role,
        email: Option<&str>,
    ) -> Result<String, TokensError> {
        let mut file = read_file(path)?;
        let name = name.trim();
        if name.is_empty() || file.token.iter().any(|t| t.name == name) {
            return Err(TokensError::BadName(name.to_string()));
        }
        let email = email.map(str::trim).filter(|e| !e.is_empty());
        if (role == Role::Applicant) != email.is_some() {
            return Err(TokensError::Email);
        }
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| TokensError::Random(e.to_string()))?;
        let secret = format!(
            "gft_{}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        file.token.push(TokenEntry {
            name: name.to_string(),
            role,
            email: email.map(str::to_lowercase),
            sha256: hash(&secret),
        });
        let shown = path.display().to_string();
        let text = toml::to_string(&file).map_err(|e| TokensError::Invalid {
            path: shown.clone(),
            detail: e.to_string(),
        })?;
        let temporary = path.with_extension("toml.new");
        std::fs::write(&temporary, text)
            .and_then(|()| owner_only(&temporary))
            .and_then(|()| std::fs::rename(&temporary, path))
            .map_err(|e| TokensError::Io {
                path: shown,
                detail: e.to_string(),
            })?;
        Ok(secret)
    }

    /// Adds a token in memory (for tests and embedders that keep tokens
    /// elsewhere); returns nothing, as the caller chose the secret.
    pub fn insert(&mut self, secret: &str, name: &str, role: Role, email: Option<&str>) {
        let entry = TokenEntry {
            name: name.to_string(),
            role,
            email: email.map(str::to_lowercase),
            sha256: hash(secret),
        };
        self.by_hash.insert(entry.sha256.clone(), entry);
    }

    /// The token whose secret this is.
    pub fn find(&self, secret: &str) -> Option<&TokenEntry> {
        self.by_hash.get(&hash(secret))
    }
}

/// Makes a file readable and writable by its owner only.
#[cfg(unix)]
fn owner_only(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn owner_only(_: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Who sent a request: nobody, the holder of a service token, or someone
/// signed in with a session cookie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// No `Authorization` header and no live session.
    Anonymous,
    /// A valid token or session.
    Signed(Signed),
}

/// A signed-in caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    /// The token's name, or the session's e-mail address.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// For an applicant: the address whose applications it may see.
    pub email: Option<String>,
    /// How it signed in.
    pub via: Via,
}

/// How a caller signed in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Via {
    /// `Authorization: Bearer <token>`.
    Token,
    /// The session cookie.
    Session {
        /// The hash of the cookie's secret (the session's key).
        key: String,
        /// The session's CSRF token.
        csrf: String,
        /// Whether the request may change things: a safe method, or the
        /// session's CSRF token in the `X-CSRF-Token` header.
        csrf_ok: bool,
    },
}

impl Caller {
    /// The caller if its role is one of `roles`: 401 when signed out, 403
    /// for another role, and 403 for a cookie-authenticated change without
    /// its CSRF token.
    pub fn require(&self, roles: &[Role]) -> Result<&Signed, Problem> {
        match self {
            Caller::Anonymous => Err(Problem::unauthorised()),
            Caller::Signed(Signed {
                via: Via::Session { csrf_ok: false, .. },
                ..
            }) => Err(Problem::new(
                axum::http::StatusCode::FORBIDDEN,
                "csrf",
                "a change made with a session cookie needs the session's CSRF token in an `X-CSRF-Token` header (GET /session gives it): nothing was changed",
            )),
            Caller::Signed(t) if roles.contains(&t.role) => Ok(t),
            Caller::Signed(t) => Err(Problem::forbidden(format!(
                "the {} role may not do this: it needs one of {}",
                t.role,
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// The caller's name for the audit log, or `anonymous`.
    pub fn name(&self) -> &str {
        match self {
            Caller::Anonymous => "anonymous",
            Caller::Signed(t) => &t.name,
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, Problem> {
        if let Some(value) = parts.headers.get(AUTHORIZATION) {
            // The scheme is case-insensitive (RFC 9110, section 11.1).
            let secret = value
                .to_str()
                .ok()
                .and_then(|v| v.trim().split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, secret)| secret.trim())
                .ok_or_else(Problem::unauthorised)?;
            return state
                .tokens
                .find(secret)
                .map(|t| {
                    Caller::Signed(Signed {
                        name: t.name.clone(),
                        role: t.role,
                        email: t.email.clone(),
                        via: Via::Token,
                    })
                })
                .ok_or_else(Problem::unauthorised);
        }
        let jar = axum_extra::extract::cookie::CookieJar::from_headers(&parts.headers);
        let Some(secret) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) else {
            return Ok(Caller::Anonymous);
        };
        let key = crate::sign_in::session_key(&secret);
        let now = (state.clock)();
        let found = {
            let key = key.clone();
            // A staff session lasts only while its account is switched on
            // with the same role: switching an account off ends its sessions.
            state
                .records(move |a| {
                    let Some(session) = a.session(&key, now)? else {
                        return Ok(None);
                    };
                    if session.role.is_staff() {
                        let account = a.account(&session.email)?;
                        if !account.is_some_and(|a| a.is_active() && a.role == session.role) {
                            return Ok(None);
                        }
                    }
                    Ok(Some(session))
                })
                .await?
        };
        let Some(session) = found else {
            return Ok(Caller::Anonymous);
        };
        let safe = parts.method.is_safe();
        let csrf_ok = safe
            || parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|given| crate::sign_in::same_secret(given.trim(), &session.csrf));
        Ok(Caller::Signed(Signed {
            name: session.email.to_string(),
            role: session.role,
            email: Some(session.email.to_string()),
            via: Via::Session {
                key,
                csrf: session.csrf,
                csrf_ok,
            },
        }))
    }
}
