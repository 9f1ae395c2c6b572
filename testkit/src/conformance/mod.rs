//! The store conformance suite: one set of checks that every
//! [`EventStore`] + [`Outbox`] must pass, written once and run against the
//! in-memory, SQLite and PostgreSQL stores.
//!
//! - [`run_full_suite`] runs all of it: every check below, the reopen
//!   check and the racing writers;
//! - [`run_all`] runs every check on stores made by a `fresh` closure;
//! - [`run_all_with_reopen`] also closes and reopens a store (a `reopen`
//!   closure) to check that streams, snapshots, the outbox and command
//!   idempotency survive a restart (including a command from before the
//!   snapshot, which the store answers for through
//!   [`EventStore::command_records`]);
//! - [`check_racing_writers`] has several threads, each on its own handle
//!   to one store (an `another` closure), submit, accept and withdraw
//!   against one small pot: no overspend at any version, no gap, no lost
//!   or doubled command;
//! - each check is also a public function (`check_*`) returning a
//!   [`Failure`] instead of panicking, so an adapter can run one alone;
//! - [`RawRows`] is the one thing the suite needs beyond the ports: a
//!   closure writing a stored event row as given, to plant an event of an
//!   old schema version ([`memory_raw`] for the in-memory store);
//! - [`fixtures`] builds programmes, applicants and commands for tests.
//!
//! The checks live in one module per concern (`streams`, `idempotency`,
//! `snapshots`, `outbox`, `upcasting`, `group_commit`, `reopen`, `racing`), all
//! written with the shorthands of `harness` and the data of [`fixtures`];
//! `run` calls them in turn, and this module re-exports every public
//! function, so each keeps its path `conformance::check_*`.
//!
//! Every check uses its own programme id ([`programme_id`]), so a `fresh`
//! store may share its database with others; the outbox checks need a
//! store whose outbox holds nothing else (a new file, a new schema).
//!
//! ```
//! use grantflow_core::InMemoryStore;
//! use grantflow_testkit::conformance::{memory_raw, run_full_suite};
//!
//! let passed = run_full_suite(InMemoryStore::new, |s| s, |s| s.clone(), memory_raw).unwrap();
//! assert_eq!(passed, 13);
//! ```
//!
//! [`Outbox`]: grantflow_core::Outbox

pub mod acknowledged;
pub use grantflow_core::fixtures;

mod group_commit;
mod harness;
mod idempotency;
mod outbox;
mod racing;
mod reopen;
mod run;
mod snapshots;
mod streams;
mod upcasting;

pub use group_commit::check_group_commit;
pub use idempotency::{check_command_records, check_idempotency, check_idempotency_from_snapshot};
pub use outbox::{check_engine_notices, check_outbox};
pub use racing::{WRITERS, check_racing_writers, race_writer};
pub use reopen::check_reopen;
pub use run::{assert_conformance, run_all, run_all_with_reopen, run_full_suite};
pub use snapshots::check_snapshots;
pub use streams::{check_append_and_load, check_conflicts, check_paging};
pub use upcasting::check_upcasting;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use grantflow_core::Event;
use grantflow_core::InMemoryStore;
use grantflow_core::ProgrammeId;
use grantflow_core::{EventStore, StoreError};

/// A check that did not pass: which one and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The check's name, e.g. `append_and_load`.
    pub check: &'static str,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "conformance check `{}` failed: {}",
            self.check, self.message
        )
    }
}

impl std::error::Error for Failure {}

/// Writes stored event rows exactly as given, bypassing the encoder: how
/// the suite plants an event written by an older grantflow. Called with the
/// store, the programme, the expected version and the rows' JSON; returns the
/// new version. A store must still decode such rows with [`Event::from_json`]
/// when it loads them. Adapters pass a closure over their raw import method.
pub trait RawRows<S>:
    FnMut(&mut S, &ProgrammeId, u64, &[String]) -> Result<u64, StoreError>
{
}

impl<S, F: FnMut(&mut S, &ProgrammeId, u64, &[String]) -> Result<u64, StoreError>> RawRows<S>
    for F
{
}

/// [`RawRows`] for the [`InMemoryStore`]: it keeps decoded events, so rows
/// are decoded (and upcast) as they are written.
pub fn memory_raw(
    store: &mut InMemoryStore,
    programme: &ProgrammeId,
    expected: u64,
    rows: &[String],
) -> Result<u64, StoreError> {
    let mut events = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let event = Event::from_json(row).map_err(|e| StoreError::Corrupt {
            programme: programme.clone(),
            version: expected + i as u64 + 1,
            detail: e.to_string(),
        })?;
        events.push(event);
    }
    store.append(programme, expected, &events, &[])
}

/// A programme id no other check (in this process) uses: `conf-<tag>-<pid>-<n>`.
pub fn programme_id(tag: &str) -> ProgrammeId {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    ProgrammeId::new(format!("conf-{tag}-{}-{n}", std::process::id()))
}
