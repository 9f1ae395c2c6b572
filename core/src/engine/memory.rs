//! [`InMemoryStore`]: the reference [`EventStore`] and [`Outbox`], held in
//! memory behind a mutex so that clones share one store (several engines,
//! several threads). For tests, scenarios and embedding without persistence.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use crate::engine::ports::{
    EventStore, Outbox, OutboxEntry, OutboxStatus, Recorded, Snapshot, StoreError,
};
use crate::messages::event::Event;
use crate::messages::ids::{CommandId, NoticeId, ProgrammeId};
use crate::messages::notices::Notice;
use crate::state::CommandRecord;

#[derive(Debug, Default)]
struct Inner {
    streams: HashMap<ProgrammeId, Vec<Event>>,
    /// Per programme, where each command's events sit (the stores' command index).
    commands: HashMap<ProgrammeId, HashMap<CommandId, CommandRecord>>,
    snapshots: HashMap<ProgrammeId, Snapshot>,
    outbox: Vec<(OutboxEntry, Option<DateTime<Utc>>)>,
}

/// A shared in-memory store; `clone` gives another handle to the same data.
#[derive(Clone, Debug, Default)]
pub struct InMemoryStore {
    inner: Arc<Mutex<Inner>>,
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, StoreError> {
        self.inner.lock().map_err(|_| StoreError::Unavailable {
            detail: "a thread panicked while holding the in-memory store".into(),
        })
    }

    /// Every outbox entry, in insertion order (for inspection and tests).
    pub fn outbox_entries(&self) -> Vec<OutboxEntry> {
        self.lock()
            .map(|g| g.outbox.iter().map(|(e, _)| e.clone()).collect())
            .unwrap_or_default()
    }
}

impl EventStore for InMemoryStore {
    fn load(
        &mut self,
        programme: &ProgrammeId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Recorded>, StoreError> {
        let g = self.lock()?;
        let Some(events) = g.streams.get(programme) else {
            return Ok(Vec::new());
        };
        let start = usize::try_from(after)
            .unwrap_or(usize::MAX)
            .min(events.len());
        Ok(events[start..]
            .iter()
            .take(limit)
            .enumerate()
            .map(|(i, e)| Recorded {
                version: after + i as u64 + 1,
                event: e.clone(),
            })
            .collect())
    }

    fn version(&mut self, programme: &ProgrammeId) -> Result<u64, StoreError> {
        Ok(self
            .lock()?
            .streams
            .get(programme)
            .map_or(0, |s| s.len() as u64))
    }

    fn append(
        &mut self,
        programme: &ProgrammeId,
        expected: u64,
        events: &[Event],
        notices: &[Notice],
    ) -> Result<u64, StoreError> {
        let mut g = self.lock()?;
        let stream = g.streams.entry(programme.clone()).or_default();
        let actual = stream.len() as u64;
        if actual != expected {
            return Err(StoreError::Conflict {
                programme: programme.clone(),
                expected,
                actual,
            });
        }
        stream.extend_from_slice(events);
        let version = stream.len() as u64;
        let index = g.commands.entry(programme.clone()).or_default();
        for (i, e) in events.iter().enumerate() {
            index
                .entry(e.command)
                .or_insert(CommandRecord::located(expected + i as u64 + 1, 0))
                .events += 1;
        }
        let now = events
            .last()
            .map(|e| e.at)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        for n in notices {
            if g.outbox.iter().any(|(e, _)| e.notice.id == n.id) {
                continue;
            }
            g.outbox.push((
                OutboxEntry {
                    programme: programme.clone(),
                    notice: n.clone(),
                    status: OutboxStatus::Pending,
                    attempts: 0,
                    next_attempt: now,
                    last_error: None,
                },
                None,
            ));
        }
        Ok(version)
    }

    fn command_records(
        &mut self,
        programme: &ProgrammeId,
        commands: &[CommandId],
    ) -> Result<Vec<(CommandId, CommandRecord)>, StoreError> {
        let g = self.lock()?;
        let Some(index) = g.commands.get(programme) else {
            return Ok(Vec::new());
        };
        let mut out: Vec<(CommandId, CommandRecord)> = commands
            .iter()
            .filter_map(|id| index.get(id).map(|r| (*id, *r)))
            .collect();
        out.sort_unstable_by_key(|(id, _)| *id);
        out.dedup_by_key(|(id, _)| *id);
        Ok(out)
    }

    fn load_snapshot(&mut self, programme: &ProgrammeId) -> Result<Option<Snapshot>, StoreError> {
        Ok(self.lock()?.snapshots.get(programme).cloned())
    }

    fn save_snapshot(
        &mut self,
        programme: &ProgrammeId,
        snapshot: &Snapshot,
    ) -> Result<(), StoreError> {
        self.lock()?
            .snapshots
            .insert(programme.clone(), snapshot.clone());
        Ok(())
    }
}

impl InMemoryStore {
    fn with_entry<T>(
        &self,
        id: NoticeId,
        f: impl FnOnce(&mut OutboxEntry, &mut Option<DateTime<Utc>>) -> T,
    ) -> Result<T, StoreError> {
        let mut g = self.lock()?;
        let (entry, lease) = g
            .outbox
            .iter_mut()
            .find(|(e, _)| e.notice.id == id)
            .ok_or(StoreError::UnknownNotice(id))?;
        Ok(f(entry, lease))
    }
}

impl Outbox for InMemoryStore {
    fn claim(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut g = self.lock()?;
        let mut out = Vec::new();
        for (entry, lease) in g.outbox.iter_mut() {
            if out.len() >= limit {
                break;
            }
            let leased = lease.is_some_and(|l| l > now);
            if entry.status == OutboxStatus::Pending && entry.next_attempt <= now && !leased {
                *lease = Some(lease_until);
                out.push(entry.clone());
            }
        }
        Ok(out)
    }

    fn acknowledge(&mut self, id: NoticeId) -> Result<(), StoreError> {
        self.with_entry(id, |e, lease| {
            e.status = OutboxStatus::Delivered;
            e.attempts += 1;
            *lease = None;
        })
    }

    fn retry_later(
        &mut self,
        id: NoticeId,
        next_attempt: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        self.with_entry(id, |e, lease| {
            e.attempts += 1;
            e.next_attempt = next_attempt;
            e.last_error = Some(error.to_string());
            *lease = None;
        })
    }

    fn dead_letter(&mut self, id: NoticeId, error: &str) -> Result<(), StoreError> {
        self.with_entry(id, |e, lease| {
            e.attempts += 1;
            e.status = OutboxStatus::DeadLetter;
            e.last_error = Some(error.to_string());
            *lease = None;
        })
    }

    fn dead_letters(&mut self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        let g = self.lock()?;
        Ok(g.outbox
            .iter()
            .filter(|(e, _)| e.status == OutboxStatus::DeadLetter)
            .take(limit)
            .map(|(e, _)| e.clone())
            .collect())
    }

    fn requeue(&mut self, id: NoticeId, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.with_entry(id, |e, lease| {
            e.status = OutboxStatus::Pending;
            e.attempts = 0;
            e.next_attempt = now;
            *lease = None;
        })
    }
}
