//! Crash safety on a real PostgreSQL server. A child process appends in a
//! loop and reports every command the store acknowledged to the parent (a
//! line on its stdout, a pipe) before going on. The parent either kills it
//! with SIGKILL at a random moment (often inside a transaction), or
//! terminates its server session with `pg_terminate_backend` while it runs
//! (the child reconnects and retries under the same command id). After
//! each round the log replays, its versions have no gap, and every
//! acknowledged command is in it, whole.
//!
//! 20 rounds of each by default; `GRANTFLOW_CRASH_ROUNDS` sets another number.

mod common;

use std::io::Write;
use std::process::{Child, Command as Process, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use grantflow_core::{
    Command, Engine, EngineError, EventStore, ProgrammeId, Recorded, StageKind, State, evolve,
};
use grantflow_postgres::{PgOptions, PostgresStore};
use grantflow_testkit::conformance::acknowledged::{
    Ack, acknowledge, check_acknowledged, read_acks,
};
use grantflow_testkit::conformance::fixtures;

const URL: &str = "GRANTFLOW_TEST_CRASH_URL";
const SCHEMA: &str = "GRANTFLOW_TEST_CRASH_SCHEMA";
const TAG: &str = "pg-crash";
const POT: u32 = 30_000;

fn rounds() -> usize {
    std::env::var("GRANTFLOW_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

/// The URL with an application name, so the parent can find the child's session.
fn named(url: &str, schema: &str) -> String {
    let joiner = if url.contains('?') { '&' } else { '?' };
    format!("{url}{joiner}application_name={schema}")
}

/// Opens the engine, retrying while the server refuses (bounded).
fn open(url: &str, schema: &str, started: Instant) -> Engine<PostgresStore> {
    let options = PgOptions {
        schema: Some(schema.to_string()),
        ..PgOptions::default()
    };
    loop {
        let opened = PostgresStore::connect_with(url, options.clone())
            .map_err(EngineError::from)
            .and_then(|store| Engine::open(store, ProgrammeId::new(TAG)));
        match opened {
            Ok(engine) => return engine,
            Err(e) if started.elapsed() < Duration::from_secs(60) => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("cannot reopen the store: {e}"),
        }
    }
}

/// Runs the command until the store answers it; a lost connection
/// reopens the engine and sends the same command (same id) again.
fn run(engine: &mut Engine<PostgresStore>, url: &str, schema: &str, command: &Command) {
    let started = Instant::now();
    loop {
        match engine.execute(command, fixtures::day(5)) {
            Ok(outcome) => return acknowledge(command.id, &outcome),
            Err(EngineError::Rejected(r)) => panic!("{} was refused: {r}", command.id),
            Err(_) if started.elapsed() < Duration::from_secs(60) => {
                *engine = open(url, schema, started);
            }
            Err(e) => panic!("gave up on {}: {e}", command.id),
        }
    }
}

/// Run by the two crash tests: appends until killed.
#[test]
#[ignore = "a child process of the PostgreSQL crash tests"]
fn pg_crash_child() {
    let url = std::env::var(URL).expect("run by a crash test, which sets the URL");
    let schema = std::env::var(SCHEMA).expect("run by a crash test, which sets the schema");
    let started = Instant::now();
    let mut engine = open(&url, &schema, started);
    // Bounded, in case the parent is gone: it kills us long before this.
    while started.elapsed() < Duration::from_secs(120) {
        let n = engine.state().applications().len() as u64;
        let offered: Vec<u64> = (0..n)
            .filter(|m| {
                engine
                    .state()
                    .application(&fixtures::application(TAG, *m))
                    .is_some_and(|a| a.stage().kind() == StageKind::Offered)
            })
            .collect();
        for m in offered {
            run(&mut engine, &url, &schema, &fixtures::accept(TAG, m));
        }
        run(&mut engine, &url, &schema, &fixtures::submit(TAG, n));
    }
}

/// The child and the thread reading its acknowledgements.
struct Writer {
    child: Child,
    acks: mpsc::Receiver<Ack>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    fn spawn(url: &str, schema: &str) -> Writer {
        let mut child = Process::new(std::env::current_exe().expect("the test binary"))
            .args(["--ignored", "--exact", "pg_crash_child", "--test-threads=1"])
            .env(URL, url)
            .env(SCHEMA, schema)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the appending process");
        let (sender, acks) = mpsc::channel();
        let stdout = child.stdout.take().expect("the child's stdout");
        let reader = Some(std::thread::spawn(move || read_acks(stdout, sender)));
        Writer {
            child,
            acks,
            reader,
        }
    }

    /// The next acknowledgement, or a panic with the child's stderr.
    fn next(&mut self, round: usize) -> Ack {
        match self.acks.recv_timeout(Duration::from_secs(30)) {
            Ok(ack) => ack,
            Err(_) => {
                let _ = self.child.kill();
                let status = self.child.wait().expect("reap it");
                let mut err = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                panic!("round {round}: no command acknowledged in 30 s ({status}): {err}");
            }
        }
    }

    /// SIGKILLs the child; returns every acknowledgement it sent.
    fn kill(mut self) -> Vec<Ack> {
        self.child.kill().expect("SIGKILL the appending process");
        self.child.wait().expect("reap it");
        if let Some(reader) = self.reader.take() {
            reader.join().expect("the acknowledgement reader");
        }
        self.acks.try_iter().collect()
    }
}

/// The whole log replays, its versions run 1, 2, 3, … and every
/// acknowledged command sits whole at the versions it was acknowledged at.
fn check(round: usize, store: &mut PostgresStore, acks: &[Ack]) -> usize {
    let programme = ProgrammeId::new(TAG);
    let log: Vec<Recorded> = store
        .load(&programme, 0, usize::MAX)
        .unwrap_or_else(|e| panic!("round {round}: load: {e}"));
    let mut state = State::default();
    for (i, r) in log.iter().enumerate() {
        assert_eq!(
            r.version,
            i as u64 + 1,
            "round {round}: a gap in the versions"
        );
        evolve(&mut state, &r.event)
            .unwrap_or_else(|e| panic!("round {round}: the log does not replay: {e}"));
    }
    check_acknowledged(&log, acks).unwrap_or_else(|e| panic!("round {round}: {e}"));
    log.len()
}

fn opened_schema(url: &str, purpose: &str) -> common::Schema {
    let schema = common::Schema::new(url, purpose);
    let mut engine = Engine::open(schema.store(), ProgrammeId::new(TAG)).expect("engine");
    engine
        .execute(
            &fixtures::open(TAG, fixtures::programme(POT)),
            fixtures::day(0),
        )
        .expect("open the programme");
    schema
}

#[test]
fn sigkill_mid_transaction_loses_no_acknowledged_command() {
    let Some(url) = common::server("sigkill_mid_transaction_loses_no_acknowledged_command") else {
        return;
    };
    let schema = opened_schema(&url, "kill");
    let child_url = named(&url, &schema.name);
    let rounds = rounds();
    let (mut acknowledged, mut events) = (0, 0);
    for round in 0..rounds {
        let mut writer = Writer::spawn(&child_url, &schema.name);
        let first = writer.next(round);
        std::thread::sleep(Duration::from_micros(fastrand::u64(0..40_000)));
        let mut acks = writer.kill();
        acks.insert(0, first);
        acknowledged += acks.len();
        events = check(round, &mut schema.store(), &acks);
    }
    assert!(
        acknowledged >= rounds,
        "{acknowledged} acknowledged in {rounds} rounds"
    );
    let _ = writeln!(
        std::io::stderr(),
        "pg crash (SIGKILL): {rounds} rounds, {acknowledged} acknowledged commands, {events} events, all whole"
    );
}

#[test]
fn a_terminated_session_loses_no_acknowledged_command() {
    let Some(url) = common::server("a_terminated_session_loses_no_acknowledged_command") else {
        return;
    };
    let schema = opened_schema(&url, "terminate");
    let child_url = named(&url, &schema.name);
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    let rounds = rounds();
    let mut writer = Writer::spawn(&child_url, &schema.name);
    let mut acks = Vec::new();
    let mut terminated = 0;
    for round in 0..rounds {
        // The child has reconnected and made progress since the last termination.
        acks.push(writer.next(round));
        std::thread::sleep(Duration::from_micros(fastrand::u64(0..40_000)));
        let killed: i64 = admin
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                &[&schema.name],
            )
            .expect("terminate the child's session")
            .get(0);
        terminated += killed;
        acks.extend(writer.acks.try_iter());
        check(round, &mut schema.store(), &acks);
    }
    acks.extend(writer.kill());
    let events = check(rounds, &mut schema.store(), &acks);
    assert!(
        terminated >= rounds as i64 / 2,
        "only {terminated} sessions were terminated in {rounds} rounds"
    );
    let _ = writeln!(
        std::io::stderr(),
        "pg crash (pg_terminate_backend): {rounds} rounds, {terminated} sessions terminated, {} acknowledged commands, {events} events, all whole",
        acks.len()
    );
}
