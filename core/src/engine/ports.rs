//! Ports: what the engine needs from the outside, as traits. [`EventStore`]
//! keeps a programme's stream, its snapshots and the notice outbox;
//! [`Notifier`] delivers one [`Notice`]. Implementations live in adapter
//! crates; [`crate::engine::memory::InMemoryStore`] is the reference one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::messages::event::Event;
use crate::messages::ids::{CommandId, NoticeId, ProgrammeId};
use crate::messages::notices::Notice;
use crate::state::CommandRecord;

/// An event with its position in the stream (1-based).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    pub version: u64,
    pub event: Event,
}

/// A saved state: the JSON of a [`State`](crate::state::State) after
/// `version` events, without its command index ([`EventStore::command_records`]
/// answers for the commands it covers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub version: u64,
    /// Format version of the snapshot encoding; an unknown one is ignored (full replay).
    pub format: u32,
    pub data: String,
}

/// Where a notice stands in the outbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    /// Waiting for delivery (possibly after a failed attempt).
    Pending,
    /// Delivered and acknowledged.
    Delivered,
    /// Given up after the last retry or a permanent failure; can be re-queued.
    DeadLetter,
}

/// A notice in the outbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub programme: ProgrammeId,
    pub notice: Notice,
    pub status: OutboxStatus,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// Not to be tried before this time.
    pub next_attempt: DateTime<Utc>,
    /// The last delivery error, if any.
    pub last_error: Option<String>,
}

/// Why a store could not do what was asked. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another writer appended first; reload and decide again.
    #[error(
        "version conflict on programme `{programme}`: expected version {expected}, the stream is at {actual}; reload and retry"
    )]
    Conflict {
        programme: ProgrammeId,
        expected: u64,
        actual: u64,
    },
    /// A stored row cannot be read.
    #[error("stored event {version} of programme `{programme}` is unreadable: {detail}")]
    Corrupt {
        programme: ProgrammeId,
        version: u64,
        detail: String,
    },
    /// The database was written by a newer grantflow.
    #[error(
        "the database schema version {found} is newer than this grantflow supports ({supported}): upgrade grantflow"
    )]
    SchemaTooNew { found: u32, supported: u32 },
    /// The database cannot be reached or is locked.
    #[error("the store is unavailable: {detail}")]
    Unavailable { detail: String },
    /// A notice id the outbox does not hold.
    #[error("no notice {0} in the outbox")]
    UnknownNotice(NoticeId),
    /// Any other failure of the backend.
    #[error("storage error: {detail}")]
    Backend { detail: String },
}

/// A programme's event stream, snapshots and outbox.
///
/// `append` is atomic: the events and notices are all written, or none are.
pub trait EventStore {
    /// Up to `limit` events after `after` (0 = from the start), in order.
    fn load(
        &mut self,
        programme: &ProgrammeId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Recorded>, StoreError>;

    /// Hands the events [`EventStore::load`] would return to `each`, in
    /// order, until `each` returns `false`; returns how many it handed over.
    /// A store error comes after the events before the failing row.
    ///
    /// The default loads the events as one page; a store may read and
    /// decode the next events while `each` runs (the engine folds its state
    /// this way).
    fn load_each(
        &mut self,
        programme: &ProgrammeId,
        after: u64,
        limit: usize,
        each: &mut dyn FnMut(Recorded) -> bool,
    ) -> Result<usize, StoreError> {
        let mut handed = 0;
        for r in self.load(programme, after, limit)? {
            handed += 1;
            if !each(r) {
                break;
            }
        }
        Ok(handed)
    }

    /// The stream's current version (0 when empty).
    fn version(&mut self, programme: &ProgrammeId) -> Result<u64, StoreError>;

    /// Appends `events` if the stream is at `expected`, with the notices they
    /// call for, atomically. Returns the new version; [`StoreError::Conflict`]
    /// when another writer got there first.
    fn append(
        &mut self,
        programme: &ProgrammeId,
        expected: u64,
        events: &[Event],
        notices: &[Notice],
    ) -> Result<u64, StoreError>;

    /// [`EventStore::append`] for the events of one command that the caller
    /// does not know to be new (an engine opened from a snapshot knows only
    /// the commands of the tail): if the stream already holds events of
    /// `command`, nothing is written and the answer is `Ok(None)`.
    ///
    /// The default asks [`EventStore::command_records`] first, then appends;
    /// a command recorded by another writer in between moves the version,
    /// so the append is refused as a conflict. A store may instead check
    /// inside the append's transaction, which saves a read.
    fn append_command(
        &mut self,
        programme: &ProgrammeId,
        expected: u64,
        command: &CommandId,
        events: &[Event],
        notices: &[Notice],
    ) -> Result<Option<u64>, StoreError> {
        if !self
            .command_records(programme, std::slice::from_ref(command))?
            .is_empty()
        {
            return Ok(None);
        }
        self.append(programme, expected, events, notices).map(Some)
    }

    /// Where the events of each of `commands` sit in the programme's stream:
    /// the version of its first event and how many it recorded, for each id
    /// that recorded any (ids with none are left out; order is not
    /// significant). One round trip for the whole slice, which may hold
    /// thousands of ids: a group commit asks for all of its commands at once.
    fn command_records(
        &mut self,
        programme: &ProgrammeId,
        commands: &[CommandId],
    ) -> Result<Vec<(CommandId, CommandRecord)>, StoreError>;

    /// The newest snapshot, if any.
    fn load_snapshot(&mut self, programme: &ProgrammeId) -> Result<Option<Snapshot>, StoreError>;

    /// Saves a snapshot (replacing older ones is allowed).
    fn save_snapshot(
        &mut self,
        programme: &ProgrammeId,
        snapshot: &Snapshot,
    ) -> Result<(), StoreError>;
}

/// The notice outbox of a store.
pub trait Outbox {
    /// Claims up to `limit` pending notices due at `now`, hiding them from
    /// other claimers until `lease_until`.
    fn claim(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError>;
    /// Marks a notice delivered.
    fn acknowledge(&mut self, id: NoticeId) -> Result<(), StoreError>;
    /// Records a failed attempt; the notice is retried at `next_attempt`.
    fn retry_later(
        &mut self,
        id: NoticeId,
        next_attempt: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError>;
    /// Gives up on a notice.
    fn dead_letter(&mut self, id: NoticeId, error: &str) -> Result<(), StoreError>;
    /// Up to `limit` dead-lettered notices.
    fn dead_letters(&mut self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError>;
    /// Puts a dead-lettered notice back in the queue with its attempts reset.
    fn requeue(&mut self, id: NoticeId, now: DateTime<Utc>) -> Result<(), StoreError>;
}

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth trying again later (timeout, 5xx, 408, 429, connection refused).
    #[error("delivery failed, will retry: {0}")]
    Retryable(String),
    /// Will never succeed (4xx, invalid recipient): dead-letter at once.
    #[error("delivery failed permanently: {0}")]
    Permanent(String),
}

/// Delivers notices. Must be idempotent by [`Notice::id`]: delivering the
/// same notice twice may happen and is the receiver's to drop.
pub trait Notifier {
    /// Delivers one notice of `programme`.
    fn deliver(&self, programme: &ProgrammeId, notice: &Notice) -> Result<(), DeliveryError>;
}
