//! The driver: takes a population's [`Draw`]s through the full lifecycle of a
//! programme with the real core.
//!
//! It opens the programme, submits applications in arrival order, ticks
//! through time (daily or weekly), and reacts to the events the core returns:
//! an `Offered` event schedules the applicant's answer, `Accepted` schedules
//! consultancy, a self-assessment, the assessor's verdict, invoices, a Plus
//! audit and completion, each after the pre-drawn number of days. Nothing is
//! decided here: who is eligible, offered, waitlisted, lapsed or failed is
//! what the core says. The driver only records what it sees, week by week.
//!
//! Commands run through an [`Executor`]: [`Direct`] (`decide`/`evolve` on a
//! [`State`], for Monte Carlo speed), [`EngineExecutor`] (an [`Engine`] over
//! any [`EventStore`]) or [`FnExecutor`] (any closure).
//!
//! The parts: `executor` runs commands and `options` sets up a run; the
//! [`Driver`] (here, with its state) runs in `run`, which takes the steps
//! planned in the `queue` through `steps` and feeds their events to
//! `observe`, which plans the next ones; `clock`, `pot` and `spare` keep
//! the time, the pot and the reusable buffers; `trace` holds what a run saw.
//!
//! [`State`]: grantflow_core::State
//! [`Engine`]: grantflow_core::Engine
//! [`EventStore`]: grantflow_core::EventStore

mod clock;
mod executor;
mod observe;
mod options;
mod pot;
mod queue;
mod run;
mod spare;
mod steps;
mod trace;

pub use executor::{Direct, EngineExecutor, Executor, FnExecutor, StepError};
pub use options::{DriveOptions, TickEvery, horizon, opening};
pub use trace::{AppOutcome, PotTotals, Trace, WeekObs};

use std::sync::Arc;

use chrono::{DateTime, Utc};
use grantflow_core::{
    Action, Applicant, ApplicationId, Command, CommandId, Coverage, Event, Programme, Rejection,
};
use uuid::Uuid;

use self::clock::Clock;
use self::pot::Pence;
use self::queue::{Act, Queue};
use self::spare::Spare;
use crate::population::{Draw, Profile};

/// Why a run stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DriveError {
    #[error("the executor failed: {0}")]
    Executor(String),
    #[error("the programme could not be opened: {0}")]
    Open(Rejection),
    #[error("the end {end} is not after the start {start}")]
    Empty {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
}

#[derive(Clone, Copy, Debug, Default)]
struct AppRun {
    out: AppOutcome,
    coverage: Option<Coverage>,
    claims_pending: u8,
    ready: bool,
    complete_scheduled: bool,
}

/// A reusable driver: its buffers survive from one run to the next.
#[derive(Debug, Default)]
pub struct Driver {
    queue: Queue,
    apps: Vec<AppRun>,
    trace: Trace,
    /// The pot in pence (cheap to update on every event).
    pot: Pence,
    counter: u64,
    salt: u64,
    waitlisted: u32,
    offered: u32,
    /// The lowest `available` of the week so far, in pence.
    week_min: i64,
    /// Money was reserved since `week_min` was last brought up to date.
    reserved_since_min: bool,
    /// Buffers taken back from the last command that used them, for the next.
    spare: Spare,
    /// The applicant submitted for each draw, by index, kept for the next
    /// run: once the executor has let go of it (a [`Direct`] state is reset
    /// between trials) its texts are rewritten in place instead of allocated.
    applicants: Vec<Option<Arc<Applicant>>>,
    clock: Clock,
    /// The events of the command under way, reused from command to command.
    events: Vec<Event>,
}

/// Runs `draws` through `programme` from `start` with a fresh [`Driver`].
pub fn drive<E: Executor>(
    programme: &Programme,
    draws: &[Draw],
    start: DateTime<Utc>,
    options: &DriveOptions,
    executor: &mut E,
) -> Result<Trace, DriveError> {
    let mut d = Driver::new();
    d.run(programme, draws, start, options, executor)?;
    Ok(d.into_trace())
}

impl Driver {
    pub fn new() -> Driver {
        Driver::default()
    }

    /// The trace of the last run.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// Takes the trace of the last run.
    pub fn into_trace(self) -> Trace {
        self.trace
    }

    fn push(&mut self, at: i64, app: usize, act: Act) {
        self.queue.push(at, app as u32, act);
    }

    /// The applicant of draw `i`, written from `profile` into the one kept
    /// from the last run when nothing else holds it any more.
    fn applicant(&mut self, i: usize, profile: &Profile) -> Arc<Applicant> {
        let Some(slot) = self.applicants.get_mut(i) else {
            return Arc::new(profile.applicant());
        };
        match slot.as_mut().and_then(Arc::get_mut) {
            Some(a) => profile.write_applicant(a),
            None => *slot = Some(Arc::new(profile.applicant())),
        }
        slot.clone()
            .unwrap_or_else(|| Arc::new(profile.applicant()))
    }

    fn app_id(&self, i: usize) -> ApplicationId {
        ApplicationId::new(Uuid::from_u64_pair(self.salt, i as u64))
    }

    fn index(&self, id: ApplicationId) -> Option<usize> {
        let (hi, lo) = id.0.as_u64_pair();
        (hi == self.salt)
            .then_some(lo as usize)
            .filter(|i| *i < self.apps.len())
    }

    fn command(&mut self, action: Action) -> Command {
        self.counter += 1;
        Command::new(
            CommandId::new(Uuid::from_u64_pair(!self.salt, self.counter)),
            action,
        )
    }
}
