//! Running the suite: [`run_full_suite`], [`run_all`],
//! [`run_all_with_reopen`] and [`assert_conformance`], which collect every
//! check's result.

use super::group_commit::check_group_commit;
use super::harness::Check;
use super::idempotency::{
    check_command_records, check_idempotency, check_idempotency_from_snapshot,
};
use super::outbox::{check_engine_notices, check_outbox};
use super::racing::check_racing_writers;
use super::reopen::check_reopen;
use super::snapshots::check_snapshots;
use super::streams::{check_append_and_load, check_conflicts, check_paging};
use super::upcasting::check_upcasting;
use super::{Failure, RawRows};
use grantflow_core::{EventStore, Outbox};

fn collect(failures: &mut Vec<Failure>, passed: &mut usize, result: Check) {
    match result {
        Ok(()) => *passed += 1,
        Err(f) => failures.push(f),
    }
}

/// Runs every check except reopening; each on a store from `fresh`.
/// Returns the number of checks passed, or every failure.
pub fn run_all<S: EventStore + Outbox>(
    mut fresh: impl FnMut() -> S,
    mut raw: impl RawRows<S>,
) -> Result<usize, Vec<Failure>> {
    let mut failures = Vec::new();
    let mut passed = 0;
    collect(
        &mut failures,
        &mut passed,
        check_append_and_load(&mut fresh()),
    );
    collect(&mut failures, &mut passed, check_paging(&mut fresh()));
    collect(&mut failures, &mut passed, check_conflicts(&mut fresh()));
    collect(&mut failures, &mut passed, check_idempotency(&mut fresh()));
    collect(
        &mut failures,
        &mut passed,
        check_command_records(&mut fresh()),
    );
    collect(
        &mut failures,
        &mut passed,
        check_idempotency_from_snapshot(&mut fresh()),
    );
    collect(&mut failures, &mut passed, check_snapshots(&mut fresh()));
    collect(&mut failures, &mut passed, check_outbox(&mut fresh()));
    collect(
        &mut failures,
        &mut passed,
        check_engine_notices(&mut fresh()),
    );
    collect(
        &mut failures,
        &mut passed,
        check_upcasting(&mut fresh(), &mut raw),
    );
    collect(&mut failures, &mut passed, check_group_commit(&mut fresh()));
    if failures.is_empty() {
        Ok(passed)
    } else {
        Err(failures)
    }
}

/// [`run_all`], then the reopen check: `reopen` closes a store and opens it
/// again on the same data (a file path, a database URL).
pub fn run_all_with_reopen<S: EventStore + Outbox>(
    mut fresh: impl FnMut() -> S,
    mut reopen: impl FnMut(S) -> S,
    raw: impl RawRows<S>,
) -> Result<usize, Vec<Failure>> {
    let (mut passed, mut failures) = match run_all(&mut fresh, raw) {
        Ok(n) => (n, Vec::new()),
        Err(f) => (0, f),
    };
    // Idempotency and the outbox again, each on a store that was closed and reopened first.
    let result = check_reopen(fresh(), &mut reopen).and_then(|store| {
        let mut store = reopen(store);
        check_idempotency(&mut store)?;
        let mut store = reopen(store);
        check_engine_notices(&mut store)
    });
    collect(&mut failures, &mut passed, result);
    if failures.is_empty() {
        Ok(passed)
    } else {
        Err(failures)
    }
}

/// The whole suite: [`run_all_with_reopen`], then the racing writers on a
/// fresh store, each writer on a handle from `another` (a second
/// connection to the same data; for the in-memory store, a clone).
pub fn run_full_suite<S: EventStore + Outbox + Send>(
    mut fresh: impl FnMut() -> S,
    reopen: impl FnMut(S) -> S,
    another: impl FnMut(&S) -> S,
    raw: impl RawRows<S>,
) -> Result<usize, Vec<Failure>> {
    let (mut passed, mut failures) = match run_all_with_reopen(&mut fresh, reopen, raw) {
        Ok(n) => (n, Vec::new()),
        Err(f) => (0, f),
    };
    collect(
        &mut failures,
        &mut passed,
        check_racing_writers(fresh(), another),
    );
    if failures.is_empty() {
        Ok(passed)
    } else {
        Err(failures)
    }
}

/// Panics with every failure: for `#[test]` functions.
pub fn assert_conformance(result: Result<usize, Vec<Failure>>) -> usize {
    match result {
        Ok(n) => n,
        Err(failures) => {
            let text: Vec<String> = failures.iter().map(ToString::to_string).collect();
            panic!(
                "{} conformance check(s) failed:\n{}",
                failures.len(),
                text.join("\n")
            )
        }
    }
}
