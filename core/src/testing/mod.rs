//! Test data for the core's own unit tests and for `grantflow-testkit`
//! (feature `fixtures`).

pub mod fixtures;
