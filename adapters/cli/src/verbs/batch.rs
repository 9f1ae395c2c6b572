//! `grantflow run`: a JSONL file of commands, each run at its own time.

use std::path::Path;

use chrono::{DateTime, Utc};
use grantflow_core::{Action, Command, Outcome};
use serde_json::{Value, json};

use super::output::pretty;
use crate::error::{CliError, CliResult};
use crate::input;
use crate::session::Session;

pub(super) fn run_file(
    db: &str,
    programme: Option<&str>,
    file: &Path,
    now: Option<&str>,
    json: bool,
) -> CliResult<()> {
    let mut lines = input::command_lines(file)?;
    let default_now = input::now_or_clock(now)?;
    if lines.is_empty() {
        return Err(CliError::usage(format!(
            "`{}` holds no commands",
            file.display()
        )));
    }
    // The stream: --programme, else the programme an `open` line brings, else the only one.
    let opened = lines.iter().find_map(|l| match &l.command.action {
        Action::Open { programme } => Some(programme.id.clone()),
        _ => None,
    });
    let target = programme.map(str::to_string).or(opened.clone());
    let mut s = Session::open_any(db, target.as_deref())?;
    let stream = s.programme().to_string();
    for l in &mut lines {
        if let Action::Open { programme } = &mut l.command.action {
            programme.id = stream.clone();
        }
    }
    if opened.is_none() && s.state().programme().is_none() {
        return Err(CliError::usage(format!(
            "programme `{stream}` is not initialised: run `grantflow init` or start the file with an `open` command"
        )));
    }
    let refs: Vec<_> = lines.iter().filter_map(|l| l.reference.clone()).collect();
    s.remember(&refs)?;
    let commands: Vec<(Command, DateTime<Utc>)> = lines
        .iter()
        .map(|l| (l.command.clone(), l.now.unwrap_or(default_now)))
        .collect();
    let db_name = s.db.clone();
    let results = s
        .engine
        .execute_many(&commands)
        .map_err(|e| CliError::engine(&db_name, e))?;
    if opened.is_some() && s.state().programme().is_some() {
        s.add_programme()?;
    }
    let mut rejected = 0usize;
    let mut out = Vec::new();
    for (l, r) in lines.iter().zip(results) {
        match r {
            Ok(o) => {
                let kind = if matches!(o, Outcome::Duplicate { .. }) {
                    "duplicate"
                } else {
                    "applied"
                };
                if json {
                    out.push(json!({"line": l.line, "command_id": l.command.id, "command": l.command.action.name(), "outcome": kind, "events": o.events()}));
                } else {
                    let names: Vec<&str> = o.events().iter().map(|e| e.event.kind.name()).collect();
                    outln!(
                        "line {}: {} {} ({} event(s){}{})",
                        l.line,
                        l.command.action.name(),
                        kind,
                        names.len(),
                        if names.is_empty() { "" } else { ": " },
                        names.join(", ")
                    );
                }
            }
            Err(rej) => {
                rejected += 1;
                if json {
                    out.push(json!({"line": l.line, "command_id": l.command.id, "command": l.command.action.name(), "outcome": "rejected", "code": rej.code, "message": rej.message}));
                } else {
                    outln!(
                        "line {}: {} rejected ({}): {}",
                        l.line,
                        l.command.action.name(),
                        rej.code,
                        rej.message
                    );
                }
            }
        }
    }
    if json {
        outln!("{}", pretty(&Value::Array(out)));
    }
    if rejected > 0 {
        return Err(CliError::refused(format!(
            "{rejected} of {} command(s) in `{}` were rejected; the others were applied",
            lines.len(),
            file.display()
        ))
        .after_output());
    }
    Ok(())
}
