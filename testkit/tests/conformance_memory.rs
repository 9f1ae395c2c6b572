//! The store conformance suite against the reference [`InMemoryStore`]: one
//! test per check, so the report names each, then the whole suite as an
//! adapter runs it, counting the checks.
//!

use grantflow_core::InMemoryStore;
use grantflow_testkit::conformance::{
    Failure, assert_conformance, check_append_and_load, check_command_records, check_conflicts,
    check_engine_notices, check_group_commit, check_idempotency, check_idempotency_from_snapshot,
    check_outbox, check_paging, check_racing_writers, check_reopen, check_snapshots,
    check_upcasting, memory_raw, run_all, run_all_with_reopen, run_full_suite,
};

fn pass<T>(check: Result<T, Failure>) {
    if let Err(failure) = check {
        panic!("{failure}");
    }
}

/// Given a fresh in-memory store, when events are appended and loaded,
/// then versions count from 1, pages and streams are separate, events come back equal.
#[test]
fn append_and_load() {
    pass(check_append_and_load(&mut InMemoryStore::new()));
}

/// Given a fresh in-memory store, when a stream is loaded in pages of any
/// size, then the pages give the whole stream, in order.
#[test]
fn paging() {
    pass(check_paging(&mut InMemoryStore::new()));
}

/// Given a fresh in-memory store, when an append names a stale or future
/// version, then it is a typed conflict that writes neither events nor notices.
#[test]
fn conflicts() {
    pass(check_conflicts(&mut InMemoryStore::new()));
}

/// Given a fresh in-memory store, when a command id is sent again (also
/// through a new engine), then the first outcome comes back.
#[test]
fn idempotency() {
    pass(check_idempotency(&mut InMemoryStore::new()));
}

/// Given a fresh in-memory store, when commands are recorded, then the
/// store's command records agree with the index folded from the events.
#[test]
fn command_records() {
    pass(check_command_records(&mut InMemoryStore::new()));
}

/// Given an engine opened from a snapshot, when a command from before the
/// snapshot is repeated, then the store answers for it.
#[test]
fn idempotency_from_snapshot() {
    pass(check_idempotency_from_snapshot(&mut InMemoryStore::new()));
}

/// Given an engine saving a snapshot every N events, when it reopens, then
/// the newest snapshot gives the state of a full replay and unusable ones are ignored.
#[test]
fn snapshots() {
    pass(check_snapshots(&mut InMemoryStore::new()));
}

/// Given a fresh in-memory store, when notices are claimed, acknowledged,
/// retried and dead-lettered, then the outbox keeps each one's status.
#[test]
fn outbox() {
    pass(check_outbox(&mut InMemoryStore::new()));
}

/// Given an engine over a fresh in-memory store, when commands call for
/// notices, then they reach the outbox with their events.
#[test]
fn engine_notices() {
    pass(check_engine_notices(&mut InMemoryStore::new()));
}

/// Given a stored event of schema version 1 and one of a newer version,
/// when the stream loads, then the first is upcast and the second is a typed error.
#[test]
fn upcasting() {
    pass(check_upcasting(&mut InMemoryStore::new(), &mut memory_raw));
}

/// Given a group commit with a rejected command in the middle, when it is
/// appended, then the others are recorded in one append and the rejected one writes nothing.
#[test]
fn group_commit() {
    pass(check_group_commit(&mut InMemoryStore::new()));
}

/// Given a store and a second handle onto the same data, when the first is
/// "closed" and the second opened, then streams, snapshots, the outbox and
/// idempotency survive.
#[test]
fn reopen() {
    pass(check_reopen(
        InMemoryStore::new(),
        &mut |store: InMemoryStore| store.clone(),
    ));
}

/// Given the whole suite, when an adapter runs it, then every check passes
/// and none is left out (11 without reopening).
#[test]
fn in_memory_store_conforms() {
    let passed = assert_conformance(run_all(InMemoryStore::new, memory_raw));
    assert_eq!(passed, 11);
}

/// Given the whole suite with reopening (a clone is another handle onto
/// the same data), when it runs, then all 12 checks pass.
#[test]
fn in_memory_store_conforms_across_handles() {
    let passed = assert_conformance(run_all_with_reopen(
        InMemoryStore::new,
        |store| store.clone(),
        memory_raw,
    ));
    assert_eq!(passed, 12);
}

/// Given four threads, each with its own handle (a clone) on one store,
/// when they submit, accept and withdraw against a pot of five awards,
/// then the stream has no gap, the pot is never overspent at any version,
/// and every acknowledged command is in the log once and whole.
#[test]
fn racing_writers() {
    pass(check_racing_writers(InMemoryStore::new(), |store| {
        store.clone()
    }));
}

/// Given the full suite (reopening and racing writers included), when it
/// runs, then all 13 checks pass.
#[test]
fn in_memory_store_passes_the_full_suite() {
    let passed = assert_conformance(run_full_suite(
        InMemoryStore::new,
        |store| store,
        |store| store.clone(),
        memory_raw,
    ));
    assert_eq!(passed, 13);
}
