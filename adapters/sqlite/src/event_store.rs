//! The core's [`EventStore`] port: loading a stream row by row, its
//! version, appends (written by `append`), command records and snapshots.

use grantflow_core::CommandRecord;
use grantflow_core::Snapshot;
use grantflow_core::{CommandId, Event, EventStore, Notice, ProgrammeId, Recorded, StoreError};
use rusqlite::{OptionalExtension, params};

use crate::SqliteStore;
use crate::columns::{to_i64, wall_clock_micros};
use crate::error::error_of;

impl SqliteStore {
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
