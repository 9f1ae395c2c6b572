//! The [`Engine`]: load, decide, append, retry. Generic over an
//! [`EventStore`], it keeps a programme's [`State`] in memory, decides each
//! command against it, appends the events and their notices with the
//! expected version, and on a version conflict reloads and decides again (a
//! bounded number of times). It does no I/O of its own.
//!
//! Idempotency: a command id seen before returns the outcome it recorded.
//! A snapshot holds the state without the command index (that grows with
//! the history, not the state), so an engine opened from a snapshot knows
//! only the commands of the tail; for any other id it asks the store
//! ([`EventStore::command_records`], one query per command or per group
//! commit). An engine whose state was folded from the first event in this
//! process holds every command and asks nothing.

pub(crate) mod memory;
pub(crate) mod ports;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::decide::{decide, decide_into, reused_id};
use crate::engine::ports::{EventStore, Recorded, StoreError};
use crate::messages::command::Command;
use crate::messages::event::Event;
use crate::messages::ids::{CommandId, ProgrammeId};
use crate::messages::notices::notices;
use crate::messages::rejection::Rejection;
use crate::state::{ReplayError, State, evolve};

pub use crate::state::snapshot::SNAPSHOT_FORMAT;

/// What a command did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Applied now: these events were recorded (none for a tick with nothing due).
    Applied {
        events: Vec<Recorded>,
        notices: usize,
    },
    /// The command id was applied before; these are the events it recorded then.
    Duplicate { events: Vec<Recorded> },
}

impl Outcome {
    /// The events of the outcome.
    pub fn events(&self) -> &[Recorded] {
        match self {
            Outcome::Applied { events, .. } | Outcome::Duplicate { events } => events,
        }
    }
}

/// Why the engine did not apply a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The domain refused the command; nothing was written.
    #[error("rejected: {0}")]
    Rejected(Rejection),
    /// The store failed; nothing was written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored stream does not replay.
    #[error("the stored stream does not replay: {0}")]
    Replay(#[from] ReplayError),
    /// A group commit larger than [`EngineConfig::max_batch`].
    #[error(
        "a batch of {given} commands is larger than the limit of {max}: split it (see `execute_many`)"
    )]
    BatchTooLarge { given: usize, max: usize },
    /// Other writers kept winning the race.
    #[error(
        "gave up after {attempts} version conflicts: too many concurrent writers on this programme"
    )]
    Contention { attempts: u32 },
}

/// Engine settings.
#[derive(Clone, Copy, Debug)]
pub struct EngineConfig {
    /// Save a snapshot each time the version crosses a multiple of this (0 = never).
    pub snapshot_every: u64,
    /// Version conflicts tolerated per command before [`EngineError::Contention`].
    pub max_conflict_retries: u32,
    /// Events read per load call.
    pub load_page: usize,
    /// Commands in one group commit at most.
    pub max_batch: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            snapshot_every: 10_000,
            max_conflict_retries: 16,
            load_page: 10_000,
            max_batch: 10_000,
        }
    }
}

/// One command's place in a group commit.
enum Slot {
    /// Decided: its events are `all_events[start..end]`, with `notices` notices.
    Decided {
        start: usize,
        end: usize,
        notices: usize,
    },
    /// Settled without writing: a duplicate or a rejection.
    Done(Result<Outcome, Rejection>),
}

/// Runs commands against one programme's stream.
#[derive(Debug)]
pub struct Engine<S> {
    store: S,
    programme: ProgrammeId,
    state: State,
    config: EngineConfig,
    /// Whether `state.commands` holds every command of the stream (the
    /// state was folded from the first event here); if not, the store
    /// answers for the ids it lacks.
    complete_index: bool,
}

impl<S: EventStore> Engine<S> {
    /// Opens the programme's stream: the newest usable snapshot, then the tail.
    pub fn open(store: S, programme: ProgrammeId) -> Result<Self, EngineError> {
        Self::with_config(store, programme, EngineConfig::default())
    }

    /// Opens with explicit settings.
    pub fn with_config(
        store: S,
        programme: ProgrammeId,
        config: EngineConfig,
    ) -> Result<Self, EngineError> {
        let mut engine = Engine {
            store,
            programme,
            state: State::default(),
            config,
            complete_index: true,
        };
        engine.reload()?;
        Ok(engine)
    }

    /// The state as of the last load or command. Its command index
    /// ([`State::commands`]) may hold only the commands since the snapshot
    /// it was opened from (and those asked about since).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The programme id.
    pub fn programme(&self) -> &ProgrammeId {
        &self.programme
    }

    /// The store.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// Gives the store back.
    pub fn into_store(self) -> S {
        self.store
    }

    /// Rebuilds the state from the newest snapshot and the tail of the
    /// stream (from the first event when there is no usable snapshot).
    pub fn reload(&mut self) -> Result<(), EngineError> {
        let snapshot = match self.store.load_snapshot(&self.programme)? {
            // An unreadable snapshot costs only time: the stream is replayed.
            Some(s) => State::from_snapshot(&s).ok(),
            None => None,
        };
        self.complete_index = snapshot.is_none();
        self.state = snapshot.unwrap_or_default();
        self.catch_up()
    }

    /// Rebuilds the state by replaying every event, ignoring snapshots.
    pub fn replay_all(&mut self) -> Result<(), EngineError> {
        self.state = State::default();
        self.complete_index = true;
        self.catch_up()
    }

    /// Makes the state's command index answer for `ids`: unless it is
    /// complete, asks the store (one query) about the ids it lacks and keeps
    /// the answers. A command the store has beyond the state's version is
    /// folded in by catching up.
    fn look_up_commands<'a>(
        &mut self,
        ids: impl IntoIterator<Item = &'a CommandId>,
    ) -> Result<(), EngineError> {
        if self.complete_index {
            return Ok(());
        }
        let mut missing: Vec<CommandId> = ids
            .into_iter()
            .filter(|id| !self.state.commands.contains_key(id))
            .copied()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        missing.sort_unstable();
        missing.dedup();
        let found = self.store.command_records(&self.programme, &missing)?;
        let mut behind = false;
        for (id, record) in found {
            if record.first_version > self.state.version {
                behind = true;
            } else {
                std::sync::Arc::make_mut(&mut self.state.commands).insert(id, record);
            }
        }
        if behind {
            self.catch_up()?;
        }
        Ok(())
    }

    /// Applies events other writers appended since the last load.
    ///
    /// Each event is folded as the store hands it over
    /// ([`EventStore::load_each`]), so a store can read and decode the next
    /// ones meanwhile.
    pub fn catch_up(&mut self) -> Result<(), EngineError> {
        loop {
            let after = self.state.version;
            let (programme, state) = (&self.programme, &mut self.state);
            let mut failed = None;
            let n =
                self.store.load_each(
                    programme,
                    after,
                    self.config.load_page,
                    &mut |r| match fold(programme, state, &r) {
                        Ok(()) => true,
                        Err(e) => {
                            failed = Some(e);
                            false
                        }
                    },
                )?;
            if let Some(e) = failed {
                return Err(e);
            }
            if n < self.config.load_page {
                return Ok(());
            }
        }
    }

    /// Saves a snapshot of the current state now.
    pub fn snapshot(&mut self) -> Result<(), EngineError> {
        let snap = self.state.to_snapshot().map_err(|e| StoreError::Backend {
            detail: format!("cannot encode snapshot: {e}"),
        })?;
        self.store.save_snapshot(&self.programme, &snap)?;
        Ok(())
    }

    fn recorded_events(&mut self, first: u64, count: u32) -> Result<Vec<Recorded>, EngineError> {
        Ok(self
            .store
            .load(&self.programme, first - 1, count as usize)?)
    }

    fn maybe_snapshot(&mut self, before: u64) -> Result<(), EngineError> {
        let every = self.config.snapshot_every;
        if every > 0 && self.state.version / every > before / every {
            self.snapshot()?;
        }
        Ok(())
    }

    /// Decides and records one command at `now`. A command id seen before
    /// returns [`Outcome::Duplicate`] with the events it recorded then.
    pub fn execute(
        &mut self,
        command: &Command,
        now: DateTime<Utc>,
    ) -> Result<Outcome, EngineError> {
        let mut conflicts = 0;
        loop {
            if let Some(rec) = self.state.commands.get(&command.id).copied() {
                let events = self.recorded_events(rec.first_version, rec.events)?;
                return repeat(command, events).map_err(EngineError::Rejected);
            }
            // An engine opened from a snapshot knows only the tail's commands.
            // It asks the store about this one inside the append's transaction
            // when the command decides to events, and separately only when it
            // is refused or records nothing (a repeat answers instead).
            let ask_store = !self.complete_index;
            let decided = decide(&self.state, command, now);
            if ask_store && decided.as_ref().map_or(true, Vec::is_empty) {
                self.look_up_commands([&command.id])?;
                if self.state.commands.contains_key(&command.id) {
                    continue;
                }
            }
            let events = match decided {
                Ok(events) => events,
                Err(rejection) => {
                    // The cached state may be behind the stream (another
                    // instance appended): refuse only what the newest state refuses.
                    let seen = self.state.version;
                    self.catch_up()?;
                    if self.state.version == seen || conflicts >= self.config.max_conflict_retries {
                        return Err(EngineError::Rejected(rejection));
                    }
                    conflicts += 1;
                    continue;
                }
            };
            if events.is_empty() {
                return Ok(Outcome::Applied {
                    events: Vec::new(),
                    notices: 0,
                });
            }
            let notes = notices(&self.state, &events);
            let before = self.state.version;
            let appended = if ask_store {
                self.store
                    .append_command(&self.programme, before, &command.id, &events, &notes)
            } else {
                self.store
                    .append(&self.programme, before, &events, &notes)
                    .map(Some)
            };
            match appended {
                Ok(None) if conflicts < self.config.max_conflict_retries => {
                    // Recorded before the snapshot: answer as the repeat it is.
                    conflicts += 1;
                    self.look_up_commands([&command.id])?;
                }
                Ok(None) => {
                    return Err(EngineError::Contention {
                        attempts: conflicts + 1,
                    });
                }
                Ok(Some(_)) => {
                    let recorded = self.apply_all(events)?;
                    self.maybe_snapshot(before)?;
                    return Ok(Outcome::Applied {
                        events: recorded,
                        notices: notes.len(),
                    });
                }
                Err(StoreError::Conflict { .. })
                    if conflicts < self.config.max_conflict_retries =>
                {
                    conflicts += 1;
                    self.catch_up()?;
                }
                Err(StoreError::Conflict { .. }) => {
                    return Err(EngineError::Contention {
                        attempts: conflicts + 1,
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn apply_all(&mut self, events: Vec<Event>) -> Result<Vec<Recorded>, EngineError> {
        let mut out = Vec::with_capacity(events.len());
        for event in events {
            evolve(&mut self.state, &event)?;
            out.push(Recorded {
                version: self.state.version,
                event,
            });
        }
        Ok(out)
    }

    /// Group commit: decides each command in order against the state left by
    /// the ones before it and appends all their events in one transaction.
    /// A rejected command is reported in its slot and writes nothing. At most
    /// [`EngineConfig::max_batch`] commands ([`Engine::execute_many`] splits larger runs).
    pub fn execute_batch(
        &mut self,
        commands: &[(Command, DateTime<Utc>)],
    ) -> Result<Vec<Result<Outcome, Rejection>>, EngineError> {
        if commands.len() > self.config.max_batch {
            return Err(EngineError::BatchTooLarge {
                given: commands.len(),
                max: self.config.max_batch,
            });
        }
        let mut conflicts = 0;
        // Decide the batch on the newest state: one read, not one per command.
        self.catch_up()?;
        loop {
            // Commands from before the snapshot: one question to the store for the batch.
            self.look_up_commands(commands.iter().map(|(c, _)| &c.id))?;
            self.state.prefetch(commands.iter().map(|(c, _)| c));
            let before = self.state.version;
            let mut all_events = Vec::new();
            let mut all_notices = Vec::new();
            let mut slots: Vec<Slot> = Vec::with_capacity(commands.len());
            let mut decided: Vec<Event> = Vec::new();
            let mut failed = None;
            for (command, now) in commands {
                if let Some(rec) = self.state.commands.get(&command.id).copied() {
                    if rec.first_version <= before {
                        match self.recorded_events(rec.first_version, rec.events) {
                            Ok(events) => slots.push(Slot::Done(repeat(command, events))),
                            Err(e) => {
                                failed = Some(e);
                                break;
                            }
                        }
                    } else {
                        let start = (rec.first_version - before - 1) as usize;
                        let events = all_events[start..start + rec.events as usize]
                            .iter()
                            .enumerate()
                            .map(|(i, e): (usize, &Event)| Recorded {
                                version: rec.first_version + i as u64,
                                event: e.clone(),
                            })
                            .collect();
                        slots.push(Slot::Done(repeat(command, events)));
                    }
                    continue;
                }
                match decide_into(&self.state, command, *now, &mut decided) {
                    Err(r) => slots.push(Slot::Done(Err(r))),
                    Ok(()) => {
                        let queued = notices(&self.state, &decided);
                        let notice_count = queued.len();
                        all_notices.extend(queued);
                        let start = all_events.len();
                        for e in &decided {
                            if let Err(err) = evolve(&mut self.state, e) {
                                failed = Some(err.into());
                                break;
                            }
                        }
                        all_events.append(&mut decided);
                        slots.push(Slot::Decided {
                            start,
                            end: all_events.len(),
                            notices: notice_count,
                        });
                    }
                }
                if failed.is_some() {
                    break;
                }
            }
            if let Some(e) = failed {
                self.reload()?;
                return Err(e);
            }
            let result = if all_events.is_empty() {
                Ok(before)
            } else {
                self.store
                    .append(&self.programme, before, &all_events, &all_notices)
            };
            match result {
                Ok(_) => {
                    self.maybe_snapshot(before)?;
                    return Ok(slots
                        .into_iter()
                        .map(|slot| match slot {
                            Slot::Decided {
                                start,
                                end,
                                notices,
                            } => Ok(Outcome::Applied {
                                events: all_events[start..end]
                                    .iter()
                                    .enumerate()
                                    .map(|(i, e)| Recorded {
                                        version: before + (start + i) as u64 + 1,
                                        event: e.clone(),
                                    })
                                    .collect(),
                                notices,
                            }),
                            Slot::Done(done) => done,
                        })
                        .collect());
                }
                Err(StoreError::Conflict { .. })
                    if conflicts < self.config.max_conflict_retries =>
                {
                    conflicts += 1;
                    self.reload()?;
                }
                Err(StoreError::Conflict { .. }) => {
                    self.reload()?;
                    return Err(EngineError::Contention {
                        attempts: conflicts + 1,
                    });
                }
                Err(e) => {
                    self.reload()?;
                    return Err(e.into());
                }
            }
        }
    }

    /// Runs any number of commands as group commits of at most `max_batch` each.
    pub fn execute_many(
        &mut self,
        commands: &[(Command, DateTime<Utc>)],
    ) -> Result<Vec<Result<Outcome, Rejection>>, EngineError> {
        let mut out = Vec::with_capacity(commands.len());
        for chunk in commands.chunks(self.config.max_batch.max(1)) {
            out.extend(self.execute_batch(chunk)?);
        }
        Ok(out)
    }
}

/// Folds the next recorded event into `state`, which must be at the version before it.
/// The answer to a command whose id was recorded with `events`: its first
/// outcome when it is the same command, `command_id_reused` when not.
fn repeat(command: &Command, events: Vec<Recorded>) -> Result<Outcome, Rejection> {
    let origin = events
        .first()
        .and_then(|first| first.event.origin.map(|o| (o, first.event.at)));
    if let Some(rejection) = reused_id(command, origin) {
        return Err(rejection);
    }
    Ok(Outcome::Duplicate { events })
}

fn fold(programme: &ProgrammeId, state: &mut State, r: &Recorded) -> Result<(), EngineError> {
    if r.version != state.version + 1 {
        return Err(StoreError::Corrupt {
            programme: programme.clone(),
            version: r.version,
            detail: format!("expected version {}", state.version + 1),
        }
        .into());
    }
    evolve(state, &r.event)?;
    Ok(())
}
