//! How the driver runs a command: the [`Executor`] trait and its three
//! executors, [`Direct`], [`EngineExecutor`] and [`FnExecutor`]; a refusal is a [`StepError`].

use chrono::{DateTime, Utc};
use grantflow_core::{
    Command, Engine, EngineError, Event, EventStore, Rejection, State, decide_into, evolve,
};

/// Why a command did not apply.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StepError {
    /// The domain refused it (e.g. a claim after the award ended): the run goes on.
    #[error("rejected: {0}")]
    Rejected(Rejection),
    /// The executor failed (storage, a stream that does not replay): the run stops.
    #[error("{0}")]
    Fatal(String),
}

/// Runs one command at `now`: `events` is cleared, then holds the events it
/// recorded (a buffer the driver reuses from command to command).
pub trait Executor {
    fn execute(
        &mut self,
        command: &Command,
        now: DateTime<Utc>,
        events: &mut Vec<Event>,
    ) -> Result<(), StepError>;
}

/// `decide` and `evolve` on an in-memory [`State`]: the fastest executor.
#[derive(Debug, Default)]
pub struct Direct {
    pub state: State,
}

impl Direct {
    /// An executor on an empty state.
    pub fn new() -> Direct {
        Direct::default()
    }

    /// Empties the state for the next trial, keeping the allocations of its maps.
    pub fn reset(&mut self) {
        self.state.clear();
    }
}

impl Executor for Direct {
    fn execute(
        &mut self,
        command: &Command,
        now: DateTime<Utc>,
        events: &mut Vec<Event>,
    ) -> Result<(), StepError> {
        decide_into(&self.state, command, now, events).map_err(StepError::Rejected)?;
        for e in events.iter() {
            evolve(&mut self.state, e).map_err(|err| {
                StepError::Fatal(format!("evolve refused an event decide produced: {err}"))
            })?;
        }
        Ok(())
    }
}

/// An [`Engine`] over any store: every command is recorded as a real stream.
#[derive(Debug)]
pub struct EngineExecutor<'a, S>(pub &'a mut Engine<S>);

impl<S: EventStore> Executor for EngineExecutor<'_, S> {
    fn execute(
        &mut self,
        command: &Command,
        now: DateTime<Utc>,
        events: &mut Vec<Event>,
    ) -> Result<(), StepError> {
        events.clear();
        match self.0.execute(command, now) {
            Ok(outcome) => {
                events.extend(outcome.events().iter().map(|r| r.event.clone()));
                Ok(())
            }
            Err(EngineError::Rejected(r)) => Err(StepError::Rejected(r)),
            Err(e) => Err(StepError::Fatal(e.to_string())),
        }
    }
}

/// Any closure that runs a command.
pub struct FnExecutor<F>(pub F);

impl<F> std::fmt::Debug for FnExecutor<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FnExecutor")
    }
}

impl<F: FnMut(&Command, DateTime<Utc>) -> Result<Vec<Event>, StepError>> Executor
    for FnExecutor<F>
{
    fn execute(
        &mut self,
        command: &Command,
        now: DateTime<Utc>,
        events: &mut Vec<Event>,
    ) -> Result<(), StepError> {
        *events = (self.0)(command, now)?;
        Ok(())
    }
}
