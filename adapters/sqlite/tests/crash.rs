//! Crash safety: a child process appends in a loop (single commands and
//! group commits, with snapshots; it also claims and acknowledges notices,
//! moving them into the outbox table) and is killed with SIGKILL at random
//! points. After each kill the file reopens, the log is a consistent prefix
//! of what follows, the state replays and no command is half applied.
//!
//! 50 rounds by default; set `GRANTFLOW_CRASH_ROUNDS` for a longer soak.

mod common;

use std::path::Path;
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use grantflow_core::conformance::fixtures;
use grantflow_core::{
    Action, CommandRecord, Engine, EngineConfig, EventStore, Outbox, ProgrammeId, StageKind,
};
use grantflow_sqlite::SqliteStore;

const CHILD_DB: &str = "GRANTFLOW_TEST_CRASH_DB";
const TAG: &str = "crash";
const POT: u32 = 30_000;

/// Run by `sigkill_at_random_points_leaves_a_consistent_log`: appends until killed.
#[test]
#[ignore = "a child process of sigkill_at_random_points_leaves_a_consistent_log"]
fn crash_child() {
    let path = std::env::var(CHILD_DB).expect(
        "run by sigkill_at_random_points_leaves_a_consistent_log, which sets the database path",
    );
    let programme = ProgrammeId::new(TAG);
    let config = EngineConfig {
        snapshot_every: 25,
        ..EngineConfig::default()
    };
    let mut engine =
        Engine::with_config(SqliteStore::open(&path).expect("open"), programme, config)
            .expect("engine");
    let started = Instant::now();
    // Bounded, in case the parent is gone: it kills us long before this.
    while started.elapsed() < Duration::from_secs(60) {
        let n = engine.state().applications().len() as u64;
        // Accept open offers first (ids are stable: a repeat after a crash is a duplicate).
        let offered: Vec<u64> = (0..n)
            .filter(|m| {
                engine
                    .state()
                    .application(&fixtures::application(TAG, *m))
                    .is_some_and(|a| a.stage().kind() == StageKind::Offered)
            })
            .collect();
        for m in offered {
            common::run(&mut engine, &fixtures::accept(TAG, m)).expect("accept");
            if m % 4 == 1 {
                let withdraw = fixtures::command(
                    &format!("{TAG}/withdraw/{m}"),
                    Action::Withdraw {
                        application: fixtures::application(TAG, m),
                        reason: "closing down".into(),
                    },
                );
                common::run(&mut engine, &withdraw).expect("withdraw");
            }
        }
        // Deliver a few notices, so that kills also land in the claims
        // that move notices from their event rows into the outbox table.
        let now = common::now();
        let claimed = engine
            .store_mut()
            .claim(now, now + chrono::Duration::minutes(5), 4)
            .expect("claim");
        for entry in claimed {
            engine
                .store_mut()
                .acknowledge(entry.notice.id)
                .expect("acknowledge");
        }
        if n % 3 == 0 {
            // A group commit of three submissions.
            let batch: Vec<_> = (n..n + 3)
                .map(|m| (fixtures::submit(TAG, m), common::now()))
                .collect();
            for r in engine.execute_batch(&batch).expect("batch") {
                r.expect("a batched submission was rejected");
            }
        } else {
            common::run(&mut engine, &fixtures::submit(TAG, n)).expect("submit");
        }
    }
}

fn rounds() -> usize {
    std::env::var("GRANTFLOW_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}

fn stored_version(path: &Path, programme: &ProgrammeId) -> u64 {
    // A fresh handle each time: the parent must not hold locks across a kill.
    SqliteStore::open(path)
        .and_then(|mut s| s.version(programme))
        .unwrap_or(0)
}

#[test]
fn sigkill_at_random_points_leaves_a_consistent_log() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("crash.db");
    let programme = ProgrammeId::new(TAG);
    {
        let mut engine = Engine::open(SqliteStore::open(&path).expect("open"), programme.clone())
            .expect("engine");
        common::run(&mut engine, &fixtures::open(TAG, fixtures::programme(POT)))
            .expect("open the programme");
    }
    let exe = std::env::current_exe().expect("the test binary");
    // The log as the child finds it: the opening, so that round 0 too
    // waits for an append of the child's own.
    let mut previous: Vec<grantflow_core::Recorded> = {
        let mut store = SqliteStore::open(&path).expect("reopen");
        common::check_stream(&mut store, &programme)
            .expect("the opened stream replays")
            .1
    };
    assert!(!previous.is_empty(), "the opening is in the log");
    for round in 0..rounds() {
        let before = previous.len() as u64;
        let mut child = Process::new(&exe)
            .args(["--ignored", "--exact", "crash_child", "--test-threads=1"])
            .env(CHILD_DB, &path)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the appending process");
        // Wait until the child has appended something, then kill it a random moment later.
        let waited = Instant::now();
        while stored_version(&path, &programme) == before {
            if waited.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("round {round}: the appending process appended nothing in 20 s");
            }
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                panic!("round {round}: the appending process ended early ({status}): {err}");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_micros(fastrand::u64(0..40_000)));
        child.kill().expect("SIGKILL the appending process");
        child.wait().expect("reap it");

        let mut store = SqliteStore::open(&path).unwrap_or_else(|e| {
            panic!("round {round}: the file does not reopen after SIGKILL: {e}")
        });
        let (state, events) = common::check_stream(&mut store, &programme)
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        // The child committed an append before the kill (the wait saw it
        // from another connection), so the log grew.
        assert!(
            events.len() > previous.len(),
            "round {round}: the log went from {} to {} events, though the child had appended",
            previous.len(),
            events.len()
        );
        assert!(
            events[..previous.len()] == previous[..],
            "round {round}: earlier events changed after a crash"
        );
        // Opening through the engine (snapshot + tail) gives the replayed
        // state; the snapshot leaves out the command index, which the store
        // answers for instead.
        let mut engine = Engine::open(store, programme.clone())
            .unwrap_or_else(|e| panic!("round {round}: engine: {e}"));
        let without_index = |s: &grantflow_core::State| {
            grantflow_core::State::from_snapshot(&s.to_snapshot().expect("encodes"))
                .expect("decodes")
        };
        assert_eq!(
            without_index(engine.state()),
            without_index(&state),
            "round {round}: the state from the snapshot differs from a full replay"
        );
        let ids: Vec<_> = state.commands().keys().copied().collect();
        let mut records = engine
            .store_mut()
            .command_records(&programme, &ids)
            .unwrap_or_else(|e| panic!("round {round}: command records: {e}"));
        records.sort_by_key(|(id, _)| *id);
        // A store reports where a command's events sit; what it asked is on its first event.
        let mut want: Vec<_> = state
            .commands()
            .iter()
            .map(|(id, r)| (*id, CommandRecord::located(r.first_version, r.events)))
            .collect();
        want.sort_by_key(|(id, _)| *id);
        assert!(
            records == want,
            "round {round}: the store's command records differ from a full replay"
        );
        previous = events;
    }
}
