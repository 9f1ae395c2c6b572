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
//! - [`Tokens`] — service tokens, stored as SHA-256 hashes with a role
//!   each (`grantflow token add`), and the [`Audit`] log of every command.
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
mod engines;
mod problem;
mod roles;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use chrono::{DateTime, Utc};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use audit::{Audit, Record};
pub use engines::{Engines, MAX_OPEN_PROGRAMMES, Opener, Programmes};
pub use problem::Problem;
pub use roles::{Caller, HasTokens, Role, TokenEntry, Tokens, TokensError};

/// The largest request body accepted.
pub const MAX_BODY: usize = 1024 * 1024;
/// How long a request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A clock: the server's `now` for every command.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    programmes: Arc<Mutex<Box<dyn Programmes>>>,
    tokens: Arc<Tokens>,
    audit: Arc<Audit>,
    clock: Clock,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl HasTokens for AppState {
    fn tokens(&self) -> &Tokens {
        &self.tokens
    }
}

impl AppState {
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
    api
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
            "default-src 'none'; frame-ancestors 'none'",
        ))
        .layer(header("referrer-policy", "no-referrer"))
        .layer(header("cache-control", "no-store"))
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
        Server {
            state: AppState {
                programmes: Arc::new(Mutex::new(programmes)),
                tokens: Arc::new(tokens),
                audit: Arc::new(audit),
                clock,
            },
        }
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
        axum::serve(listener, self.router())
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
