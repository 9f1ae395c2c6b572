//! [`CliError`]: what went wrong, as one line, with the exit code it maps to.

use std::fmt;

use grantflow_core::{EngineError, Rejection, StoreError};

/// Exit code of a command the programme refused (a domain rejection).
pub const EXIT_REJECTED: u8 = 1;
/// Exit code of bad usage, bad input, or a database that cannot be used.
pub const EXIT_USAGE: u8 = 2;

/// A failure of one invocation: a one-line message and an exit code.
#[derive(Debug, Clone)]
pub struct CliError {
    /// 1 for a rejected command, 2 for bad usage, input or storage.
    pub code: u8,
    /// What is wrong and what to do, on one line.
    pub message: String,
    /// The domain rejection, when there is one (printed as JSON with `--json`).
    pub rejection: Option<Box<Rejection>>,
    /// The verb already printed its JSON result: `--json` adds nothing more.
    pub printed: bool,
    /// The error's stable code for `--json` (a rejection gives its own):
    /// `bad_usage` (the command line), `bad_input` (a file, a value, a
    /// state of the database that is not right for the command), `database`
    /// (the store failed) or `refused` (a "no" that is not a rejection).
    pub kind: &'static str,
    /// Each problem, when the message sums up several (e.g. the bad rows of
    /// a CSV file); `--json` lists them as `errors`.
    pub details: Vec<String>,
}

impl From<grantflow_export::ExportError> for CliError {
    fn from(e: grantflow_export::ExportError) -> CliError {
        match e {
            grantflow_export::ExportError::NothingToPublish => CliError::refused(e.to_string()),
            other => CliError::usage(other.to_string()),
        }
    }
}

impl CliError {
    /// Bad usage or input (exit code 2).
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError {
            code: EXIT_USAGE,
            message: one_line(&message.into()),
            rejection: None,
            printed: false,
            kind: "bad_input",
            details: Vec::new(),
        }
    }

    /// A command the programme refused (exit code 1).
    pub fn rejected(r: Rejection) -> CliError {
        CliError {
            code: EXIT_REJECTED,
            message: one_line(&format!("rejected ({}): {}", r.code, r.message)),
            rejection: Some(Box::new(r)),
            printed: false,
            kind: "rejected",
            details: Vec::new(),
        }
    }

    /// A refusal that is not a domain rejection but still a "no" (exit code 1).
    pub fn refused(message: impl Into<String>) -> CliError {
        CliError {
            code: EXIT_REJECTED,
            message: one_line(&message.into()),
            rejection: None,
            printed: false,
            kind: "refused",
            details: Vec::new(),
        }
    }

    /// The store failed: reported with advice, exit code 2.
    pub fn store(db: &str, e: &StoreError) -> CliError {
        let advice = match e {
            StoreError::Unavailable { .. } => {
                "check that the database exists and is reachable, and that no other process holds a lock on it, then try again"
            }
            StoreError::Conflict { .. } => {
                "another writer changed the programme at the same time: run the command again"
            }
            StoreError::SchemaTooNew { .. } => "use a newer grantflow to open this database",
            StoreError::Corrupt { .. } => {
                "restore the database from a backup; grantflow never edits recorded events"
            }
            StoreError::UnknownNotice(_) => {
                "list the outbox with `grantflow outbox` to see the notices it holds"
            }
            // A backend failure, or a kind a newer core adds.
            _ => "check the database and try again",
        };
        CliError::usage(format!("database `{}`: {e}; {advice}", redact(db))).database()
    }

    /// An engine failure: rejections exit 1, everything else 2.
    pub fn engine(db: &str, e: EngineError) -> CliError {
        match e {
            EngineError::Rejected(r) => CliError::rejected(r),
            EngineError::Store(s) => CliError::store(db, &s),
            other => CliError::usage(format!("database `{}`: {other}", redact(db))).database(),
        }
    }
}

impl CliError {
    /// The error as one of the database (`database` in `--json`).
    pub fn database(mut self) -> CliError {
        self.kind = "database";
        self
    }

    /// The error with the problems its message sums up.
    pub fn with_details(mut self, details: Vec<String>) -> CliError {
        self.details = details;
        self
    }

    /// Marks the error as one whose JSON result was printed already.
    pub fn after_output(mut self) -> CliError {
        self.printed = true;
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A usage error clap found, on one line with everything clap said: the
/// problem, the argument names, its tips and the usage line, then where the
/// verb's help is (`see `grantflow accept --help``; `verb` when clap's usage
/// line does not say).
pub fn clap_usage(e: &clap::Error, verb: Option<&str>) -> CliError {
    let text = e.render().to_string();
    let mut said = String::new();
    let mut help = match verb {
        Some(v) => format!("grantflow {v} --help"),
        None => "grantflow --help".to_string(),
    };
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.starts_with("For more information") {
            continue;
        }
        let line = line.strip_prefix("error: ").unwrap_or(line);
        let part = match line.strip_prefix("Usage: ") {
            Some(usage) => {
                let mut words = usage.split_whitespace();
                if let (Some("grantflow"), Some(verb)) = (words.next(), words.next()) {
                    if !verb.starts_with(['-', '[', '<']) {
                        help = format!("grantflow {verb} --help");
                    }
                }
                format!("usage: {usage}")
            }
            None => line.to_string(),
        };
        if !said.is_empty() {
            said.push_str(if said.ends_with(':') { " " } else { "; " });
        }
        said.push_str(&part);
    }
    if said.is_empty() {
        said.push_str("bad usage");
    }
    let mut e = CliError::usage(format!("{said}; see `{help}`"));
    e.kind = "bad_usage";
    e
}

/// Collapses a message onto one line.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Hides a password in a database URL (`postgres://user:secret@host` → `postgres://user:***@host`).
pub fn redact(db: &str) -> String {
    if let Some((scheme, rest)) = db.split_once("://") {
        if let Some((auth, host)) = rest.rsplit_once('@') {
            if let Some((user, _)) = auth.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
            }
        }
    }
    db.to_string()
}

/// `Result` with a [`CliError`].
pub type CliResult<T> = Result<T, CliError>;
