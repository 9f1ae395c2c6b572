//! What the verbs print: [`pretty`] JSON, text written to a file or standard
//! output, and a command's outcome as a table or JSON.

use std::io::Write;
use std::path::Path;

use grantflow_core::{Command, Outcome};
use serde_json::{Value, json};

use crate::error::{CliError, CliResult};
use crate::report::{self, Refs};

/// Pretty JSON text.
pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

pub(super) fn write_output(path: Option<&Path>, text: &str) -> CliResult<()> {
    match path {
        Some(p) => std::fs::write(p, text).map_err(|e| {
            CliError::usage(format!(
                "cannot write `{}`: {e}; check the directory exists and is writable",
                p.display()
            ))
        }),
        None => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            if !text.ends_with('\n') {
                let _ = out.write_all(b"\n");
            }
            Ok(())
        }
    }
}

/// Prints a command's outcome.
pub(super) fn print_outcome(refs: &Refs, command: &Command, outcome: &Outcome, json: bool) {
    if json {
        let mut v = serde_json::to_value(outcome).unwrap_or(Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.insert("command_id".into(), json!(command.id));
            o.insert("command".into(), json!(command.action.name()));
        }
        outln!("{}", pretty(&v));
        return;
    }
    match outcome {
        Outcome::Applied { events, .. } if events.is_empty() => {
            outln!("{}: nothing to do", command.action.name())
        }
        Outcome::Applied { events, .. } => outln!("{}", report::events_table(refs, events)),
        Outcome::Duplicate { events } => {
            outln!(
                "command {} was applied before; nothing changed. It recorded:",
                command.id
            );
            outln!("{}", report::events_table(refs, events));
        }
    }
}
