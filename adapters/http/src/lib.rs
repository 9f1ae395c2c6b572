//! # grantflow-http
//!
//! The HTTP frontend: a JSON API over the same engine the CLI drives,
//! proving that frontends plug in without touching the core. Three things
//! carry it:
//!
//! - [`router`] — the routes of [`api`], each a handler that states its
//!   [`Role`]s in its OpenAPI operation and checks them through the
//!   request's [`Caller`]; the OpenAPI 3.1 document at `/openapi.json` is
//!   generated from the same routes ([`openapi`]), so the two cannot drift.
//! - [`Programmes`] — what the routes need of the engines, implemented by
//!   [`Engines`] over any store that opens by a function (a SQLite file, a
//!   PostgreSQL connection). Commands take their id from the
//!   `Idempotency-Key` header; every error is a [`Problem`]
//!   (`application/problem+json`) carrying the core's rejection code.
//! - [`Caller`] — who sent a request: a service token ([`Tokens`], kept
//!   as SHA-256 hashes with a role each, made by `grantflow token add`) or a
//!   person's session cookie, from [`sign_in`]: applicants by a code sent
//!   to their address, staff by password (argon2id) and second factor
//!   (TOTP), behind throttles per account and per source address. Sign-in
//!   records live in a [`RecordStore`] (SQLite or PostgreSQL beside the
//!   events); every command and sign-in is written to the [`Audit`] log.
//!
//! Beside the API, `pages` renders web pages for people on the same
//! server, usable without JavaScript: the home page, the public
//! eligibility checker, signing in and setting a staff account up,
//! applying as a task list with "Check your answers", the applicant's
//! status, and the staff's pages (applications by stage, milestones,
//! claims, top-ups, clawbacks, closing an award, the finance dashboard and
//! the staff accounts). Every page post is answered by a redirect.
//!
//! Commands from concurrent requests are written together: a group commit
//! of whatever gathered while the last one was written (at most 256), one
//! transaction for them all, each still decided in order.
//!
//! Requests are bounded: bodies over 1 MiB get 413, a request that takes
//! longer than 30 s gets 408, and every response carries
//! `X-Content-Type-Options: nosniff`, frame denial and a content security
//! policy that allows nothing to load.
//!
//! ```no_run
//! use grantflow_core::InMemoryStore;
//! use grantflow_http::{Audit, Engines, Server, Tokens};
//!
//! let server = Server::new(
//!     Box::new(Engines::new(|| Ok(InMemoryStore::new()))),
//!     Tokens::default(),
//!     Audit::new(std::io::stderr()),
//! );
//! let listener = std::net::TcpListener::bind("127.0.0.1:8080").unwrap();
//! server.serve_blocking(listener).unwrap();
//! ```
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations)]

pub mod api;
mod audit;
mod commit;
mod engines;
mod pages;
mod problem;
mod references;
mod roles;
pub mod sign_in;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use chrono::{DateTime, Utc};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use audit::{Audit, Record};
pub use commit::{GROUP as DEFAULT_GROUP, QUEUE as COMMIT_QUEUE};
pub use engines::{Engines, MAX_OPEN_PROGRAMMES, Opener, Programmes};
pub use grantflow_accounts::{Accounts, Email, MemoryRecords, RecordError, RecordStore};
pub use problem::Problem;
pub use references::{MemoryReferences, References};
pub use roles::{Caller, Role, Signed, TokenEntry, Tokens, TokensError, UnknownRole, Via};
pub use sign_in::{InviteError, Mailer, invite};

/// The largest request body accepted.
pub const MAX_BODY: usize = 1024 * 1024;
/// How long a request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A clock: the server's `now` for every command.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The sign-in records, over whichever store the server was given.
pub type Records = Accounts<Box<dyn RecordStore>>;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    programmes: Arc<Mutex<Box<dyn Programmes>>>,
    committer: commit::Committer,
    references: Arc<Mutex<Box<dyn References>>>,
    tokens: Arc<Tokens>,
    records: Arc<Mutex<Records>>,
    mailer: Option<Arc<dyn Mailer>>,
    proxies: Arc<Vec<IpAddr>>,
    featured: Arc<Vec<grantflow_core::ProgrammeId>>,
    audit: Arc<Audit>,
    clock: Clock,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl AppState {
    /// Runs `f` on the references in a blocking task; a failing store is 503.
    async fn references<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn References) -> Result<T, grantflow_core::StoreError> + Send + 'static,
    ) -> Result<T, Problem> {
        let references = Arc::clone(&self.references);
        let joined = tokio::task::spawn_blocking(move || {
            let mut guard =
                references
                    .lock()
                    .map_err(|_| grantflow_core::StoreError::Unavailable {
                        detail: "an earlier request failed inside the references".into(),
                    })?;
            f(guard.as_mut())
        })
        .await;
        match joined {
            Ok(result) => result.map_err(|e| Problem::store(&e)),
            Err(e) => Err(Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "panicked",
                format!("the request failed inside the server ({e}): a defect to report"),
            )),
        }
    }

    /// Runs `f` on the sign-in records in a blocking task, one at a time;
    /// a failing store is 503.
    async fn records<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Records) -> Result<T, RecordError> + Send + 'static,
    ) -> Result<T, Problem> {
        let records = Arc::clone(&self.records);
        let joined = tokio::task::spawn_blocking(move || {
            let mut guard = records.lock().map_err(|_| {
                RecordError::Unavailable("an earlier request failed inside them".into())
            })?;
            f(&mut guard)
        })
        .await;
        match joined {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "records_unavailable",
                format!("{e}; nothing was changed: try again"),
            )),
            Err(e) => Err(Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "panicked",
                format!("the request failed inside the server ({e}): a defect to report"),
            )),
        }
    }

    /// Runs `f` on the engines in a blocking task, one request at a time.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Programmes) -> Result<T, Problem> + Send + 'static,
    ) -> Result<T, Problem> {
        let programmes = Arc::clone(&self.programmes);
        let joined = tokio::task::spawn_blocking(move || {
            let mut guard = programmes.lock().map_err(|_| {
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "poisoned",
                    "an earlier request failed inside the engines: restart the server",
                )
            })?;
            f(guard.as_mut())
        })
        .await;
        joined.unwrap_or_else(|e| {
            Err(Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "panicked",
                format!("the request failed inside the server ({e}): a defect to report"),
            ))
        })
    }
}

/// The OpenAPI document and the routes, from one list.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api::health))
        .routes(routes!(api::programme, api::open))
        .routes(routes!(api::eligibility))
        .routes(routes!(api::submit))
        .routes(routes!(api::status))
        .routes(routes!(api::accept))
        .routes(routes!(api::decline))
        .routes(routes!(api::withdraw))
        .routes(routes!(api::milestone))
        .routes(routes!(api::claim))
        .routes(routes!(api::complete))
        .routes(routes!(api::clawback))
        .routes(routes!(api::top_up))
        .routes(routes!(api::tick))
        .routes(routes!(api::ledger))
        .routes(routes!(api::history))
        .routes(routes!(api::export))
        .routes(routes!(sign_in::request_code))
        .routes(routes!(sign_in::verify_code))
        .routes(routes!(sign_in::password))
        .routes(routes!(sign_in::session))
        .routes(routes!(sign_in::sign_out))
        .routes(routes!(sign_in::setup))
        .routes(routes!(sign_in::setup_confirm))
        .routes(routes!(sign_in::add_user, sign_in::users))
        .routes(routes!(sign_in::events))
}

/// The OpenAPI 3.1 document of [`router`]'s routes.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut api) = routes().split_for_parts();
    api.info.title = "grantflow".into();
    api.info.version = env!("CARGO_PKG_VERSION").into();
    api.info.description = Some(
        "Grant programmes that pay for organisations' security certification: eligibility, applications, milestones, claims and the pot's ledger. Commands take an Idempotency-Key header; errors are application/problem+json.".into(),
    );
    api.info.license = None;
    api.info.contact = None;
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "token",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "A service token from `grantflow token add`; the scopes listed on an operation are the roles that may call it",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        "session",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            sign_in::SESSION_COOKIE,
            "The session cookie set by /sign-in/password or /sign-in/code/verify; a change made with it also needs the session's CSRF token in an X-CSRF-Token header. The scopes listed on an operation are the roles that may call it",
        ))),
    );
    // Every operation a token may call, a session of the same roles may too.
    for item in api.paths.paths.values_mut() {
        for op in operations(item) {
            let Some(requirements) = op.security.as_mut() else {
                continue;
            };
            let roles: Vec<String> = serde_json::to_value(&*requirements)
                .ok()
                .and_then(|v| v.get(0)?.get("token").cloned())
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default();
            requirements.push(SecurityRequirement::new("session", roles));
        }
    }
    api
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn header(name: &'static str, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(
        HeaderName::from_static(name),
        HeaderValue::from_static(value),
    )
}

/// The whole application: the API's routes, `/openapi.json`, the limits
/// and the security headers.
pub fn router(state: AppState) -> Router {
    let (router, _) = routes().split_for_parts();
    let document = serde_json::to_string(&openapi()).unwrap_or_default();
    router
        .merge(pages::routes())
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let document = document.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], document) }
            }),
        )
        .fallback(|| async {
            Problem::not_found("no such route: see /openapi.json for the routes this server has")
        })
        .layer(axum::middleware::from_fn_with_state(state.clone(), hsts))
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(header("x-content-type-options", "nosniff"))
        .layer(header("x-frame-options", "DENY"))
        .layer(header(
            "content-security-policy",
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ))
        .layer(header("referrer-policy", "same-origin"))
        .layer(header("cache-control", "no-store"))
}

/// Adds `Strict-Transport-Security` to the answers of requests that came
/// over TLS, as a trusted proxy says with `X-Forwarded-Proto: https` (the
/// server itself speaks plain HTTP, behind such a proxy).
async fn hsts(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let over_tls = peer.is_some_and(|p| state.proxies.contains(&p))
        && request
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    let mut response = next.run(request).await;
    if over_tls {
        response.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

/// A server: the engines, the tokens, the audit log and the clock.
#[derive(Debug)]
pub struct Server {
    state: AppState,
}

impl Server {
    /// A server over `programmes` on the system clock.
    pub fn new(programmes: Box<dyn Programmes>, tokens: Tokens, audit: Audit) -> Server {
        Server::with_clock(programmes, tokens, audit, Arc::new(Utc::now))
    }

    /// A server whose `now` is `clock` (tests, replays).
    pub fn with_clock(
        programmes: Box<dyn Programmes>,
        tokens: Tokens,
        audit: Audit,
        clock: Clock,
    ) -> Server {
        let programmes = Arc::new(Mutex::new(programmes));
        Server {
            state: AppState {
                committer: commit::Committer::start(Arc::clone(&programmes), commit::GROUP),
                programmes,
                references: Arc::new(Mutex::new(Box::new(MemoryReferences::default()))),
                tokens: Arc::new(tokens),
                records: Arc::new(Mutex::new(Accounts::new(Box::new(MemoryRecords::new())))),
                mailer: None,
                proxies: Arc::new(Vec::new()),
                featured: Arc::new(Vec::new()),
                audit: Arc::new(audit),
                clock,
            },
        }
    }

    /// The same, keeping accounts, sessions and throttles in `records`
    /// (by default they are kept in memory, and lost when it stops).
    pub fn with_records(mut self, records: Box<dyn RecordStore>) -> Server {
        self.state.records = Arc::new(Mutex::new(Accounts::new(records)));
        self
    }

    /// The same, sending sign-in codes through `mailer` (without one,
    /// applicants cannot sign in by e-mail).
    pub fn with_mailer(mut self, mailer: impl Mailer + 'static) -> Server {
        self.state.mailer = Some(Arc::new(mailer));
        self
    }

    /// The same, keeping the references applications are submitted under
    /// in `references` (by default in memory).
    pub fn with_references(mut self, references: Box<dyn References>) -> Server {
        self.state.references = Arc::new(Mutex::new(references));
        self
    }

    /// The same, committing at most `size` commands in one transaction
    /// (256 by default; 1 commits each command alone).
    pub fn group_commit(mut self, size: usize) -> Server {
        self.state.committer = commit::Committer::start(Arc::clone(&self.state.programmes), size);
        self
    }

    /// The same, listing these programmes on the home page (`/`).
    pub fn featuring(mut self, programmes: Vec<grantflow_core::ProgrammeId>) -> Server {
        self.state.featured = Arc::new(programmes);
        self
    }

    /// The same, trusting `X-Forwarded-For` and `X-Forwarded-Proto` from
    /// these proxies' addresses (and from nobody else).
    pub fn trusting(mut self, proxies: Vec<IpAddr>) -> Server {
        self.state.proxies = Arc::new(proxies);
        self
    }

    /// The application, for embedding in another axum server.
    pub fn router(&self) -> Router {
        router(self.state.clone())
    }

    /// Serves on `listener` until `shutdown` completes.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        sign_in::warm();
        axum::serve(
            listener,
            self.router()
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }

    /// Serves on `listener` on a runtime of its own until Ctrl-C.
    pub fn serve_blocking(&self, listener: std::net::TcpListener) -> std::io::Result<()> {
        listener.set_nonblocking(true)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            self.serve(listener, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
        })
    }
}
