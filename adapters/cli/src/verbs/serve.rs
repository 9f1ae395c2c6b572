//! `grantflow serve` (the HTTP frontend over the same database) and
//! `grantflow token add` (the service tokens it accepts).

use std::path::Path;

use grantflow_http::{Audit, Engines, Role, Server, Tokens};

use crate::error::{CliError, CliResult, redact};
use crate::store;

/// Serves the JSON API on `addr` until Ctrl-C, with the outbox
/// dispatcher delivering notices (to standard output) in the background.
pub(super) fn serve(db: &str, addr: &str, tokens: &Path, audit: Option<&Path>) -> CliResult<()> {
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
    let served = Server::new(Box::new(engines), tokens_file, audit).serve_blocking(listener);
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
        .map_err(|e: grantflow_http::TokensError| CliError::usage(e.to_string()))?;
    let secret =
        Tokens::add(tokens, name, role, email).map_err(|e| CliError::usage(e.to_string()))?;
    outln!("{secret}");
    eprintln!(
        "token `{name}` ({role}) added to {}: the secret above is shown once and kept nowhere; send it as `Authorization: Bearer <secret>`",
        tokens.display()
    );
    Ok(())
}
