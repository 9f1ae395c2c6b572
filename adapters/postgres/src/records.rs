//! [`PgRecords`]: the sign-in records of `grantflow-accounts` in the same
//! PostgreSQL database (and schema) as the events, in tables of their own.

use chrono::{DateTime, Utc};
use grantflow_accounts::{Kind, RecordError, RecordStore};
use grantflow_core::StoreError;

use crate::{PgOptions, PostgresStore, map_error};

const TABLES: &str = "
CREATE TABLE IF NOT EXISTS sign_in_records (
    kind       text NOT NULL,
    key        text NOT NULL,
    body       text NOT NULL,
    expires_at bigint, -- milliseconds since 1970
    PRIMARY KEY (kind, key)
);
CREATE INDEX IF NOT EXISTS sign_in_records_expiry ON sign_in_records (expires_at)
    WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS sign_in_events (
    seq  bigserial PRIMARY KEY,
    body text NOT NULL
);";

/// The sign-in records (accounts, codes, sessions, throttles, setup links
/// and the sign-in trail) in a grantflow PostgreSQL database. Each call is
/// one statement, so several servers may share the database.
#[derive(Debug)]
pub struct PgRecords {
    store: PostgresStore,
}

impl PgRecords {
    /// Connects with [`PgOptions::default`]; see [`PgRecords::connect_with`].
    pub fn connect(url: &str) -> Result<PgRecords, StoreError> {
        Self::connect_with(url, PgOptions::default())
    }

    /// Connects as [`PostgresStore::connect_with`] does and creates the
    /// sign-in tables if missing (under a lock, so that servers starting
    /// together do not race).
    pub fn connect_with(url: &str, options: PgOptions) -> Result<PgRecords, StoreError> {
        let mut store = PostgresStore::connect_with(url, options)?;
        let target = store.target.clone();
        let mut tx = store
            .client
            .transaction()
            .map_err(|e| map_error(&target, e))?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('grantflow-sign-in-records'))",
            &[],
        )
        .and_then(|_| tx.batch_execute(TABLES))
        .map_err(|e| map_error(&target, e))?;
        tx.commit().map_err(|e| map_error(&target, e))?;
        Ok(PgRecords { store })
    }

    fn fail(&self, e: postgres::Error) -> RecordError {
        RecordError::Unavailable(map_error(&self.store.target, e).to_string())
    }
}

impl RecordStore for PgRecords {
    fn get(&mut self, kind: Kind, key: &str) -> Result<Option<String>, RecordError> {
        let row = self.store.client.query_opt(
            "SELECT body FROM sign_in_records WHERE kind = $1 AND key = $2",
            &[&kind.as_str(), &key],
        );
        row.map(|r| r.map(|r| r.get(0))).map_err(|e| self.fail(e))
    }

    fn put(
        &mut self,
        kind: Kind,
        key: &str,
        body: &str,
        expires: Option<DateTime<Utc>>,
    ) -> Result<(), RecordError> {
        let done = self.store.client.execute(
            "INSERT INTO sign_in_records (kind, key, body, expires_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body, expires_at = excluded.expires_at",
            &[
                &kind.as_str(),
                &key,
                &body,
                &expires.map(|t| t.timestamp_millis()),
            ],
        );
        done.map(|_| ()).map_err(|e| self.fail(e))
    }

    fn take(&mut self, kind: Kind, key: &str) -> Result<Option<String>, RecordError> {
        let row = self.store.client.query_opt(
            "DELETE FROM sign_in_records WHERE kind = $1 AND key = $2 RETURNING body",
            &[&kind.as_str(), &key],
        );
        row.map(|r| r.map(|r| r.get(0))).map_err(|e| self.fail(e))
    }

    fn list(&mut self, kind: Kind, limit: usize) -> Result<Vec<String>, RecordError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.store.client.query(
            "SELECT body FROM sign_in_records WHERE kind = $1 ORDER BY key COLLATE \"C\" LIMIT $2",
            &[&kind.as_str(), &limit],
        );
        rows.map(|rows| rows.iter().map(|r| r.get(0)).collect())
            .map_err(|e| self.fail(e))
    }

    fn purge(&mut self, now: DateTime<Utc>) -> Result<u64, RecordError> {
        let done = self.store.client.execute(
            "DELETE FROM sign_in_records WHERE expires_at < $1",
            &[&now.timestamp_millis()],
        );
        done.map_err(|e| self.fail(e))
    }

    fn append_event(&mut self, body: &str) -> Result<(), RecordError> {
        let done = self
            .store
            .client
            .execute("INSERT INTO sign_in_events (body) VALUES ($1)", &[&body]);
        done.map(|_| ()).map_err(|e| self.fail(e))
    }

    fn events(&mut self, limit: usize) -> Result<Vec<String>, RecordError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.store.client.query(
            "SELECT body FROM sign_in_events ORDER BY seq DESC LIMIT $1",
            &[&limit],
        );
        rows.map(|rows| rows.iter().map(|r| r.get(0)).collect())
            .map_err(|e| self.fail(e))
    }
}
