//! [`Audit`]: one JSON line for every command a caller sends (applied,
//! repeated or refused), with who sent it, and for every sign-in, failure
//! and lockout, written before the response.

use std::io::Write;
use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, Utc};
use grantflow_accounts::SignInEvent;
use grantflow_core::CommandId;
use serde_json::json;

use crate::roles::Role;

/// One audit record.
#[derive(Debug)]
pub struct Record<'a> {
    pub at: DateTime<Utc>,
    /// The token's name, or `anonymous`.
    pub who: &'a str,
    pub role: Role,
    /// The route's name, e.g. `claim`.
    pub route: &'static str,
    /// The programme, for a programme's route.
    pub programme: Option<&'a str>,
    /// The command id and kind, for a command.
    pub command: Option<(CommandId, &'static str)>,
    /// `applied`, `duplicate` or `refused`.
    pub outcome: &'static str,
}

/// Where audit lines go (a file opened for appending, or standard error).
pub struct Audit(Mutex<Box<dyn Write + Send>>);

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Audit")
    }
}

impl Audit {
    /// An audit log writing to `out`.
    pub fn new(out: impl Write + Send + 'static) -> Audit {
        Audit(Mutex::new(Box::new(out)))
    }

    /// Writes one record as a line of JSON. A failing audit write is
    /// reported on standard error; it does not undo the change.
    pub fn write(&self, r: &Record<'_>) {
        self.line(json!({
            "at": r.at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "who": r.who,
            "role": r.role.as_str(),
            "route": r.route,
            "programme": r.programme,
            "command_id": r.command.map(|(id, _)| id.to_string()),
            "command": r.command.map(|(_, kind)| kind),
            "outcome": r.outcome,
        }));
    }

    /// Writes a sign-in event (`route` is `sign_in`).
    pub fn sign_in(&self, e: &SignInEvent) {
        self.line(json!({
            "at": e.at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "route": "sign_in",
            "who": e.email,
            "method": e.method,
            "outcome": e.outcome,
            "source": e.source,
        }));
    }

    fn line(&self, line: serde_json::Value) {
        let written = match self.0.lock() {
            Ok(mut out) => writeln!(out, "{line}").and_then(|()| out.flush()),
            Err(_) => Err(std::io::Error::other("the audit log's lock was poisoned")),
        };
        if let Err(e) = written {
            eprintln!("grantflow serve: could not write the audit log ({e}): {line}");
        }
    }
}
