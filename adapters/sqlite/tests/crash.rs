//! Crash safety: a child process appends in a loop (single commands and
//! group commits, with snapshots; it also claims and acknowledges notices,
//! moving them into the outbox table) and is killed with SIGKILL at random
//! points. It reports every command the store acknowledged to the parent
//! (a line on its stdout, a pipe) before going on. After each kill the file
//! reopens, the log is a consistent prefix of what follows, the state
//! replays, no command is half applied, and every acknowledged command is
//! in the log, whole: at the version it was acknowledged at, with as many
//! events.
//!
//! 50 rounds by default; set `GRANTFLOW_CRASH_ROUNDS` for a longer soak.

mod common;

use std::io::Write;
use std::process::{Command as Process, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use grantflow_core::{
    Action, CommandRecord, Engine, EngineConfig, EventStore, Outbox, ProgrammeId, StageKind,
};
use grantflow_sqlite::SqliteStore;
use grantflow_testkit::conformance::acknowledged::{acknowledge, check_acknowledged, read_acks};
use grantflow_testkit::conformance::fixtures;

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
            let accept = fixtures::accept(TAG, m);
            acknowledge(
                accept.id,
                &common::run(&mut engine, &accept).expect("accept"),
            );
            if m % 4 == 1 {
                let withdraw = fixtures::command(
                    &format!("{TAG}/withdraw/{m}"),
                    Action::Withdraw {
                        application: fixtures::application(TAG, m),
                        reason: "closing down".into(),
                    },
                );
                acknowledge(
                    withdraw.id,
                    &common::run(&mut engine, &withdraw).expect("withdraw"),
                );
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
            for ((command, _), r) in batch
                .iter()
                .zip(engine.execute_batch(&batch).expect("batch"))
            {
                acknowledge(command.id, &r.expect("a batched submission was rejected"));
            }
        } else {
            let submit = fixtures::submit(TAG, n);
            acknowledge(
                submit.id,
                &common::run(&mut engine, &submit).expect("submit"),
            );
        }
    }
}

fn rounds() -> usize {
    std::env::var("GRANTFLOW_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
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
    let mut previous: Vec<grantflow_core::Recorded> = Vec::new();
    let rounds = rounds();
    let mut acknowledged = 0;
    for round in 0..rounds {
        let mut child = Process::new(&exe)
            .args(["--ignored", "--exact", "crash_child", "--test-threads=1"])
            .env(CHILD_DB, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the appending process");
        let (sender, acks) = mpsc::channel();
        let stdout = child.stdout.take().expect("the child's stdout");
        let reader = std::thread::spawn(move || read_acks(stdout, sender));
        // Wait for the child's first acknowledgement of this round, then
        // kill it a random moment later.
        let mut seen = match acks.recv_timeout(Duration::from_secs(20)) {
            Ok(ack) => vec![ack],
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().expect("reap it");
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                panic!("round {round}: no command acknowledged in 20 s ({status}): {err}");
            }
        };
        std::thread::sleep(Duration::from_micros(fastrand::u64(0..40_000)));
        child.kill().expect("SIGKILL the appending process");
        child.wait().expect("reap it");
        reader.join().expect("the acknowledgement reader");
        seen.extend(acks.try_iter());
        acknowledged += seen.len();

        let mut store = SqliteStore::open(&path).unwrap_or_else(|e| {
            panic!("round {round}: the file does not reopen after SIGKILL: {e}")
        });
        let (state, events) = common::check_stream(&mut store, &programme)
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        check_acknowledged(&events, &seen).unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(
            events.len() >= previous.len(),
            "round {round}: the log shrank from {} to {} events",
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
    // Each round waited for an acknowledgement, so every round made progress.
    assert!(
        acknowledged >= rounds,
        "{acknowledged} acknowledged in {rounds} rounds"
    );
    let _ = writeln!(
        std::io::stderr(),
        "crash: {rounds} rounds, {acknowledged} acknowledged commands, all in the log whole"
    );
}
