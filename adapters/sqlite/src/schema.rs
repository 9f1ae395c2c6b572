//! The tables: [`SCHEMA_VERSION`], the migrations that create and upgrade
//! them, and the reading of the version a file records.

use grantflow_core::StoreError;
use rusqlite::{OptionalExtension, TransactionBehavior};

use crate::SqliteStore;
use crate::error::error_of;

/// The schema version this crate creates and reads.
pub const SCHEMA_VERSION: u32 = 2;

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

impl SqliteStore {
    pub(crate) fn schema_version(&self) -> Result<u32, StoreError> {
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

    pub(crate) fn migrate(&mut self) -> Result<(), StoreError> {
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
}
