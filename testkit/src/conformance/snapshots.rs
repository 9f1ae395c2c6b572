//! The snapshot check: saved every N events, opened from the newest,
//! unusable ones ignored.

use chrono::Duration;

use super::fixtures::{day, programme};
use super::harness::{
    Check, Ctx, borrowed, ensure, ensure_empty, exec, fail, same_but_index, same_records,
};
use super::{fixtures, programme_id};
use grantflow_core::{EngineConfig, EngineError, SNAPSHOT_FORMAT};
use grantflow_core::{EventStore, Snapshot};

/// Snapshots: the engine saves them every N events; opening from the newest
/// gives the same state as a full replay; unusable snapshots are ignored.
pub fn check_snapshots<S: EventStore>(store: &mut S) -> Check {
    const C: &str = "snapshots";
    let p = programme_id("snap");
    ensure_empty(C, store, &p)?;
    ensure!(
        C,
        store
            .load_snapshot(&p)
            .ctx(C, "load a missing snapshot")?
            .is_none(),
        "a new programme has a snapshot"
    );
    let tag = p.to_string();
    let config = EngineConfig {
        snapshot_every: 4,
        ..EngineConfig::default()
    };
    let mut eng = borrowed(C, store, &p, config)?;
    exec(C, &mut eng, &fixtures::open(&tag, programme(6_000)), day(0))?;
    for n in 0..9 {
        let t = day(1) + Duration::hours(2 * n as i64);
        exec(C, &mut eng, &fixtures::submit(&tag, n), t)?;
        if n % 2 == 0 {
            // Some offers are accepted; the waitlisted ones are refused.
            match eng.execute(&fixtures::accept(&tag, n), t + Duration::hours(1)) {
                Ok(_) | Err(EngineError::Rejected(_)) => {}
                Err(e) => return Err(fail(C, format!("accept failed: {e}"))),
            }
        }
    }
    let live = eng.state().clone();
    drop(eng);
    let snap = store
        .load_snapshot(&p)
        .ctx(C, "load snapshot")?
        .ok_or_else(|| {
            fail(
                C,
                "no snapshot after more than 4 events with snapshot_every = 4",
            )
        })?;
    ensure!(
        C,
        snap.format == SNAPSHOT_FORMAT,
        "snapshot format {} came back, {} was saved",
        snap.format,
        SNAPSHOT_FORMAT
    );
    ensure!(
        C,
        snap.version > 0 && snap.version <= live.version(),
        "snapshot at version {} for a stream at {}",
        snap.version,
        live.version()
    );
    let from_snapshot = borrowed(C, store, &p, config)?;
    ensure!(
        C,
        same_but_index(from_snapshot.state(), &live),
        "opening from the snapshot gave a state unlike the live one"
    );
    ensure!(
        C,
        from_snapshot
            .state()
            .commands()
            .values()
            .all(|r| r.first_version > snap.version),
        "the command index came back from the snapshot"
    );
    drop(from_snapshot);
    same_records(C, store, &p, &live)?;
    let mut replayed = borrowed(C, store, &p, config)?;
    replayed.replay_all().ctx(C, "replay_all")?;
    ensure!(
        C,
        replayed.state() == &live,
        "a full replay differs from the state opened from the snapshot"
    );
    replayed.state().check_invariants().ctx(C, "invariants")?;
    drop(replayed);

    // The newest snapshot is returned, with its format and data as saved.
    let q = programme_id("snap-raw");
    ensure_empty(C, store, &q)?;
    let a = Snapshot {
        version: 3,
        format: 1,
        data: "{\"a\":1}".into(),
    };
    let b = Snapshot {
        version: 7,
        format: 1,
        data: "{\"b\":\"é ✓\"}".into(),
    };
    store.save_snapshot(&q, &a).ctx(C, "save snapshot")?;
    store
        .save_snapshot(&q, &b)
        .ctx(C, "save a newer snapshot")?;
    let got = store.load_snapshot(&q).ctx(C, "load snapshot")?;
    ensure!(
        C,
        got.as_ref() == Some(&b),
        "the newest snapshot came back as {got:?}"
    );
    ensure!(
        C,
        store
            .load_snapshot(&p)
            .ctx(C, "load snapshot")?
            .is_some_and(|s| s.version == snap.version),
        "a snapshot of another programme replaced this one"
    );

    // A snapshot of an unknown format or unreadable data is ignored: full replay.
    for bad in [
        Snapshot {
            version: live.version(),
            format: 999,
            data: "{}".into(),
        },
        Snapshot {
            version: live.version(),
            format: SNAPSHOT_FORMAT,
            data: "not json".into(),
        },
    ] {
        store
            .save_snapshot(&p, &bad)
            .ctx(C, "save an unusable snapshot")?;
        let eng = borrowed(C, store, &p, config)?;
        ensure!(
            C,
            eng.state() == &live,
            "an unusable snapshot (format {}) was not ignored",
            bad.format
        );
    }
    Ok(())
}
