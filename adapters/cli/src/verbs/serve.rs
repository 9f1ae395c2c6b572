//! `grantflow serve` (the HTTP frontend over the same database),
//! `grantflow token add` (the service tokens it accepts) and `grantflow
//! user add` (the staff accounts people sign in with).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use grantflow_email::{EmailConfig, EmailNotifier, Security};
use grantflow_http::{Accounts, Audit, Email, Engines, Role, Server, Tokens};

use crate::error::{CliError, CliResult, redact};
use crate::store;

/// How `serve` was asked to run.
#[derive(Debug)]
pub(super) struct Options {
    pub addr: String,
    pub tokens: PathBuf,
    pub audit: Option<PathBuf>,
    pub smtp: Option<String>,
    pub smtp_security: String,
    pub mail_from: String,
    pub trusted_proxies: Vec<IpAddr>,
}

/// The references applications are submitted under over HTTP, kept in the
/// database's reference table, as the CLI keeps its own.
struct StoredReferences(store::Backend);

impl grantflow_http::References for StoredReferences {
    fn remember(
        &mut self,
        programme: &grantflow_core::ProgrammeId,
        id: grantflow_core::ApplicationId,
        reference: &str,
    ) -> Result<(), grantflow_core::StoreError> {
        self.0
            .add_references(programme.as_str(), &[(id, reference.to_string())])
            .map_err(|e| grantflow_core::StoreError::Unavailable { detail: e.message })
    }

    fn all(
        &mut self,
        programme: &grantflow_core::ProgrammeId,
    ) -> Result<
        std::collections::HashMap<grantflow_core::ApplicationId, String>,
        grantflow_core::StoreError,
    > {
        self.0
            .references(programme.as_str())
            .map_err(|e| grantflow_core::StoreError::Unavailable { detail: e.message })
    }
}

/// The SMTP client sign-in codes go through.
fn mailer(smtp: &str, security: &str, from: &str) -> CliResult<EmailNotifier> {
    let (host, port) = smtp
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
        .ok_or_else(|| {
            CliError::usage(format!(
                "--smtp `{smtp}` is not HOST:PORT (e.g. mail.example.org:587)"
            ))
        })?;
    let mut config = EmailConfig::new(host, port, from);
    config.security = match security {
        "tls" => Security::Tls,
        "none" => Security::None,
        _ => Security::StartTls,
    };
    EmailNotifier::new(config).map_err(|e| CliError::usage(format!("--smtp: {e}")))
}

/// Serves the JSON API on `addr` until Ctrl-C, with the outbox
/// dispatcher delivering notices (to standard output) in the background.
pub(super) fn serve(db: &str, options: &Options) -> CliResult<()> {
    let (addr, tokens, audit) = (
        options.addr.as_str(),
        options.tokens.as_path(),
        options.audit.as_deref(),
    );
    if db == "memory:" {
        return Err(CliError::usage(
            "`serve` needs a database that outlives one request: give --db a SQLite file or a postgres:// URL",
        ));
    }
    let tokens_file = Tokens::load(tokens).map_err(|e| CliError::usage(e.to_string()))?;
    let audit = match audit {
        Some(path) => Audit::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| CliError::usage(format!("audit log `{}`: {e}", path.display())))?,
        ),
        None => Audit::new(std::io::stderr()),
    };
    // Opened once now, so that a bad --db is said before the port is taken.
    store::open(db)?;
    let records = store::records(db)?;
    let mailer = options
        .smtp
        .as_deref()
        .map(|smtp| mailer(smtp, &options.smtp_security, &options.mail_from))
        .transpose()?;
    let opener_db = db.to_string();
    let engines = Engines::new(move || {
        store::open(&opener_db).map_err(|e| grantflow_core::StoreError::Unavailable {
            detail: e.to_string(),
        })
    });
    let listener = std::net::TcpListener::bind(addr).map_err(|e| {
        CliError::usage(format!(
            "cannot listen on {addr} ({e}): choose another --addr"
        ))
    })?;

    let dispatcher_store = store::open(db)?;
    let shutdown = grantflow_dispatch::Shutdown::new();
    let mut dispatcher = grantflow_dispatch::Dispatcher::new(
        dispatcher_store,
        grantflow_dispatch::LogNotifier::stdout(),
        grantflow_dispatch::DispatchConfig::default(),
    )
    .map_err(|e| CliError::usage(format!("cannot start the notice dispatcher: {e}")))?;
    let stop = shutdown.clone();
    let delivering = std::thread::spawn(move || dispatcher.run(&stop));

    eprintln!(
        "grantflow serve: http://{addr} over {} (API document at /openapi.json); Ctrl-C stops",
        redact(db)
    );
    let mut server = Server::new(Box::new(engines), tokens_file, audit)
        .with_records(records)
        .with_references(Box::new(StoredReferences(store::open(db)?)))
        .featuring(
            store::open(db)?
                .programmes()?
                .iter()
                .map(grantflow_core::ProgrammeId::new)
                .collect(),
        )
        .trusting(options.trusted_proxies.clone());
    if let Some(notifier) = mailer {
        server = server.with_mailer(move |to: &Email, subject: &str, body: &str| {
            notifier
                .send_text(to.as_str(), subject, body)
                .map_err(|e| e.to_string())
        });
    } else {
        eprintln!(
            "grantflow serve: no --smtp, so applicants cannot sign in by e-mail (staff sign in with a password and second factor)"
        );
    }
    let served = server.serve_blocking(listener);
    shutdown.trigger();
    let delivered = delivering.join();
    served.map_err(|e| CliError::usage(format!("the server stopped: {e}")))?;
    match delivered {
        Ok(Ok(report)) => {
            eprintln!(
                "grantflow serve: stopped; {} notice(s) delivered",
                report.delivered
            );
            Ok(())
        }
        Ok(Err(e)) => Err(CliError::usage(format!(
            "the notice dispatcher stopped: {e}"
        ))),
        Err(_) => Err(CliError::usage("the notice dispatcher failed")),
    }
}

/// Makes a service token and prints its secret once.
pub(super) fn token_add(
    tokens: &Path,
    name: &str,
    role: &str,
    email: Option<&str>,
) -> CliResult<()> {
    let role: Role = role
        .parse()
        .map_err(|e: grantflow_http::UnknownRole| CliError::usage(e.to_string()))?;
    let secret =
        Tokens::add(tokens, name, role, email).map_err(|e| CliError::usage(e.to_string()))?;
    outln!("{secret}");
    eprintln!(
        "token `{name}` ({role}) added to {}: the secret above is shown once and kept nowhere; send it as `Authorization: Bearer <secret>`",
        tokens.display()
    );
    Ok(())
}

/// Makes a staff account and prints its one-time setup link.
pub(super) fn user_add(db: &str, email: &str, role: &str, base_url: &str) -> CliResult<()> {
    let role: Role = role
        .parse()
        .map_err(|e: grantflow_http::UnknownRole| CliError::usage(e.to_string()))?;
    let email = Email::parse(email).map_err(|e| CliError::usage(e.to_string()))?;
    let mut accounts = Accounts::new(store::records(db)?);
    let secret = grantflow_http::invite(&mut accounts, &email, role, chrono::Utc::now())
        .map_err(|e| CliError::usage(e.to_string()))?;
    outln!(
        "{}/account/setup?token={secret}",
        base_url.trim_end_matches('/')
    );
    eprintln!(
        "account {email} ({role}) made: give its owner the link above (it works once, for 3 days); opened in a browser on the running server, it asks for a password and shows the second factor to add to an authenticator app (over the API, POST the token to /account/setup and then /account/setup/confirm)"
    );
    Ok(())
}
