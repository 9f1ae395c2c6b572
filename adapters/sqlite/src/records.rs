//! [`SqliteRecords`]: the sign-in records of `grantflow-accounts` in the
//! same SQLite file as the events, in tables of their own.

use std::path::Path;

use chrono::{DateTime, Utc};
use grantflow_accounts::{Kind, RecordError, RecordStore};
use grantflow_core::StoreError;
use rusqlite::{OptionalExtension, params};

use crate::error::describe;
use crate::{SqliteOptions, SqliteStore};

const TABLES: &str = "
CREATE TABLE IF NOT EXISTS sign_in_records (
    kind       TEXT NOT NULL,
    key        TEXT NOT NULL,
    body       TEXT NOT NULL,
    expires_at INTEGER,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sign_in_records_expiry ON sign_in_records (expires_at)
    WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS sign_in_events (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    body TEXT NOT NULL
);";

/// The sign-in records (accounts, codes, sessions, throttles, setup links
/// and the sign-in trail) in a grantflow SQLite file. Each call is one
/// statement, so several connections and processes may share the file.
#[derive(Debug)]
pub struct SqliteRecords {
    store: SqliteStore,
}

impl SqliteRecords {
    /// Opens the records in the database at `path`, creating the file and
    /// the tables if missing.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteRecords, StoreError> {
        let store = SqliteStore::open_with(path, SqliteOptions::default())?;
        store
            .conn
            .execute_batch(TABLES)
            .map_err(|e| store.error(e))?;
        Ok(SqliteRecords { store })
    }

    fn fail(&self, e: rusqlite::Error) -> RecordError {
        RecordError::Unavailable(format!(
            "SQLite `{}`: {}",
            self.store.path.display(),
            describe(&e)
        ))
    }
}

impl RecordStore for SqliteRecords {
    fn get(&mut self, kind: Kind, key: &str) -> Result<Option<String>, RecordError> {
        self.store
            .conn
            .prepare_cached("SELECT body FROM sign_in_records WHERE kind = ?1 AND key = ?2")
            .and_then(|mut s| {
                s.query_row(params![kind.as_str(), key], |r| r.get(0))
                    .optional()
            })
            .map_err(|e| self.fail(e))
    }

    fn put(
        &mut self,
        kind: Kind,
        key: &str,
        body: &str,
        expires: Option<DateTime<Utc>>,
    ) -> Result<(), RecordError> {
        self.store
            .conn
            .prepare_cached(
                "INSERT INTO sign_in_records (kind, key, body, expires_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body, expires_at = excluded.expires_at",
            )
            .and_then(|mut s| {
                s.execute(params![
                    kind.as_str(),
                    key,
                    body,
                    expires.map(|t| t.timestamp_millis())
                ])
            })
            .map(|_| ())
            .map_err(|e| self.fail(e))
    }

    fn take(&mut self, kind: Kind, key: &str) -> Result<Option<String>, RecordError> {
        self.store
            .conn
            .prepare_cached(
                "DELETE FROM sign_in_records WHERE kind = ?1 AND key = ?2 RETURNING body",
            )
            .and_then(|mut s| {
                s.query_row(params![kind.as_str(), key], |r| r.get(0))
                    .optional()
            })
            .map_err(|e| self.fail(e))
    }

    fn list(&mut self, kind: Kind, limit: usize) -> Result<Vec<String>, RecordError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.store
            .conn
            .prepare_cached(
                "SELECT body FROM sign_in_records WHERE kind = ?1 ORDER BY key LIMIT ?2",
            )
            .and_then(|mut s| {
                s.query_map(params![kind.as_str(), limit], |r| r.get(0))?
                    .collect()
            })
            .map_err(|e| self.fail(e))
    }

    fn purge(&mut self, now: DateTime<Utc>) -> Result<u64, RecordError> {
        self.store
            .conn
            .prepare_cached("DELETE FROM sign_in_records WHERE expires_at < ?1")
            .and_then(|mut s| s.execute(params![now.timestamp_millis()]))
            .map(|n| n as u64)
            .map_err(|e| self.fail(e))
    }

    fn append_event(&mut self, body: &str) -> Result<(), RecordError> {
        self.store
            .conn
            .prepare_cached("INSERT INTO sign_in_events (body) VALUES (?1)")
            .and_then(|mut s| s.execute(params![body]))
            .map(|_| ())
            .map_err(|e| self.fail(e))
    }

    fn events(&mut self, limit: usize) -> Result<Vec<String>, RecordError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.store
            .conn
            .prepare_cached("SELECT body FROM sign_in_events ORDER BY seq DESC LIMIT ?1")
            .and_then(|mut s| s.query_map(params![limit], |r| r.get(0))?.collect())
            .map_err(|e| self.fail(e))
    }
}
