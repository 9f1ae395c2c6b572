//! Crash tests' bookkeeping: a writing child process reports each command
//! its store acknowledged ([`acknowledge`]) on a pipe, the parent reads the
//! reports back ([`read_acks`]) and, after killing the child, checks that
//! every one is in the log whole ([`check_acknowledged`]).

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::mpsc::Sender;

use grantflow_core::CommandId;
use grantflow_core::Outcome;
use grantflow_core::Recorded;

/// Tells the parent, before going on, that the store acknowledged `id`
/// with these events: a line `ACK <id> <first version> <events>` written to
/// the process's stdout directly (a test harness captures only `print!`),
/// after a line end of its own: the harness leaves its `test name ... `
/// line open while the test runs.
pub fn acknowledge(id: CommandId, outcome: &Outcome) {
    let events = outcome.events();
    let Some(first) = events.first() else {
        return;
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "\nACK {id} {} {}", first.version, events.len()).expect("the pipe to the parent");
    out.flush().expect("the pipe to the parent");
}

/// A command the child saw acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// The line as the child wrote it.
    pub line: String,
    /// The command's id, as written.
    pub id: String,
    /// The version of its first event.
    pub first_version: u64,
    /// How many events it recorded.
    pub events: usize,
}

/// Sends each acknowledgement read from `from` (the child's stdout) until it
/// ends; other lines (the harness's) and lines cut short by a kill are
/// passed over.
pub fn read_acks(from: impl Read, to: Sender<Ack>) {
    for line in BufReader::new(from).lines() {
        let Ok(line) = line else { return };
        let mut words = line.split(' ');
        if words.next() != Some("ACK") {
            continue;
        }
        let (Some(id), Some(first), Some(events)) = (words.next(), words.next(), words.next())
        else {
            continue;
        };
        let (Ok(first_version), Ok(events)) = (first.parse(), events.parse()) else {
            continue;
        };
        let ack = Ack {
            id: id.to_string(),
            first_version,
            events,
            line: line.clone(),
        };
        if to.send(ack).is_err() {
            return;
        }
    }
}

/// Every acknowledged command is in `log` whole: its events sit at the
/// versions it was acknowledged at, all of them its own, and no event of
/// it follows them.
pub fn check_acknowledged(log: &[Recorded], acks: &[Ack]) -> Result<(), String> {
    for ack in acks {
        let from = usize::try_from(ack.first_version)
            .ok()
            .and_then(|v| v.checked_sub(1))
            .ok_or_else(|| format!("acknowledged at no version ({})", ack.line))?;
        let Some(held) = log.get(from..from + ack.events) else {
            return Err(format!(
                "acknowledged command lost ({}): the log holds {} events",
                ack.line,
                log.len()
            ));
        };
        if !held.iter().all(|r| r.event.command.to_string() == ack.id) {
            return Err(format!(
                "the versions of an acknowledged command hold another's events ({})",
                ack.line
            ));
        }
        if log
            .get(from + ack.events)
            .is_some_and(|r| r.event.command.to_string() == ack.id)
        {
            return Err(format!(
                "an acknowledged command has more events than acknowledged ({})",
                ack.line
            ));
        }
    }
    Ok(())
}
