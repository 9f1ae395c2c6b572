//! # grantflow — the command line
//!
//! The composition root of grantflow: it opens an event store (a SQLite file
//! by default, PostgreSQL for a `postgres://` URL), runs the core's
//! [`Engine`](grantflow_core::Engine) over it and prints what happened.
//!
//! Key types:
//! - [`cli::Cli`] and [`cli::Verb`] — the verbs and their flags (clap).
//! - [`session::Session`] — one programme's engine over a [`store::Backend`],
//!   with the CLI's own tables (programmes, application references).
//! - [`error::CliError`] — a one-line message and the exit code: 0 success,
//!   1 a command the programme refused, 2 bad usage, input or database.
//! - [`input`] — times, amounts, application JSON/CSV and JSONL command files.
//! - [`report`], [`schema`] — tables and the JSON Schemas of the wire
//!   formats (the 360Giving and CSV exports are `grantflow-export`'s).
//! - [`demo`] — a seeded 600-applicant run of the 2020 programme.
//!
//! Run `grantflow --help` for the verbs and examples.
#![forbid(unsafe_code)]

// Simulations and the demo allocate and free many small objects; mimalloc
// handles that markedly better than the system allocator (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `println!` that ignores a closed standard output (e.g. `grantflow status | head`).
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// `print!` that ignores a closed standard output.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($t)*);
    }};
}

mod cli;
mod demo;
mod error;
mod input;
mod report;
mod schema;
mod session;
mod store;
mod verbs;

use std::process::ExitCode;

/// Whether the command line asks for JSON, read before clap has parsed it
/// (so that a usage error is JSON too): `--json` before any `--`.
fn wants_json() -> bool {
    std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json")
}

/// The verb the command line names, if any (for the help a usage error
/// points to).
fn verb_named() -> Option<String> {
    use clap::CommandFactory as _;
    let command = cli::Cli::command();
    let verbs: Vec<&str> = command.get_subcommands().map(|c| c.get_name()).collect();
    std::env::args_os()
        .skip(1)
        .find_map(|a| verbs.iter().find(|v| a == **v).map(|v| (*v).to_string()))
}

/// The JSON of a failure, one shape for all: `outcome` (`rejected` or
/// `error`), `code` (the rejection's, or the error's kind) and `message`; a
/// rejection adds its `subject`, an error that sums up several problems its
/// `errors`.
fn error_json(e: &error::CliError) -> serde_json::Value {
    let mut body = match &e.rejection {
        Some(r) => {
            serde_json::json!({"outcome": "rejected", "code": r.code, "message": r.message, "subject": r.subject})
        }
        None => serde_json::json!({"outcome": "error", "code": e.kind, "message": e.message}),
    };
    if !e.details.is_empty() {
        body["errors"] = serde_json::json!(e.details);
    }
    body
}

/// Parses the command line, noting whether `--db` was given on it (rather
/// than by `GRANTFLOW_DB`), so that a verb that uses no database can refuse it.
fn parse() -> Result<cli::Cli, clap::Error> {
    use clap::{CommandFactory as _, FromArgMatches as _};
    let matches = cli::Cli::command().try_get_matches()?;
    let mut parsed = cli::Cli::from_arg_matches(&matches)?;
    parsed.db_given = matches.value_source("db") == Some(clap::parser::ValueSource::CommandLine);
    Ok(parsed)
}

fn main() -> ExitCode {
    let parsed = match parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    ExitCode::from(error::EXIT_USAGE)
                } else {
                    ExitCode::SUCCESS
                };
            }
            let e = error::clap_usage(&e, verb_named().as_deref());
            if wants_json() {
                outln!("{}", error_json(&e));
            }
            eprintln!("error: {}", e.message);
            return ExitCode::from(e.code);
        }
    };
    let json = parsed.json;
    match verbs::run(parsed) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json && !e.printed {
                outln!("{}", error_json(&e));
            }
            eprintln!("error: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}
