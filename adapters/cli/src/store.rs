//! The composition root's storage: [`Backend`] picks the event store from
//! `--db` (a SQLite file by default, PostgreSQL for a `postgres://` URL,
//! `memory:` for a throw-away store), and [`Meta`] keeps what only the CLI
//! needs beside the events: which programmes were initialised through it and
//! the reference text callers gave their applications.
//!
//! The reference table is safe to write before a command runs: an
//! application id is derived from its reference (UUID v5), so a stored
//! pair is correct whether or not the submission is accepted.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use grantflow_core::ports::{OutboxEntry, Snapshot};
use grantflow_core::{
    ApplicationId, Event, EventStore, InMemoryStore, Notice, NoticeId, Outbox, ProgrammeId,
    Recorded, StoreError,
};

use crate::error::{CliError, CliResult};

/// The event store chosen by `--db`.
#[derive(Debug)]
pub enum Backend {
    /// A store that lives for one invocation (`--db memory:`).
    Memory(InMemoryStore),
}

macro_rules! delegate {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            Backend::Memory($s) => $call,
        }
    };
}

impl EventStore for Backend {
    fn load(
        &mut self,
        programme: &ProgrammeId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Recorded>, StoreError> {
        delegate!(self, s => s.load(programme, after, limit))
    }
    fn version(&mut self, programme: &ProgrammeId) -> Result<u64, StoreError> {
        delegate!(self, s => s.version(programme))
    }
    fn append(
        &mut self,
        programme: &ProgrammeId,
        expected: u64,
        events: &[Event],
        notices: &[Notice],
    ) -> Result<u64, StoreError> {
        delegate!(self, s => s.append(programme, expected, events, notices))
    }
    fn load_snapshot(&mut self, programme: &ProgrammeId) -> Result<Option<Snapshot>, StoreError> {
        delegate!(self, s => s.load_snapshot(programme))
    }
    fn save_snapshot(
        &mut self,
        programme: &ProgrammeId,
        snapshot: &Snapshot,
    ) -> Result<(), StoreError> {
        delegate!(self, s => s.save_snapshot(programme, snapshot))
    }
}

impl Outbox for Backend {
    fn claim(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        delegate!(self, s => s.claim(now, lease_until, limit))
    }
    fn acknowledge(&mut self, id: NoticeId) -> Result<(), StoreError> {
        delegate!(self, s => s.acknowledge(id))
    }
    fn retry_later(
        &mut self,
        id: NoticeId,
        next_attempt: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        delegate!(self, s => s.retry_later(id, next_attempt, error))
    }
    fn dead_letter(&mut self, id: NoticeId, error: &str) -> Result<(), StoreError> {
        delegate!(self, s => s.dead_letter(id, error))
    }
    fn dead_letters(&mut self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        delegate!(self, s => s.dead_letters(limit))
    }
    fn requeue(&mut self, id: NoticeId, now: DateTime<Utc>) -> Result<(), StoreError> {
        delegate!(self, s => s.requeue(id, now))
    }
}

/// What the CLI keeps beside the event stream.
pub trait Meta {
    /// The programmes initialised through the CLI, sorted.
    fn programmes(&mut self) -> CliResult<Vec<String>>;
    /// Records a programme.
    fn add_programme(&mut self, id: &str) -> CliResult<()>;
    /// The reference text of each application of `programme` that has one.
    fn references(&mut self, programme: &str) -> CliResult<HashMap<ApplicationId, String>>;
    /// Records reference texts (existing pairs are kept).
    fn add_references(
        &mut self,
        programme: &str,
        refs: &[(ApplicationId, String)],
    ) -> CliResult<()>;
}

/// [`Meta`] held in memory, for `--db memory:`.
#[derive(Debug, Default)]
pub struct MemoryMeta {
    programmes: Vec<String>,
    refs: BTreeMap<String, HashMap<ApplicationId, String>>,
}

impl Meta for MemoryMeta {
    fn programmes(&mut self) -> CliResult<Vec<String>> {
        Ok(self.programmes.clone())
    }
    fn add_programme(&mut self, id: &str) -> CliResult<()> {
        if !self.programmes.iter().any(|p| p == id) {
            self.programmes.push(id.to_string());
            self.programmes.sort();
        }
        Ok(())
    }
    fn references(&mut self, programme: &str) -> CliResult<HashMap<ApplicationId, String>> {
        Ok(self.refs.get(programme).cloned().unwrap_or_default())
    }
    fn add_references(
        &mut self,
        programme: &str,
        refs: &[(ApplicationId, String)],
    ) -> CliResult<()> {
        let m = self.refs.entry(programme.to_string()).or_default();
        for (id, r) in refs {
            m.entry(*id).or_insert_with(|| r.clone());
        }
        Ok(())
    }
}

/// Whether `--db` names a PostgreSQL database.
pub fn is_postgres(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// Opens the store and the CLI's tables named by `--db`.
pub fn open(db: &str) -> CliResult<(Backend, Box<dyn Meta>)> {
    if db == "memory:" {
        return Ok((
            Backend::Memory(InMemoryStore::new()),
            Box::new(MemoryMeta::default()),
        ));
    }
    if is_postgres(db) {
        return Err(CliError::usage(format!(
            "database `{}`: PostgreSQL support is not built into this grantflow",
            crate::error::redact(db)
        )));
    }
    Err(CliError::usage(format!(
        "database `{db}`: SQLite support is not built into this grantflow"
    )))
}
