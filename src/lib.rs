//! # grantflow
//!
//! Run grant programmes that pay for organisations' security certification.
//! This facade re-exports [`grantflow_core`] (the pure domain model: rules,
//! eligibility, coverage, the pot's ledger, allocation and the certification
//! lifecycle) and, behind features, the adapters:
//!
//! | feature | crate | what |
//! |---|---|---|
//! | `sqlite` (default) | `grantflow-sqlite` | embedded event store in one file |
//! | `postgres` | `grantflow-postgres` | shared event store for several instances |
//! | `webhook` | `grantflow-webhook` | signed HTTP notifications |
//! | `email` | `grantflow-email` | SMTP notifications |
//! | `dispatch` | `grantflow-dispatch` | the outbox dispatcher and a log notifier |
//! | `scenarios` | `grantflow-scenarios` | Monte Carlo budget scenarios |
#![forbid(unsafe_code)]

pub use grantflow_core::*;

#[cfg(feature = "dispatch")]
pub use grantflow_dispatch as dispatch;
#[cfg(feature = "email")]
pub use grantflow_email as email;
#[cfg(feature = "postgres")]
pub use grantflow_postgres as postgres;
#[cfg(feature = "scenarios")]
pub use grantflow_scenarios as scenarios;
#[cfg(feature = "sqlite")]
pub use grantflow_sqlite as sqlite;
#[cfg(feature = "webhook")]
pub use grantflow_webhook as webhook;
