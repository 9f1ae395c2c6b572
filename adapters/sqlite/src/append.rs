//! The write path: every append goes through one immediate transaction
//! that checks the expected version (and the command id) before writing
//! its event rows.

use chrono::{DateTime, Utc};
use grantflow_core::{CommandId, Event, EventStore, Notice, ProgrammeId, StoreError};
use rusqlite::{Connection, ErrorCode, TransactionBehavior, params};

use crate::SqliteStore;
use crate::columns::{micros, to_i64, wall_clock_micros};
use crate::error::{code, error_of};
use crate::feed::{feed_outbox, queue_notices};

impl SqliteStore {
    pub(crate) fn current_version(
        tx: &Connection,
        programme: &ProgrammeId,
    ) -> rusqlite::Result<u64> {
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
    pub(crate) fn append_events(
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
