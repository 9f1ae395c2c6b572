//! [`Engines`]: one [`Engine`] per programme over stores from one opener,
//! behind the object-safe [`Programmes`] that the routes call.
//!
//! The store ports are synchronous; the routes call these from blocking
//! tasks, one at a time (a mutex), and commands through the server's group
//! commit, so a server's own requests never race each other, and several servers on one PostgreSQL database race only as
//! engines do: a lost append is a version conflict, decided again.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use chrono::{DateTime, Utc};
use grantflow_core::{
    Command, Engine, EngineError, EventStore, Outbox, Outcome, ProgrammeId, Recorded, Rejection,
    State, StoreError,
};

/// What the routes need of the programmes' engines.
pub trait Programmes: Send {
    /// Decides and records `command` on `programme`.
    fn execute(
        &mut self,
        programme: &ProgrammeId,
        command: &Command,
        now: DateTime<Utc>,
    ) -> Result<Outcome, EngineError>;

    /// Group commit: decides `commands` in order and records them in one
    /// transaction; each slot is its command's outcome or rejection.
    fn execute_batch(
        &mut self,
        programme: &ProgrammeId,
        commands: &[(Command, DateTime<Utc>)],
    ) -> Result<Vec<Result<Outcome, Rejection>>, EngineError>;

    /// Calls `read` with the programme's state, caught up with its store
    /// (other servers may have written).
    fn read(
        &mut self,
        programme: &ProgrammeId,
        read: &mut dyn FnMut(&State),
    ) -> Result<(), EngineError>;

    /// Up to `limit` events after `after`.
    fn events(
        &mut self,
        programme: &ProgrammeId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Recorded>, EngineError>;
}

/// A function that opens a store handle (a SQLite file, a PostgreSQL connection).
pub type Opener<S> = Box<dyn Fn() -> Result<S, StoreError> + Send>;

/// One engine per programme, each on a store from `open`.
pub struct Engines<S> {
    open: Opener<S>,
    engines: HashMap<ProgrammeId, Engine<S>>,
}

impl<S> std::fmt::Debug for Engines<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engines")
            .field("programmes", &self.engines.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The most programmes one server keeps open at once.
pub const MAX_OPEN_PROGRAMMES: usize = 64;

impl<S: EventStore + Outbox + Send> Engines<S> {
    /// Engines over stores from `open`, opened on first use.
    pub fn new(open: impl Fn() -> Result<S, StoreError> + Send + 'static) -> Engines<S> {
        Engines {
            open: Box::new(open),
            engines: HashMap::new(),
        }
    }

    fn engine(&mut self, programme: &ProgrammeId) -> Result<&mut Engine<S>, EngineError> {
        if self.engines.len() >= MAX_OPEN_PROGRAMMES && !self.engines.contains_key(programme) {
            // Bounded: the least useful guess is as good as any, and
            // reopening costs one snapshot load.
            self.engines.clear();
        }
        match self.engines.entry(programme.clone()) {
            Entry::Occupied(open) => Ok(open.into_mut()),
            Entry::Vacant(slot) => {
                let engine = Engine::open((self.open)()?, programme.clone())?;
                Ok(slot.insert(engine))
            }
        }
    }
}

impl<S: EventStore + Outbox + Send> Programmes for Engines<S> {
    fn execute(
        &mut self,
        programme: &ProgrammeId,
        command: &Command,
        now: DateTime<Utc>,
    ) -> Result<Outcome, EngineError> {
        self.engine(programme)?.execute(command, now)
    }

    fn execute_batch(
        &mut self,
        programme: &ProgrammeId,
        commands: &[(Command, DateTime<Utc>)],
    ) -> Result<Vec<Result<Outcome, Rejection>>, EngineError> {
        self.engine(programme)?.execute_batch(commands)
    }

    fn read(
        &mut self,
        programme: &ProgrammeId,
        read: &mut dyn FnMut(&State),
    ) -> Result<(), EngineError> {
        let engine = self.engine(programme)?;
        engine.catch_up()?;
        read(engine.state());
        Ok(())
    }

    fn events(
        &mut self,
        programme: &ProgrammeId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Recorded>, EngineError> {
        let engine = self.engine(programme)?;
        Ok(engine.store_mut().load(programme, after, limit)?)
    }
}
