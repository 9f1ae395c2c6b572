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
//! - [`SqliteRecords`] keeps the sign-in records of `grantflow-accounts`
//!   (accounts, codes, sessions, throttles) in the same file, in tables of
//!   their own.
//! - [`SCHEMA_VERSION`] is the schema this crate writes; a file of a newer
//!   one is refused with [`StoreError::SchemaTooNew`] before anything is written.
//!
//! The code is laid out by what it stores: the crate root holds
//! [`SqliteStore`] and its opening; `options` the opening options; `schema`
//! the tables, [`SCHEMA_VERSION`] and the migrations run by
//! [`SqliteStore::open`]; `append` the write transaction every append goes
//! through; `event_store` the [`EventStore`] port (loads, versions, command
//! records, snapshots), which appends through `append`; `feed` the move of
//! notices from event rows into the outbox table, which `append` and
//! `outbox` both run; `outbox` the [`Outbox`] port (claims, acknowledgements,
//! retries, dead letters); `columns` how instants, versions and statuses
//! are written in columns; `error` the mapping of SQLite errors to
//! [`StoreError`].
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
//!
//! [`Event::from_json`]: grantflow_core::Event::from_json
//! [`EventStore`]: grantflow_core::EventStore
//! [`Outbox`]: grantflow_core::Outbox
//! [`Outbox::claim`]: grantflow_core::Outbox::claim
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations, missing_docs)]

mod append;
mod columns;
mod error;
mod event_store;
mod feed;
mod options;
mod outbox;
mod records;
mod schema;

pub use options::{SqliteOptions, Synchronous};
pub use records::SqliteRecords;
pub use schema::SCHEMA_VERSION;

use std::path::{Path, PathBuf};

use grantflow_core::StoreError;
use rusqlite::{Connection, OpenFlags};

use error::{describe, error_of};

/// An event store in one SQLite file. Each handle is one connection; open
/// one per thread or process (they coordinate through the file's locks).
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    options: SqliteOptions,
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

    /// Opens an existing store for reading only, for a file (or its
    /// directory) this process may not write. Nothing is created, migrated
    /// or changed; an append or any other write fails with a typed error.
    /// When the directory cannot hold the WAL's side files, the file is
    /// read as immutable (so a writer elsewhere must not change it while it
    /// is read).
    ///
    /// Errors: [`StoreError::Unavailable`] when the file cannot be read, is
    /// not a grantflow database, or has an older schema (open it once with
    /// write access to migrate it); [`StoreError::SchemaTooNew`] as for
    /// [`SqliteStore::open_with`].
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let options = SqliteOptions::default();
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let unavailable = |e: &rusqlite::Error| StoreError::Unavailable {
            detail: format!(
                "cannot open the SQLite database `{}` for reading: {}",
                path.display(),
                describe(e)
            ),
        };
        let mut last = None;
        for extra in ["mode=ro", "mode=ro&immutable=1"] {
            let uri = format!("file:{}?{extra}", uri_path(&path));
            let conn = match Connection::open_with_flags(&uri, flags) {
                Ok(conn) => conn,
                Err(e) => {
                    last = Some(unavailable(&e));
                    continue;
                }
            };
            let store = SqliteStore {
                conn,
                path: path.clone(),
                options,
            };
            match store.schema_version() {
                Ok(found) if found > SCHEMA_VERSION => {
                    return Err(StoreError::SchemaTooNew {
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
                Ok(found) if found < SCHEMA_VERSION => {
                    return Err(StoreError::Unavailable {
                        detail: format!(
                            "the SQLite database `{}` has schema version {found}, older than {SCHEMA_VERSION}, and cannot be migrated while it is read-only: open it once with write access",
                            path.display()
                        ),
                    });
                }
                Ok(_) => return Ok(store),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| StoreError::Unavailable {
            detail: format!("cannot open `{}` for reading", path.display()),
        }))
    }

    /// Whether this store was opened for reading only.
    pub fn is_read_only(&self) -> bool {
        self.conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false)
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
}

/// A path as the path part of a SQLite `file:` URI: every byte other than
/// letters, digits, `/`, `.`, `-` and `_` percent-encoded.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'-' | b'_') {
            out.push(char::from(*b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{SqliteStore, uri_path};
    use std::path::Path;

    #[test]
    fn given_a_path_with_uri_characters_when_made_a_uri_then_they_are_encoded() {
        assert_eq!(uri_path(Path::new("dir/g.db")), "dir/g.db");
        assert_eq!(
            uri_path(Path::new("/a b/x?y#z%.db")),
            "/a%20b/x%3Fy%23z%25.db"
        );
    }

    #[test]
    fn given_a_store_when_opened_read_only_then_it_reads_and_refuses_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a ? b.db");
        let writable = SqliteStore::open(&path).expect("open");
        assert!(!writable.is_read_only());
        drop(writable);
        let read_only = SqliteStore::open_read_only(&path).expect("open read-only");
        assert!(read_only.is_read_only());
        assert!(
            read_only
                .connection()
                .execute_batch("CREATE TABLE t (a)")
                .is_err()
        );
    }

    #[test]
    fn given_no_database_when_opened_read_only_then_it_is_refused_and_nothing_is_created() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("none.db");
        assert!(SqliteStore::open_read_only(&path).is_err());
        assert!(!path.exists());
    }
}
