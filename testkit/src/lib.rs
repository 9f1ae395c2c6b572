//! # grantflow-testkit
//!
//! Tests for services that embed grantflow, as a dev-dependency. Three
//! things, each checking the one before it:
//!
//! - [`strategies`] — proptest strategies that draw programmes and
//!   histories of [`Step`](strategies::Step)s (submissions, offers taken
//!   or left, milestones, claims, clawbacks, top-ups, ticks, scripted
//!   journeys), with [`Weights`](strategies::Weights) an embedder sets to
//!   lean on what its own programme risks; [`Run`](strategies::Run) turns
//!   each step into a command against the current state.
//! - [`assert_invariants`] and [`model`] — what must hold after every
//!   step: the ledger's invariants (`credits = available + reserved +
//!   paid`, nothing negative, awards within their reservations), and a
//!   deliberately plain reference [`Model`](model::Model) of the
//!   allocation policy that [`check_history`](model::check_history) runs
//!   beside the core, comparing offers, lapses, the waitlist and every
//!   figure after each command.
//! - [`conformance`] — the store conformance suite every
//!   [`EventStore`](grantflow_core::EventStore) +
//!   [`Outbox`](grantflow_core::Outbox) must pass, racing writers included
//!   ([`run_full_suite`](conformance::run_full_suite)); grantflow runs it
//!   on its in-memory, SQLite and PostgreSQL stores.
//!
//! [`fixtures`] (programmes, applicants and commands for tests) comes from
//! the core; [`smtp::SmtpSink`] is a real SMTP server (aiosmtpd) that keeps
//! what it receives for a test to read.
//!
//! ```
//! use grantflow_core::Programme;
//! use grantflow_testkit::assert_invariants;
//! use grantflow_testkit::strategies::{Run, Weights, steps_weighted};
//! use proptest::test_runner::TestRunner;
//!
//! // The 2020 preset, with clawbacks drawn four times as often.
//! let programme = Programme::healthcare_cyber_essentials_2020();
//! let weights = Weights { clawback: 12, ..Weights::default() };
//! let mut runner = TestRunner::default();
//! runner
//!     .run(&steps_weighted(&programme, 6, 30, &weights), |steps| {
//!         let mut run = Run::open(programme.clone());
//!         for step in &steps {
//!             run.apply(step);
//!             assert_invariants(&run.state);
//!         }
//!         Ok(())
//!     })
//!     .unwrap();
//! ```
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations)]

pub mod conformance;
mod invariants;
pub mod model;
pub mod smtp;
pub mod strategies;

pub use grantflow_core::fixtures;
pub use invariants::assert_invariants;
