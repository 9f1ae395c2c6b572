//! # grantflow-sqlite
//!
//! The embedded event store of grantflow: one SQLite file holding every
//! programme's event stream, the notice outbox and snapshots.
//!
//! - [`SqliteStore`] implements the core's [`EventStore`] and [`Outbox`]
//!   ports. [`SqliteStore::open`] creates or migrates the file; each append
//!   writes its events and their notices in one transaction, with the
//!   expected version checked inside it, so two writers (threads or
//!   processes) can never both extend a stream from the same version: the
//!   loser gets [`StoreError::Conflict`] and the engine retries.
//! - [`SqliteOptions`] sets durability ([`Synchronous::Full`] by default),
//!   the busy timeout and the page cache. The file is always in WAL mode.
//! - [`SCHEMA_VERSION`] is the schema this crate writes; a file of a newer
//!   one is refused with [`StoreError::SchemaTooNew`] before anything is written.
//!
//! An append's notices are written with its events, in the same
//! transaction: as a JSON array on its last event row (`events.notices`).
//! They move into the `outbox` table, where claims, acknowledgements and
//! retries work on them, the next time the outbox is read (the first step
//! of [`Outbox::claim`] and [`SqliteStore::outbox_entries`]), in the order
//! they were appended and exactly once; a meta row records the last event
//! row moved. A single commit so writes the event table and its two indexes
//! only, and the outbox's three B-trees are written in batches by claims.
//!
//! Rows are stored as JSON (`payload`) next to their event type, schema
//! version and command id, and decoded with [`Event::from_json`], so events
//! of older schema versions keep loading. A load decodes each row on the
//! calling thread as it is read and hands it to the engine; a row that does
//! not decode is [`StoreError::Corrupt`] naming its version, after the
//! events before it.
//!
//! ```
//! use grantflow_core::{Action, Command, CommandId, Engine, Programme, ProgrammeId};
//! use grantflow_sqlite::SqliteStore;
//! # use chrono::{TimeZone, Utc};
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("grants.db");
//!
//! let store = SqliteStore::open(&path)?;
//! let programme = Programme::healthcare_cyber_essentials_2020();
//! let mut engine = Engine::open(store, ProgrammeId::new(&programme.id))?;
//! let now = Utc.with_ymd_and_hms(2020, 9, 1, 9, 0, 0).unwrap();
//! engine.execute(&Command::new(CommandId::from_name("open"), Action::Open { programme: Box::new(programme) }), now)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations, missing_docs)]

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use grantflow_core::CommandRecord;
use grantflow_core::{
    CommandId, Event, EventStore, Notice, NoticeId, Outbox, ProgrammeId, Recorded, StoreError,
};
use grantflow_core::{OutboxEntry, OutboxStatus, Snapshot};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};

/// The schema version this crate creates and reads.
pub const SCHEMA_VERSION: u32 = 2;

/// SQLite's `synchronous` setting: how hard a commit waits for the disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// No syncing: fast, loses recent commits on power loss (never corrupts in WAL mode on a process crash).
    Off,
    /// Syncs at checkpoints: a power loss may lose the last commits, never corrupt the file.
    Normal,
    /// Syncs the WAL on every commit: a committed append survives power loss (the default).
    #[default]
    Full,
    /// `FULL` plus a sync of the directory after deleting the journal.
    Extra,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Off => "OFF",
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
            Synchronous::Extra => "EXTRA",
        }
    }
}

/// How to open a store.
#[derive(Clone, Copy, Debug)]
pub struct SqliteOptions {
    /// Durability of commits; [`Synchronous::Full`] by default.
    pub synchronous: Synchronous,
    /// How long to wait for another connection's lock before giving up with
    /// [`StoreError::Unavailable`]. 5 seconds by default.
    pub busy_timeout: Duration,
    /// Page cache per connection, in KiB (SQLite's default is 2,000).
    pub cache_kib: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            synchronous: Synchronous::Full,
            busy_timeout: Duration::from_secs(5),
            cache_kib: 16 * 1024,
        }
    }
}

/// An event store in one SQLite file. Each handle is one connection; open
/// one per thread or process (they coordinate through the file's locks).
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    options: SqliteOptions,
}

const MIGRATIONS: &[&str] = &[
    // 0 -> 1
    "CREATE TABLE events (
        programme_id   TEXT    NOT NULL,
        version        INTEGER NOT NULL CHECK (version > 0),
        event_type     TEXT    NOT NULL,
        schema_version INTEGER NOT NULL,
        payload        TEXT    NOT NULL,
        command_id     TEXT    NOT NULL,
        recorded_at    INTEGER NOT NULL,
        UNIQUE (programme_id, version)
    );
    CREATE INDEX events_by_command ON events (command_id);
    CREATE TABLE outbox (
        seq          INTEGER PRIMARY KEY,
        notice_id    TEXT    NOT NULL UNIQUE,
        programme_id TEXT    NOT NULL,
        notice       TEXT    NOT NULL,
        status       TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead_letter')),
        attempts     INTEGER NOT NULL DEFAULT 0,
        next_attempt INTEGER NOT NULL,
        lease_until  INTEGER,
        last_error   TEXT,
        version      INTEGER NOT NULL
    );
    CREATE INDEX outbox_due ON outbox (next_attempt) WHERE status = 'pending';
    CREATE INDEX outbox_dead ON outbox (seq) WHERE status = 'dead_letter';
    CREATE TABLE snapshots (
        programme_id TEXT    PRIMARY KEY,
        version      INTEGER NOT NULL,
        format       INTEGER NOT NULL,
        data         TEXT    NOT NULL,
        saved_at     INTEGER NOT NULL
    );",
    // 1 -> 2: an append's notices ride on its last event row and move to
    // the outbox table when the outbox is next read; `outbox_fed` is the
    // last event rowid moved. Rows written before hold no notices.
    "ALTER TABLE events ADD COLUMN notices TEXT;
    ALTER TABLE events ADD COLUMN notices_due INTEGER;
    INSERT INTO grantflow_meta (key, value) SELECT 'outbox_fed', coalesce(max(rowid), 0) FROM events;",
];

fn describe(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(f, Some(msg)) => format!("{msg} ({:?})", f.code),
        other => other.to_string(),
    }
}

fn code(e: &rusqlite::Error) -> Option<ErrorCode> {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.code),
        _ => None,
    }
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(us).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn wall_clock_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) the store at `path` with
    /// [`SqliteOptions::default`].
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Opens with explicit options.
    ///
    /// Errors: [`StoreError::Unavailable`] when the file cannot be opened,
    /// is not a SQLite database or stays locked past the busy timeout;
    /// [`StoreError::SchemaTooNew`] when it was written by a newer grantflow
    /// (nothing is changed in that file).
    pub fn open_with(
        path: impl AsRef<Path>,
        options: SqliteOptions,
    ) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            Connection::open_with_flags(&path, flags).map_err(|e| StoreError::Unavailable {
                detail: format!(
                    "cannot open the SQLite database `{}`: {}",
                    path.display(),
                    describe(&e)
                ),
            })?;
        let mut store = SqliteStore {
            conn,
            path,
            options,
        };
        store
            .conn
            .busy_timeout(options.busy_timeout)
            .map_err(|e| store.error(e))?;
        // Read the recorded schema version before changing anything.
        let found = store.schema_version()?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        let mode: String = store
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| store.error(e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Unavailable {
                detail: format!(
                    "the SQLite database `{}` cannot use WAL mode (it reports `{mode}`)",
                    store.path.display()
                ),
            });
        }
        let pragmas = format!(
            "PRAGMA synchronous = {}; PRAGMA cache_size = -{}; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;",
            options.synchronous.pragma(),
            options.cache_kib
        );
        store
            .conn
            .execute_batch(&pragmas)
            .map_err(|e| store.error(e))?;
        if found < SCHEMA_VERSION {
            store.migrate()?;
        }
        Ok(store)
    }

    /// The file this store was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The options it was opened with.
    pub fn options(&self) -> SqliteOptions {
        self.options
    }

    /// Closes this handle and opens the same file again (for tests of restarts).
    pub fn reopen(self) -> Result<SqliteStore, StoreError> {
        let SqliteStore {
            conn,
            path,
            options,
        } = self;
        drop(conn);
        Self::open_with(path, options)
    }

    /// The underlying connection, for read-only inspection and tooling.
    /// Writing through it bypasses the store's checks.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn error(&self, e: rusqlite::Error) -> StoreError {
        error_of(&self.path, self.options, e)
    }

    fn schema_version(&self) -> Result<u32, StoreError> {
        let has_meta: bool = self
            .conn
            .query_row("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'grantflow_meta')", [], |r| r.get(0))
            .map_err(|e| self.error(e))?;
        if !has_meta {
            return Ok(0);
        }
        let value: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM grantflow_meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.error(e))?;
        match value {
            None => Ok(0),
            Some(v) => v.trim().parse::<u32>().map_err(|_| StoreError::Backend {
                detail: format!(
                    "the SQLite database `{}` records schema version `{v}`, which is not a number",
                    self.path.display()
                ),
            }),
        }
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| error_of(&self.path, self.options, e))?;
        let found = {
            let has_meta: bool = tx
                .query_row("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'grantflow_meta')", [], |r| r.get(0))
                .map_err(|e| error_of(&self.path, self.options, e))?;
            if has_meta {
                let v: Option<String> = tx
                    .query_row(
                        "SELECT value FROM grantflow_meta WHERE key = 'schema_version'",
                        [],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(|e| error_of(&self.path, self.options, e))?;
                v.and_then(|v| v.trim().parse::<u32>().ok()).unwrap_or(0)
            } else {
                0
            }
        };
        if found > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        if found == 0 {
            let foreign: i64 = tx
                .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('events', 'outbox', 'snapshots')", [], |r| r.get(0))
                .map_err(|e| error_of(&self.path, self.options, e))?;
            if foreign > 0 {
                return Err(StoreError::Unavailable {
                    detail: format!(
                        "`{}` already has tables named like grantflow's but no grantflow schema version: not a grantflow database",
                        self.path.display()
                    ),
                });
            }
            tx.execute_batch("CREATE TABLE IF NOT EXISTS grantflow_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                .map_err(|e| error_of(&self.path, self.options, e))?;
        }
        for (i, step) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            tx.execute_batch(step)
                .map_err(|e| error_of(&self.path, self.options, e))?;
            let to = i + 1;
            tx.execute("INSERT INTO grantflow_meta (key, value) VALUES ('schema_version', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [to.to_string()])
                .map_err(|e| error_of(&self.path, self.options, e))?;
        }
        tx.commit()
            .map_err(|e| error_of(&self.path, self.options, e))
    }

    fn current_version(tx: &Connection, programme: &ProgrammeId) -> rusqlite::Result<u64> {
        let v: i64 = tx
            .prepare_cached("SELECT coalesce(max(version), 0) FROM events WHERE programme_id = ?1")?
            .query_row([programme.as_str()], |r| r.get(0))?;
        Ok(u64::try_from(v).unwrap_or(0))
    }

    /// Appends event rows exactly as given (JSON of any schema version),
    /// without the encoder: for importing streams written elsewhere or by
    /// older versions. The event type and schema version columns are read
    /// from the JSON; the rows are decoded only when loaded.
    pub fn append_raw_json(
        &mut self,
        programme: &ProgrammeId,
        expected: u64,
        rows: &[String],
    ) -> Result<u64, StoreError> {
        let parsed: Vec<(String, i64, String)> = rows
            .iter()
            .map(|row| {
                let value: serde_json::Value =
                    serde_json::from_str(row).unwrap_or(serde_json::Value::Null);
                let field = |k: &str| {
                    value
                        .get(k)
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or("")
                        .to_string()
                };
                let schema = value
                    .get("schema_version")
                    .and_then(serde_json::Value::as_i64)
                    .unwrap_or(0);
                // The type sits under `event` from schema version 3, beside the envelope before.
                let kind = value
                    .pointer("/event/type")
                    .or_else(|| value.get("type"))
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("")
                    .to_string();
                (kind, schema, field("command"))
            })
            .collect();
        let event_rows = parsed
            .iter()
            .zip(rows)
            .map(|((kind, schema, command), payload)| EventRow {
                event_type: kind,
                schema: *schema,
                payload,
                command: command.clone(),
                notices: None,
            });
        self.write_events(programme, expected, None, event_rows, |_, _| Ok(()))
            .map(|v| v.unwrap_or(expected))
    }

    /// Writes event rows at `expected + 1 ..` in one immediate transaction,
    /// after checking the stream is at `expected` and, given `unseen`, that
    /// no event of that command id is recorded (else nothing is written and
    /// the answer is `None`); `more` adds rows of its own (the outbox) before
    /// the commit. A lost race is [`StoreError::Conflict`].
    fn write_events<'a>(
        &mut self,
        programme: &ProgrammeId,
        expected: u64,
        unseen: Option<&str>,
        rows: impl Iterator<Item = EventRow<'a>>,
        more: impl FnOnce(
            &rusqlite::Transaction<'_>,
            &dyn Fn(rusqlite::Error) -> StoreError,
        ) -> Result<(), StoreError>,
    ) -> Result<Option<u64>, StoreError> {
        let (path, options) = (self.path.clone(), self.options);
        let err = |e| error_of(&path, options, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let actual = Self::current_version(&tx, programme).map_err(err)?;
        if actual != expected {
            return Err(StoreError::Conflict {
                programme: programme.clone(),
                expected,
                actual,
            });
        }
        if let Some(command) = unseen {
            let seen = tx
                .prepare_cached(
                    "SELECT 1 FROM events INDEXED BY events_by_command WHERE programme_id = ?1 AND command_id = ?2 LIMIT 1",
                )
                .and_then(|mut stmt| stmt.exists(params![programme.as_str(), command]))
                .map_err(err)?;
            if seen {
                return Ok(None);
            }
        }
        let now = wall_clock_micros();
        let mut version = expected;
        {
            let mut insert = tx
                .prepare_cached("INSERT INTO events (programme_id, version, event_type, schema_version, payload, command_id, recorded_at, notices, notices_due) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")
                .map_err(err)?;
            for row in rows {
                version += 1;
                let (notices, due) = row.notices.unzip();
                let result = insert.execute(params![
                    programme.as_str(),
                    to_i64(version),
                    row.event_type,
                    row.schema,
                    row.payload,
                    row.command,
                    now,
                    notices,
                    due
                ]);
                match result {
                    Ok(_) => {}
                    Err(x) if code(&x) == Some(ErrorCode::ConstraintViolation) => {
                        return Err(StoreError::Conflict {
                            programme: programme.clone(),
                            expected,
                            actual: version,
                        });
                    }
                    Err(x) => return Err(err(x)),
                }
            }
        }
        more(&tx, &err)?;
        tx.commit().map_err(err)?;
        Ok(Some(version))
    }

    /// Appends events and their notices in one transaction; given
    /// `unseen`, only if no event of that command is recorded yet (`None`).
    fn append_events(
        &mut self,
        programme: &ProgrammeId,
        expected: u64,
        unseen: Option<&CommandId>,
        events: &[Event],
        notices: &[Notice],
    ) -> Result<Option<u64>, StoreError> {
        // Nothing to write and no command to check: a version read will do
        // (a command check goes through the write transaction below).
        if unseen.is_none() && events.is_empty() && notices.is_empty() {
            let actual = self.version(programme)?;
            if actual != expected {
                return Err(StoreError::Conflict {
                    programme: programme.clone(),
                    expected,
                    actual,
                });
            }
            return Ok(Some(actual));
        }
        // Encode before taking the write lock.
        let mut encoded = Vec::with_capacity(events.len());
        for e in events {
            let json = serde_json::to_string(e).map_err(|err| StoreError::Backend {
                detail: format!("cannot encode a {} event: {err}", e.kind.name()),
            })?;
            encoded.push(json);
        }
        let notes = if notices.is_empty() {
            None
        } else {
            let json = serde_json::to_string(notices).map_err(|err| StoreError::Backend {
                detail: format!("cannot encode the notices of an append: {err}"),
            })?;
            Some(json)
        };
        let due = micros(events.last().map_or(DateTime::<Utc>::MIN_UTC, |e| e.at));
        let last = events.len().checked_sub(1);
        let rows = events
            .iter()
            .zip(&encoded)
            .enumerate()
            .map(|(i, (e, json))| EventRow {
                event_type: e.kind.name(),
                schema: i64::from(e.schema_version),
                payload: json,
                command: e.command.to_string(),
                notices: notes
                    .as_deref()
                    .filter(|_| Some(i) == last)
                    .map(|n| (n, due)),
            });
        let unseen = unseen.map(ToString::to_string);
        // Notices ride on the append's last event row; with no event to
        // carry them they go to the outbox table directly, after the rows
        // queued before them.
        let direct = events.is_empty().then_some(notes.as_deref()).flatten();
        self.write_events(programme, expected, unseen.as_deref(), rows, |tx, err| {
            if let Some(json) = direct {
                feed_outbox(tx, err)?;
                queue_notices(tx, programme, json, due, to_i64(expected), err)?;
            }
            Ok(())
        })
    }

    fn decode(programme: &ProgrammeId, version: u64, payload: &str) -> Result<Event, StoreError> {
        // Rows of the current schema decode directly; older ones are
        // upcast. A row claiming a newer version is refused.
        Event::from_json(payload).map_err(|e| StoreError::Corrupt {
            programme: programme.clone(),
            version,
            detail: e.to_string(),
        })
    }
}

/// One event row as written.
struct EventRow<'a> {
    event_type: &'a str,
    schema: i64,
    payload: &'a str,
    command: String,
    /// On an append's last row: its notices (a JSON array) and when they
    /// are first due.
    notices: Option<(&'a str, i64)>,
}

/// Maps a SQLite error to the store's typed error, naming the file.
fn error_of(path: &Path, options: SqliteOptions, e: rusqlite::Error) -> StoreError {
    let path = path.display();
    match code(&e) {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Unavailable {
            detail: format!(
                "the SQLite database `{path}` is locked by another connection (waited {} ms): {}",
                options.busy_timeout.as_millis(),
                describe(&e)
            ),
        },
        Some(ErrorCode::NotADatabase) => StoreError::Unavailable {
            detail: format!("`{path}` is not a SQLite database: {}", describe(&e)),
        },
        Some(
            ErrorCode::CannotOpen
            | ErrorCode::PermissionDenied
            | ErrorCode::ReadOnly
            | ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure
            | ErrorCode::FileLockingProtocolFailed,
        ) => StoreError::Unavailable {
            detail: format!(
                "the SQLite database `{path}` cannot be used: {}",
                describe(&e)
            ),
        },
        Some(ErrorCode::DatabaseCorrupt) => StoreError::Unavailable {
            detail: format!("the SQLite database `{path}` is damaged: {}", describe(&e)),
        },
        _ => StoreError::Backend {
            detail: format!("SQLite `{path}`: {}", describe(&e)),
        },
    }
}

fn status_name(s: OutboxStatus) -> &'static str {
    match s {
        OutboxStatus::Pending => "pending",
        OutboxStatus::Delivered => "delivered",
        OutboxStatus::DeadLetter => "dead_letter",
    }
}

fn parse_status(s: &str) -> Option<OutboxStatus> {
    match s {
        "pending" => Some(OutboxStatus::Pending),
        "delivered" => Some(OutboxStatus::Delivered),
        "dead_letter" => Some(OutboxStatus::DeadLetter),
        _ => None,
    }
}

impl EventStore for SqliteStore {
    fn load(
        &mut self,
        programme: &ProgrammeId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Recorded>, StoreError> {
        let mut out = Vec::with_capacity(limit.min(10_000));
        self.load_each(programme, after, limit, &mut |r| {
            out.push(r);
            true
        })?;
        Ok(out)
    }

    fn load_each(
        &mut self,
        programme: &ProgrammeId,
        after: u64,
        limit: usize,
        each: &mut dyn FnMut(Recorded) -> bool,
    ) -> Result<usize, StoreError> {
        if limit == 0 {
            return Ok(0);
        }
        let (path, options) = (self.path.clone(), self.options);
        let err = |e| error_of(&path, options, e);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT version, payload FROM events WHERE programme_id = ?1 AND version > ?2 ORDER BY version LIMIT ?3")
            .map_err(err)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows = stmt
            .query(params![programme.as_str(), to_i64(after), limit])
            .map_err(err)?;
        let mut handed = 0;
        while let Some(row) = rows.next().map_err(err)? {
            let version = u64::try_from(row.get::<_, i64>(0).map_err(err)?).unwrap_or(0);
            let payload = match row.get_ref(1).map_err(err)? {
                rusqlite::types::ValueRef::Text(text) => std::str::from_utf8(text).ok(),
                _ => None,
            };
            let Some(payload) = payload else {
                return Err(StoreError::Corrupt {
                    programme: programme.clone(),
                    version,
                    detail: "the payload is not UTF-8 text".into(),
                });
            };
            let event = Self::decode(programme, version, payload)?;
            handed += 1;
            if !each(Recorded { version, event }) {
                break;
            }
        }
        Ok(handed)
    }

    fn version(&mut self, programme: &ProgrammeId) -> Result<u64, StoreError> {
        Self::current_version(&self.conn, programme).map_err(|e| self.error(e))
    }

    fn append(
        &mut self,
        programme: &ProgrammeId,
        expected: u64,
        events: &[Event],
        notices: &[Notice],
    ) -> Result<u64, StoreError> {
        // Without a command to check, every write answers with a version.
        self.append_events(programme, expected, None, events, notices)
            .map(|v| v.unwrap_or(expected))
    }

    /// Checks the command id inside the append's own transaction.
    fn append_command(
        &mut self,
        programme: &ProgrammeId,
        expected: u64,
        command: &CommandId,
        events: &[Event],
        notices: &[Notice],
    ) -> Result<Option<u64>, StoreError> {
        self.append_events(programme, expected, Some(command), events, notices)
    }

    fn command_records(
        &mut self,
        programme: &ProgrammeId,
        commands: &[CommandId],
    ) -> Result<Vec<(CommandId, CommandRecord)>, StoreError> {
        if commands.is_empty() {
            return Ok(Vec::new());
        }
        let (path, options) = (self.path.clone(), self.options);
        let err = |e| error_of(&path, options, e);
        // One id (a single command) is a plain index lookup; more go in as
        // one JSON array, so any number of them is one statement.
        let ids = match commands {
            [one] => one.to_string(),
            _ => {
                let mut ids = String::with_capacity(commands.len() * 39 + 2);
                ids.push('[');
                for (i, id) in commands.iter().enumerate() {
                    if i > 0 {
                        ids.push(',');
                    }
                    ids.push('"');
                    ids.push_str(&id.to_string());
                    ids.push('"');
                }
                ids.push(']');
                ids
            }
        };
        let mut stmt = self
            .conn
            .prepare_cached(if commands.len() == 1 {
                "SELECT command_id, min(version), count(*) FROM events INDEXED BY events_by_command
                 WHERE programme_id = ?1 AND command_id = ?2
                 GROUP BY command_id"
            } else {
                // Without the hint the planner may pick the (programme, version)
                // index and read the whole stream.
                "SELECT command_id, min(version), count(*) FROM events INDEXED BY events_by_command
                 WHERE programme_id = ?1 AND command_id IN (SELECT value FROM json_each(?2))
                 GROUP BY command_id"
            })
            .map_err(err)?;
        let mut rows = stmt.query(params![programme.as_str(), ids]).map_err(err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let id: String = row.get(0).map_err(err)?;
            let first: i64 = row.get(1).map_err(err)?;
            let count: i64 = row.get(2).map_err(err)?;
            let first_version = u64::try_from(first).unwrap_or(0);
            let id = id.parse::<CommandId>().map_err(|e| StoreError::Corrupt {
                programme: programme.clone(),
                version: first_version,
                detail: format!("the command id `{id}` is not a UUID: {e}"),
            })?;
            out.push((
                id,
                CommandRecord::located(first_version, u32::try_from(count).unwrap_or(u32::MAX)),
            ));
        }
        Ok(out)
    }

    fn load_snapshot(&mut self, programme: &ProgrammeId) -> Result<Option<Snapshot>, StoreError> {
        let (path, options) = (self.path.clone(), self.options);
        let err = |e| error_of(&path, options, e);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT version, format, data FROM snapshots WHERE programme_id = ?1")
            .map_err(err)?;
        let row = stmt
            .query_row([programme.as_str()], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .optional()
            .map_err(err)?;
        Ok(row.map(|(version, format, data)| Snapshot {
            version: u64::try_from(version).unwrap_or(0),
            // An unreadable format number is an unknown format: the engine replays instead.
            format: u32::try_from(format).unwrap_or(u32::MAX),
            data,
        }))
    }

    fn save_snapshot(
        &mut self,
        programme: &ProgrammeId,
        snapshot: &Snapshot,
    ) -> Result<(), StoreError> {
        let now = wall_clock_micros();
        let result = self
            .conn
            .prepare_cached(
                "INSERT INTO snapshots (programme_id, version, format, data, saved_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (programme_id) DO UPDATE SET version = excluded.version, format = excluded.format, data = excluded.data, saved_at = excluded.saved_at
                 WHERE excluded.version >= snapshots.version",
            )
            .and_then(|mut s| s.execute(params![programme.as_str(), to_i64(snapshot.version), snapshot.format, snapshot.data, now]));
        result.map(|_| ()).map_err(|e| self.error(e))
    }
}

type OutboxRow = (String, String, String, i64, i64, Option<String>);

/// Event rows with notices moved to the outbox table per step at most.
const FEED_CHUNK: usize = 1024;

/// Moves the notices of the event rows appended since the last call into
/// the outbox table, in the order they were appended, and records the last
/// rowid moved; whether there was anything new. Run inside a write
/// transaction, before any read of the outbox table; when nothing was
/// appended since, it only reads two values.
fn feed_outbox(
    tx: &Connection,
    err: &dyn Fn(rusqlite::Error) -> StoreError,
) -> Result<bool, StoreError> {
    let mut fed: i64 = tx
        .prepare_cached(
            "SELECT CAST(value AS INTEGER) FROM grantflow_meta WHERE key = 'outbox_fed'",
        )
        .and_then(|mut s| s.query_row([], |r| r.get(0)).optional())
        .map_err(err)?
        .unwrap_or(0);
    let top: i64 = tx
        .prepare_cached("SELECT coalesce(max(rowid), 0) FROM events")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(err)?;
    if top <= fed {
        return Ok(false);
    }
    loop {
        let chunk: Vec<(i64, String, i64, String, i64)> = tx
            .prepare_cached(
                "SELECT rowid, programme_id, version, notices, notices_due FROM events
                 WHERE rowid > ?1 AND rowid <= ?2 AND notices IS NOT NULL ORDER BY rowid LIMIT ?3",
            )
            .and_then(|mut s| {
                s.query_map(params![fed, top, FEED_CHUNK as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect()
            })
            .map_err(err)?;
        for (_, programme, version, notices, due) in &chunk {
            queue_notices(
                tx,
                &ProgrammeId::new(programme),
                notices,
                *due,
                *version,
                err,
            )?;
        }
        match chunk.last() {
            Some(&(rowid, ..)) if chunk.len() == FEED_CHUNK => fed = rowid,
            _ => break,
        }
    }
    tx.prepare_cached("INSERT INTO grantflow_meta (key, value) VALUES ('outbox_fed', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .and_then(|mut s| s.execute([top.to_string()]))
        .map_err(err)?;
    Ok(true)
}

/// Inserts the notices of one append (a JSON array) into the outbox table;
/// a notice already queued is left as it is.
fn queue_notices(
    tx: &Connection,
    programme: &ProgrammeId,
    notices: &str,
    due: i64,
    version: i64,
    err: &dyn Fn(rusqlite::Error) -> StoreError,
) -> Result<(), StoreError> {
    let parsed: Vec<Notice> = serde_json::from_str(notices).map_err(|e| StoreError::Corrupt {
        programme: programme.clone(),
        version: u64::try_from(version).unwrap_or(0),
        detail: format!("the notices written with this event are unreadable: {e}"),
    })?;
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO outbox (notice_id, programme_id, notice, next_attempt, version) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (notice_id) DO NOTHING",
        )
        .map_err(err)?;
    for n in &parsed {
        let json = serde_json::to_string(n).map_err(|e| StoreError::Backend {
            detail: format!("cannot encode notice {}: {e}", n.id),
        })?;
        insert
            .execute(params![
                n.id.to_string(),
                programme.as_str(),
                json,
                due,
                version
            ])
            .map_err(err)?;
    }
    Ok(())
}

impl SqliteStore {
    fn entry(&self, row: OutboxRow) -> Result<OutboxEntry, StoreError> {
        let (programme, notice, status, attempts, next_attempt, last_error) = row;
        let programme = ProgrammeId::new(programme);
        let notice: Notice = serde_json::from_str(&notice).map_err(|e| StoreError::Backend {
            detail: format!(
                "an outbox row of programme `{programme}` in `{}` is unreadable: {e}",
                self.path.display()
            ),
        })?;
        let status = parse_status(&status).ok_or_else(|| StoreError::Backend {
            detail: format!("outbox notice {} has unknown status `{status}`", notice.id),
        })?;
        Ok(OutboxEntry {
            programme,
            notice,
            status,
            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            next_attempt: from_micros(next_attempt),
            last_error,
        })
    }

    fn update_one(
        &mut self,
        id: NoticeId,
        sql: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<(), StoreError> {
        let mut all: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(args.len() + 1);
        let id_text = id.to_string();
        all.push(&id_text);
        all.extend_from_slice(args);
        let run = |conn: &Connection| {
            conn.prepare_cached(sql)
                .and_then(|mut s| s.execute(all.as_slice()))
        };
        let mut changed = run(&self.conn).map_err(|e| self.error(e))?;
        // A notice not read from the outbox yet may still ride on its
        // event row.
        if changed == 0 && self.feed()? {
            changed = run(&self.conn).map_err(|e| self.error(e))?;
        }
        if changed == 0 {
            Err(StoreError::UnknownNotice(id))
        } else {
            Ok(())
        }
    }

    /// Moves notices still riding on their event rows into the outbox
    /// table, in a transaction of its own; whether any event row was new.
    fn feed(&mut self) -> Result<bool, StoreError> {
        let (path, options) = (self.path.clone(), self.options);
        let err = |e| error_of(&path, options, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let moved = feed_outbox(&tx, &err)?;
        tx.commit().map_err(err)?;
        Ok(moved)
    }

    fn select_entries(
        &mut self,
        sql: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let rows: Vec<OutboxRow> = {
            let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.error(e))?;
            let mapped = stmt
                .query_map(args, |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>());
            mapped.map_err(|e| self.error(e))?
        };
        rows.into_iter().map(|r| self.entry(r)).collect()
    }
}

impl Outbox for SqliteStore {
    fn claim(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (path, options) = (self.path.clone(), self.options);
        let err = |e| error_of(&path, options, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        feed_outbox(&tx, &err)?;
        let rows: Vec<(i64, OutboxRow)> = {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT seq, programme_id, notice, status, attempts, next_attempt, last_error FROM outbox
                     WHERE status = 'pending' AND next_attempt <= ?1 AND (lease_until IS NULL OR lease_until <= ?1)
                     ORDER BY seq LIMIT ?2",
                )
                .map_err(err)?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            stmt.query_map(params![micros(now), limit], |r| {
                Ok((
                    r.get(0)?,
                    (
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ),
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(err)?
        };
        {
            let mut lease = tx
                .prepare_cached("UPDATE outbox SET lease_until = ?2 WHERE seq = ?1")
                .map_err(err)?;
            for (seq, _) in &rows {
                lease
                    .execute(params![seq, micros(lease_until)])
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
        rows.into_iter().map(|(_, r)| self.entry(r)).collect()
    }

    fn acknowledge(&mut self, id: NoticeId) -> Result<(), StoreError> {
        self.update_one(id, "UPDATE outbox SET status = 'delivered', attempts = attempts + 1, lease_until = NULL WHERE notice_id = ?1", &[])
    }

    fn retry_later(
        &mut self,
        id: NoticeId,
        next_attempt: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        self.update_one(
            id,
            "UPDATE outbox SET attempts = attempts + 1, next_attempt = ?2, last_error = ?3, lease_until = NULL WHERE notice_id = ?1",
            &[&micros(next_attempt), &error],
        )
    }

    fn dead_letter(&mut self, id: NoticeId, error: &str) -> Result<(), StoreError> {
        self.update_one(
            id,
            "UPDATE outbox SET status = 'dead_letter', attempts = attempts + 1, last_error = ?2, lease_until = NULL WHERE notice_id = ?1",
            &[&error],
        )
    }

    fn dead_letters(&mut self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.select_entries(
            "SELECT programme_id, notice, status, attempts, next_attempt, last_error FROM outbox WHERE status = 'dead_letter' ORDER BY seq LIMIT ?1",
            &[&limit],
        )
    }

    fn requeue(&mut self, id: NoticeId, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.update_one(
            id,
            "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt = ?2, lease_until = NULL WHERE notice_id = ?1",
            &[&micros(now)],
        )
    }
}

impl SqliteStore {
    /// Every outbox entry of `programme` in the order queued (for inspection and tests).
    pub fn outbox_entries(
        &mut self,
        programme: &ProgrammeId,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        self.feed()?;
        self.select_entries(
            "SELECT programme_id, notice, status, attempts, next_attempt, last_error FROM outbox WHERE programme_id = ?1 ORDER BY seq",
            &[&programme.as_str()],
        )
    }

    /// The name of an outbox status as stored.
    pub fn status_name(status: OutboxStatus) -> &'static str {
        status_name(status)
    }
}
