//! # grantflow-scenarios
//!
//! Monte Carlo budget scenarios for grantflow programmes, run over the real
//! core: every simulated application is submitted, offered, waitlisted,
//! accepted, certified, claimed and completed by `decide`/`evolve` (or an
//! [`Engine`](grantflow_core::Engine)), never by a separate formula of the rules.
//!
//! - [`population`]: [`Population`] (who applies, what they ask for, how they
//!   behave) and [`Draw`], one simulated applicant with a real
//!   [`Applicant`](grantflow_core::Applicant) and pre-drawn [`Behaviour`].
//! - [`driver`]: [`drive`] / [`Driver`] take draws through the lifecycle with
//!   an [`Executor`] ([`Direct`], [`EngineExecutor`], [`FnExecutor`]) and
//!   return a [`Trace`] of weekly [`WeekObs`] and per-applicant [`AppOutcome`]s.
pub mod driver;
pub mod population;

pub use driver::{
    AppOutcome, Direct, DriveError, DriveOptions, Driver, EngineExecutor, Executor, FnExecutor,
    StepError, TickEvery, Trace, WeekObs, drive, horizon, opening,
};
pub use population::{Answer, Behaviour, Draw, Population, PopulationError};
