//! Notices ride on their append's last event row; the feed moves them into
//! the outbox table, in append order and exactly once, before the outbox is read.

use grantflow_core::{Notice, ProgrammeId, StoreError};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::SqliteStore;
use crate::error::error_of;

/// Event rows with notices moved to the outbox table per step at most.
const FEED_CHUNK: usize = 1024;

/// Moves the notices of the event rows appended since the last call into
/// the outbox table, in the order they were appended, and records the last
/// rowid moved; whether there was anything new. Run inside a write
/// transaction, before any read of the outbox table; when nothing was
/// appended since, it only reads two values.
pub(crate) fn feed_outbox(
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
pub(crate) fn queue_notices(
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
    /// Moves notices still riding on their event rows into the outbox
    /// table, in a transaction of its own; whether any event row was new.
    pub(crate) fn feed(&mut self) -> Result<bool, StoreError> {
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
}
