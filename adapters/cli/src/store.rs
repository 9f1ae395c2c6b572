//! The composition root's storage: [`Backend`] picks the event store from
//! `--db` (a SQLite file by default, PostgreSQL for a `postgres://` URL,
//! `memory:` for a throw-away store), and its meta tables keep what only the CLI
//! needs beside the events: which programmes were initialised through it and
//! the reference text callers gave their applications.
//!
//! The reference table is safe to write before a command runs: an
//! application id is derived from its reference (UUID v5), so a stored
//! pair is correct whether or not the submission is accepted.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use grantflow_core::CommandRecord;
use grantflow_core::{
    ApplicationId, CommandId, Event, EventStore, InMemoryStore, Notice, NoticeId, Outbox,
    ProgrammeId, Recorded, StoreError,
};
use grantflow_core::{OutboxEntry, Snapshot};
use grantflow_postgres::PostgresStore;
use grantflow_sqlite::{SqliteOptions, SqliteStore, Synchronous};

use crate::error::{CliError, CliResult};

/// The event store chosen by `--db`, with the CLI's own tables.
#[derive(Debug)]
pub enum Backend {
    /// A store that lasts for one run of grantflow (`--db memory:`).
    Memory(InMemoryStore, MemoryMeta),
    /// A SQLite file.
    Sqlite(SqliteStore),
    /// A PostgreSQL database.
    Postgres(Box<PostgresStore>),
}

macro_rules! delegate {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            Backend::Memory($s, _) => $call,
            Backend::Sqlite($s) => $call,
            Backend::Postgres($s) => $call,
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
    fn load_each(
        &mut self,
        programme: &ProgrammeId,
        after: u64,
        limit: usize,
        each: &mut dyn FnMut(Recorded) -> bool,
    ) -> Result<usize, StoreError> {
        delegate!(self, s => s.load_each(programme, after, limit, each))
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
    fn command_records(
        &mut self,
        programme: &ProgrammeId,
        commands: &[CommandId],
    ) -> Result<Vec<(CommandId, CommandRecord)>, StoreError> {
        delegate!(self, s => s.command_records(programme, commands))
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

/// The CLI's tables held in memory, for `--db memory:`.
#[derive(Debug, Default)]
pub struct MemoryMeta {
    programmes: Vec<String>,
    refs: BTreeMap<String, HashMap<ApplicationId, String>>,
}

const SQLITE_TABLES: &str =
    "CREATE TABLE IF NOT EXISTS grantflow_cli_programmes (programme_id TEXT PRIMARY KEY);
    CREATE TABLE IF NOT EXISTS grantflow_cli_references (
        programme_id   TEXT NOT NULL,
        application_id TEXT NOT NULL,
        reference      TEXT NOT NULL,
        PRIMARY KEY (programme_id, application_id)
    );";

fn sqlite_err(store: &SqliteStore, e: rusqlite::Error) -> CliError {
    let busy = matches!(&e, rusqlite::Error::SqliteFailure(f, _) if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked));
    let advice = if busy {
        "another process holds a lock on it: wait for it to finish and try again"
    } else {
        "check the file"
    };
    CliError::usage(format!(
        "database `{}`: {e}; {advice}",
        store.path().display()
    ))
    .database()
}

fn sqlite_has_tables(store: &SqliteStore) -> CliResult<bool> {
    store
        .connection()
        .query_row("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'grantflow_cli_references')", [], |r| r.get(0))
        .map_err(|e| sqlite_err(store, e))
}

const PG_TABLES: &str = "SELECT pg_advisory_xact_lock(7262617300);
    CREATE TABLE IF NOT EXISTS grantflow_cli_programmes (programme_id TEXT PRIMARY KEY);
    CREATE TABLE IF NOT EXISTS grantflow_cli_references (
        programme_id   TEXT NOT NULL,
        application_id TEXT NOT NULL,
        reference      TEXT NOT NULL,
        PRIMARY KEY (programme_id, application_id)
    );";

fn pg_err(e: &postgres::Error) -> CliError {
    let detail = e
        .as_db_error()
        .map_or_else(|| e.to_string(), |d| d.message().to_string());
    CliError::usage(format!(
        "PostgreSQL: {detail}; check the database and try again"
    ))
    .database()
}

fn pg_has_tables(c: &mut postgres::Client) -> CliResult<bool> {
    let row = c
        .query_one(
            "SELECT to_regclass('grantflow_cli_references') IS NOT NULL",
            &[],
        )
        .map_err(|e| pg_err(&e))?;
    Ok(row.get(0))
}

fn pg_write(
    c: &mut postgres::Client,
    f: impl FnOnce(&mut postgres::Transaction<'_>) -> Result<(), postgres::Error>,
) -> CliResult<()> {
    let mut tx = c.transaction().map_err(|e| pg_err(&e))?;
    tx.batch_execute(PG_TABLES).map_err(|e| pg_err(&e))?;
    f(&mut tx).map_err(|e| pg_err(&e))?;
    tx.commit().map_err(|e| pg_err(&e))
}

impl Backend {
    /// The programmes initialised through the CLI, sorted.
    pub fn programmes(&mut self) -> CliResult<Vec<String>> {
        match self {
            Backend::Memory(_, m) => Ok(m.programmes.clone()),
            Backend::Sqlite(s) => {
                if !sqlite_has_tables(s)? {
                    return Ok(Vec::new());
                }
                let conn = s.connection();
                let mut stmt = conn
                    .prepare(
                        "SELECT programme_id FROM grantflow_cli_programmes ORDER BY programme_id",
                    )
                    .map_err(|e| sqlite_err(s, e))?;
                let rows = stmt
                    .query_map([], |r| r.get::<_, String>(0))
                    .map_err(|e| sqlite_err(s, e))?;
                rows.collect::<Result<Vec<_>, _>>()
                    .map_err(|e| sqlite_err(s, e))
            }
            Backend::Postgres(s) => {
                let c = s.client();
                if !pg_has_tables(c)? {
                    return Ok(Vec::new());
                }
                let rows = c
                    .query(
                        "SELECT programme_id FROM grantflow_cli_programmes ORDER BY programme_id",
                        &[],
                    )
                    .map_err(|e| pg_err(&e))?;
                Ok(rows.iter().map(|r| r.get(0)).collect())
            }
        }
    }

    /// Records a programme.
    pub fn add_programme(&mut self, id: &str) -> CliResult<()> {
        match self {
            Backend::Memory(_, m) => {
                if !m.programmes.iter().any(|p| p == id) {
                    m.programmes.push(id.to_string());
                    m.programmes.sort();
                }
                Ok(())
            }
            Backend::Sqlite(s) => {
                let conn = s.connection();
                conn.execute_batch(SQLITE_TABLES)
                    .map_err(|e| sqlite_err(s, e))?;
                conn.execute(
                    "INSERT OR IGNORE INTO grantflow_cli_programmes (programme_id) VALUES (?1)",
                    [id],
                )
                .map_err(|e| sqlite_err(s, e))?;
                Ok(())
            }
            Backend::Postgres(s) => pg_write(s.client(), |tx| {
                tx.execute("INSERT INTO grantflow_cli_programmes (programme_id) VALUES ($1) ON CONFLICT DO NOTHING", &[&id])?;
                Ok(())
            }),
        }
    }

    /// The reference text of each application of `programme` that has one.
    pub fn references(&mut self, programme: &str) -> CliResult<HashMap<ApplicationId, String>> {
        match self {
            Backend::Memory(_, m) => Ok(m.refs.get(programme).cloned().unwrap_or_default()),
            Backend::Sqlite(s) => {
                if !sqlite_has_tables(s)? {
                    return Ok(HashMap::new());
                }
                let conn = s.connection();
                let mut stmt = conn
                    .prepare("SELECT application_id, reference FROM grantflow_cli_references WHERE programme_id = ?1")
                    .map_err(|e| sqlite_err(s, e))?;
                let rows = stmt
                    .query_map([programme], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                    })
                    .map_err(|e| sqlite_err(s, e))?;
                let mut out = HashMap::new();
                for row in rows {
                    let (id, reference) = row.map_err(|e| sqlite_err(s, e))?;
                    if let Ok(id) = id.parse::<ApplicationId>() {
                        out.insert(id, reference);
                    }
                }
                Ok(out)
            }
            Backend::Postgres(s) => {
                let c = s.client();
                if !pg_has_tables(c)? {
                    return Ok(HashMap::new());
                }
                let rows = c
                    .query("SELECT application_id, reference FROM grantflow_cli_references WHERE programme_id = $1", &[&programme])
                    .map_err(|e| pg_err(&e))?;
                Ok(rows
                    .iter()
                    .filter_map(|r| {
                        r.get::<_, String>(0)
                            .parse::<ApplicationId>()
                            .ok()
                            .map(|id| (id, r.get::<_, String>(1)))
                    })
                    .collect())
            }
        }
    }

    /// Records reference texts (pairs already stored are kept). Safe to
    /// call before the command runs: an id derived from a reference is
    /// always that reference's id.
    pub fn add_references(
        &mut self,
        programme: &str,
        refs: &[(ApplicationId, String)],
    ) -> CliResult<()> {
        match self {
            Backend::Memory(_, m) => {
                let map = m.refs.entry(programme.to_string()).or_default();
                for (id, r) in refs {
                    map.entry(*id).or_insert_with(|| r.clone());
                }
                Ok(())
            }
            Backend::Sqlite(s) => {
                let conn = s.connection();
                conn.execute_batch(SQLITE_TABLES)
                    .map_err(|e| sqlite_err(s, e))?;
                conn.execute_batch("BEGIN IMMEDIATE")
                    .map_err(|e| sqlite_err(s, e))?;
                let result = (|| {
                    let mut stmt = conn.prepare("INSERT OR IGNORE INTO grantflow_cli_references (programme_id, application_id, reference) VALUES (?1, ?2, ?3)")?;
                    for (id, r) in refs {
                        stmt.execute([programme, &id.to_string(), r])?;
                    }
                    Ok::<(), rusqlite::Error>(())
                })();
                match result {
                    Ok(()) => conn.execute_batch("COMMIT").map_err(|e| sqlite_err(s, e)),
                    Err(e) => {
                        let _ = conn.execute_batch("ROLLBACK");
                        Err(sqlite_err(s, e))
                    }
                }
            }
            Backend::Postgres(s) => pg_write(s.client(), |tx| {
                let stmt = tx.prepare(
                    "INSERT INTO grantflow_cli_references (programme_id, application_id, reference) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )?;
                for (id, r) in refs {
                    tx.execute(&stmt, &[&programme, &id.to_string(), r])?;
                }
                Ok(())
            }),
        }
    }
}

/// Whether `--db` names a PostgreSQL database.
pub fn is_postgres(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// `--db memory:`: a store that lasts for one run of grantflow.
pub const MEMORY: &str = "memory:";

/// Refuses a `--db` URL of a scheme grantflow does not speak (`mysql://…`),
/// rather than taking it for a file path.
pub fn check_scheme(db: &str) -> CliResult<()> {
    let Some((scheme, _)) = db.split_once("://") else {
        return Ok(());
    };
    let is_scheme = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !is_scheme || is_postgres(db) {
        return Ok(());
    }
    Err(CliError::usage(format!(
        "database `{}`: the scheme `{scheme}` is not supported: give a SQLite file path, a postgres:// (or postgresql://) URL, or memory:",
        crate::error::redact(db)
    )))
}

/// Opens the store named by `--db`.
pub fn open(db: &str) -> CliResult<Backend> {
    open_with(db, SqliteOptions::default())
}

/// Opens the sign-in records (accounts, sessions, throttles) of `--db`,
/// beside its events.
pub fn records(db: &str) -> CliResult<Box<dyn grantflow_http::RecordStore>> {
    check_scheme(db)?;
    if db == MEMORY {
        return Err(CliError::usage(
            "accounts need a database that outlives one command: give --db a SQLite file or a postgres:// URL",
        ));
    }
    if is_postgres(db) {
        return grantflow_postgres::PgRecords::connect(db)
            .map(|r| Box::new(r) as Box<dyn grantflow_http::RecordStore>)
            .map_err(|e| CliError::store(db, &e));
    }
    grantflow_sqlite::SqliteRecords::open(db)
        .map(|r| Box::new(r) as Box<dyn grantflow_http::RecordStore>)
        .map_err(|e| CliError::store(db, &e))
}

/// Opens a throw-away SQLite file without waiting for the disk on each
/// commit (WAL with `synchronous=NORMAL`): for the demo only.
pub fn open_scratch(db: &str) -> CliResult<Backend> {
    open_with(
        db,
        SqliteOptions {
            synchronous: Synchronous::Normal,
            ..SqliteOptions::default()
        },
    )
}

fn open_with(db: &str, options: SqliteOptions) -> CliResult<Backend> {
    check_scheme(db)?;
    if db == MEMORY {
        return Ok(Backend::Memory(InMemoryStore::new(), MemoryMeta::default()));
    }
    if is_postgres(db) {
        return PostgresStore::connect(db)
            .map(|s| Backend::Postgres(Box::new(s)))
            .map_err(|e| CliError::store(db, &e));
    }
    let path = std::path::Path::new(db);
    if path.is_dir() {
        return Err(CliError::usage(format!(
            "database `{db}` is a directory: give --db a file path"
        )));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            return Err(CliError::usage(format!(
                "database `{db}`: the directory `{}` does not exist; create it or choose another --db",
                parent.display()
            )));
        }
    }
    match SqliteStore::open_with(path, options) {
        Ok(store) => Ok(Backend::Sqlite(store)),
        // A file (or directory) this process may not write can still be read.
        Err(e @ StoreError::Unavailable { .. }) if path.is_file() => {
            SqliteStore::open_read_only(path)
                .map(Backend::Sqlite)
                .map_err(|_| CliError::store(db, &e))
        }
        Err(e) => Err(CliError::store(db, &e)),
    }
}

impl Backend {
    /// Whether the store was opened for reading only (a file this process may not write).
    pub fn is_read_only(&self) -> bool {
        matches!(self, Backend::Sqlite(s) if s.is_read_only())
    }
}
