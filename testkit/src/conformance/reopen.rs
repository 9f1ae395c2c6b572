//! The reopen check: streams, snapshots, the outbox and idempotency survive
//! closing the store and opening it again.

use super::fixtures::{day, programme};
use super::harness::{Ctx, engine, ensure, ensure_empty, exec, fail, same_but_index};
use super::{Failure, fixtures, programme_id};
use grantflow_core::{EngineConfig, Outcome};
use grantflow_core::{EventStore, Outbox};

/// Reopening: streams, snapshots, the outbox and command idempotency survive
/// closing the store and opening it again.
pub fn check_reopen<S: EventStore + Outbox>(
    store: S,
    reopen: &mut impl FnMut(S) -> S,
) -> Result<S, Failure> {
    const C: &str = "reopen";
    let mut store = store;
    let p = programme_id("reopen");
    ensure_empty(C, &mut store, &p)?;
    let tag = p.to_string();
    let config = EngineConfig {
        snapshot_every: 3,
        ..EngineConfig::default()
    };
    let mut eng = engine(C, store, &p, config)?;
    exec(
        C,
        &mut eng,
        &fixtures::open(&tag, programme(10_000)),
        day(0),
    )?;
    let submit = fixtures::submit(&tag, 1);
    let first = exec(C, &mut eng, &submit, day(1))?;
    exec(C, &mut eng, &fixtures::submit(&tag, 2), day(1))?;
    let live = eng.state().clone();
    let mut store = eng.into_store();
    let snapshot = store.load_snapshot(&p).ctx(C, "load snapshot")?;
    ensure!(
        C,
        snapshot.is_some(),
        "no snapshot was saved with snapshot_every = 3"
    );
    let far = day(100_000);
    let due = store
        .claim(far, day(0), 10_000)
        .ctx(C, "claim")?
        .into_iter()
        .filter(|e| e.programme == p)
        .count();

    let mut store = reopen(store);
    ensure!(
        C,
        store
            .load_snapshot(&p)
            .ctx(C, "load snapshot after reopen")?
            == snapshot,
        "the snapshot changed across a reopen"
    );
    let after = store
        .claim(far, day(0), 10_000)
        .ctx(C, "claim after reopen")?
        .into_iter()
        .filter(|e| e.programme == p)
        .count();
    ensure!(
        C,
        after == due && due > 0,
        "{due} notices were due before the reopen, {after} after"
    );
    let snapshot_version = snapshot.as_ref().map_or(0, |s| s.version);
    let first_last = first.events().last().map_or(0, |r| r.version);
    ensure!(
        C,
        first_last <= snapshot_version,
        "the first submission (to version {first_last}) is not inside the snapshot at {snapshot_version}"
    );
    let mut eng = engine(C, store, &p, config)?;
    ensure!(
        C,
        same_but_index(eng.state(), &live),
        "the state after a reopen differs"
    );
    // A command from before the snapshot, repeated after opening from it.
    let again = exec(C, &mut eng, &submit, day(2))?;
    ensure!(
        C,
        again
            == Outcome::Duplicate {
                events: first.events().to_vec()
            },
        "after a reopen a repeated command from before the snapshot gave {again:?}"
    );
    let version = eng.state().version();
    let store = reopen(eng.into_store());
    let mut eng = engine(C, store, &p, config)?;
    let batch = eng
        .execute_batch(&[(submit.clone(), day(2)), (submit.clone(), day(2))])
        .ctx(C, "repeat in a group commit after a reopen")?;
    ensure!(
        C,
        batch.iter().all(|r| r.as_ref().ok()
            == Some(&Outcome::Duplicate {
                events: first.events().to_vec()
            })),
        "after a reopen a group commit repeating a command from before the snapshot gave {batch:?}"
    );
    ensure!(
        C,
        eng.state().version() == version,
        "repeating commands after a reopen wrote events"
    );
    let store = reopen(eng.into_store());
    let mut eng = engine(C, store, &p, config)?;
    eng.replay_all().ctx(C, "replay_all after reopen")?;
    ensure!(
        C,
        eng.state() == &live && eng.state().version() == version,
        "a full replay after a reopen differs"
    );
    let mut store = eng.into_store();
    for e in store.claim(far, far, 10_000).ctx(C, "claim")? {
        store.acknowledge(e.notice.id).ctx(C, "acknowledge")?;
    }
    Ok(store)
}
