//! # grantflow-scenarios
//!
//! Monte Carlo budget scenarios for grantflow programmes, run over the real
//! core: every simulated application is submitted, offered, waitlisted,
//! accepted, certified, claimed and completed by `decide`/`evolve` (or an
//! [`Engine`](grantflow_core::Engine)), never by a separate formula of the rules.
//!
//! - [`population`]: [`Population`] (who applies, what they ask for, how they
//!   behave) and [`Draw`], one simulated applicant: a compact [`Profile`] from
//!   which the real [`Applicant`](grantflow_core::Applicant) is written when
//!   it applies, and a pre-drawn [`Behaviour`].
//! - [`driver`]: [`drive`] / [`Driver`] take draws through the lifecycle with
//!   an [`Executor`] ([`Direct`], [`EngineExecutor`], [`FnExecutor`]) and
//!   return a [`Trace`] of weekly [`WeekObs`] and per-applicant [`AppOutcome`]s.
//! - [`scenario`]: [`Scenario`] (rules + population + [`RunSettings`]) loaded
//!   from TOML, [`Scenario::set`] by key, [`Vary`] and [`variants`].
//! - [`sim`]: [`simulate`] runs trials in parallel with rayon, deterministic
//!   for a seed whatever the thread count, with common random numbers across
//!   variants; one [`TrialResult`] per trial and variant.
//! - [`report`]: percentile [`table`], its [`summary_json`], the raw [`to_json`] and [`to_csv`].
//! - [`plot`]: [`write_plots`], fan chart and histogram per variant (SVG and PNG).
//! - [`cli`]: [`SimulateArgs`] and [`cli::run`], the `grantflow simulate` command.
//!
//! ```
//! use grantflow_scenarios::*;
//!
//! let mut scenario = Scenario::default_2020();
//! scenario.set("population.applicants", "200").unwrap();
//! let vary = ["allocation.policy=skip_ahead,strict".parse::<Vary>().unwrap()];
//! let sim = simulate(&variants(&scenario, &vary).unwrap(), 4, 7, &|| {}).unwrap();
//! assert_eq!(sim.variants.len(), 2);
//! println!("{}", table(&sim));
//! ```
pub mod cli;
pub mod driver;
pub mod plot;
pub mod population;
pub mod report;
pub mod scenario;
pub mod sim;

pub use cli::{SimulateArgs, SimulateError};
pub use driver::{
    AppOutcome, Direct, DriveError, DriveOptions, Driver, EngineExecutor, Executor, FnExecutor,
    StepError, TickEvery, Trace, WeekObs, drive, horizon, opening,
};
pub use plot::{PlotError, write_plots};
pub use population::{Answer, Behaviour, Draw, Population, PopulationError, Profile};
pub use report::{summary_json, table, to_csv, to_json};
pub use scenario::{RunSettings, Scenario, ScenarioError, Variant, Vary, variants};
pub use sim::{SimError, Simulation, TrialResult, VariantResults, simulate, trial_rng};
