//! `grantflow run`: a JSONL file of commands, each run at its own time.

use std::path::Path;

use chrono::{DateTime, Utc};
use grantflow_core::{Action, Command, Outcome};
use serde_json::{Value, json};

use super::output::pretty;
use crate::error::{CliError, CliResult};
use crate::session::Session;
use crate::{input, report};

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
        // The command as the line named it: its verb and the application's reference.
        let application = l
            .command
            .action
            .application()
            .map(|id| report::label(&s.refs, &id));
        let what = match &application {
            Some(a) => format!("{} {a}", l.command.action.name()),
            None => l.command.action.name().to_string(),
        };
        let mut row = json!({"line": l.line, "id": l.given_id, "command_id": l.command.id, "command": l.command.action.name()});
        if let Some(a) = &application {
            row["application"] = json!(a);
        }
        match r {
            Ok(o) => {
                let kind = if matches!(o, Outcome::Duplicate { .. }) {
                    "duplicate"
                } else {
                    "applied"
                };
                if json {
                    row["outcome"] = json!(kind);
                    row["events"] = json!(o.events());
                    out.push(row);
                } else {
                    let names: Vec<&str> = o.events().iter().map(|e| e.event.kind.name()).collect();
                    outln!(
                        "line {}: {what} {} ({} event(s){}{})",
                        l.line,
                        kind,
                        names.len(),
                        if names.is_empty() { "" } else { ": " },
                        names.join(", ")
                    );
                }
            }
            Err(rej) => {
                rejected += 1;
                let rej = report::named_rejection(&rej, &s.refs);
                if json {
                    row["outcome"] = json!("rejected");
                    row["code"] = json!(rej.code);
                    row["message"] = json!(rej.message);
                    out.push(row);
                } else {
                    outln!(
                        "line {}: {what} rejected ({}): {}",
                        l.line,
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
        let others = if rejected == lines.len() {
            "nothing was applied"
        } else {
            "the others were applied"
        };
        return Err(CliError::refused(format!(
            "{rejected} of {} command(s) in `{}` were rejected; {others}",
            lines.len(),
            file.display()
        ))
        .after_output());
    }
    Ok(())
}
