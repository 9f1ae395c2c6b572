//! The core's [`Outbox`] port: claims with leases, acknowledgements,
//! retries, dead letters and requeues on the outbox table.

use chrono::{DateTime, Utc};
use grantflow_core::{
    Notice, NoticeId, Outbox, OutboxEntry, OutboxStatus, ProgrammeId, StoreError,
};
use rusqlite::{Connection, TransactionBehavior, params};

use crate::SqliteStore;
use crate::columns::{from_micros, micros, parse_status, status_name};
use crate::error::error_of;
use crate::feed::feed_outbox;

type OutboxRow = (String, String, String, i64, i64, Option<String>);

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
