//! Racing writers on one SQLite file: 8 threads, then 2 processes, each with
//! its own store handle and engine, submitting and accepting awards against
//! one small pot. The pot must never be overspent and the stream must have
//! no gap or duplicate version.

mod common;

use std::path::Path;
use std::process::Command as Process;

use grantflow_core::{Engine, ProgrammeId};
use grantflow_sqlite::SqliteStore;
use grantflow_testkit::conformance::fixtures;

const POT: u32 = 6_000; // five awards of £1,200

fn open_programme(path: &Path, tag: &str) -> ProgrammeId {
    let programme = ProgrammeId::new(tag);
    let mut engine =
        Engine::open(SqliteStore::open(path).expect("open"), programme.clone()).expect("engine");
    common::run(&mut engine, &fixtures::open(tag, fixtures::programme(POT)))
        .expect("open the programme");
    programme
}

fn verify(path: &Path, programme: &ProgrammeId, submitted: usize) {
    let mut store = SqliteStore::open(path).expect("reopen");
    let (state, _) = common::check_stream(&mut store, programme)
        .unwrap_or_else(|e| panic!("stream check failed: {e}"));
    common::check_awards(&state, POT, submitted)
        .unwrap_or_else(|e| panic!("award check failed: {e}"));
    // The engine's own view after a full replay agrees.
    let mut engine = Engine::open(store, programme.clone()).expect("engine");
    engine.replay_all().expect("replay");
    assert_eq!(engine.state(), &state);
}

#[test]
fn eight_threads_never_overspend_the_pot() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("race.db");
    let tag = "race-threads";
    let programme = open_programme(&path, tag);
    const WRITERS: u64 = 8;
    const APPS: u64 = 5;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|w| {
                let path = path.clone();
                let programme = programme.clone();
                s.spawn(move || {
                    let store = SqliteStore::open(&path).map_err(|e| e.to_string())?;
                    let mut engine = Engine::with_config(store, programme, common::racing())
                        .map_err(|e| e.to_string())?;
                    common::writer(&mut engine, tag, w, APPS)
                })
            })
            .collect();
        for h in handles {
            h.join()
                .expect("writer thread panicked")
                .unwrap_or_else(|e| panic!("writer failed: {e}"));
        }
    });
    verify(&path, &programme, (WRITERS * APPS) as usize);
}

const CHILD_DB: &str = "GRANTFLOW_TEST_RACE_DB";
const CHILD_WRITER: &str = "GRANTFLOW_TEST_RACE_WRITER";
const PROCESS_TAG: &str = "race-processes";
const PROCESS_APPS: u64 = 6;
const THREADS_PER_PROCESS: u64 = 2;

/// Run by `two_processes_never_overspend_the_pot` in a child process.
#[test]
#[ignore = "a child process of two_processes_never_overspend_the_pot"]
fn race_child() {
    let path = std::env::var(CHILD_DB)
        .expect("run by two_processes_never_overspend_the_pot, which sets the database path");
    let first: u64 = std::env::var(CHILD_WRITER)
        .expect("writer number")
        .parse()
        .expect("writer number");
    let programme = ProgrammeId::new(PROCESS_TAG);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS_PER_PROCESS)
            .map(|t| {
                let (path, programme) = (path.clone(), programme.clone());
                s.spawn(move || {
                    let store = SqliteStore::open(&path).map_err(|e| e.to_string())?;
                    let mut engine = Engine::with_config(store, programme, common::racing())
                        .map_err(|e| e.to_string())?;
                    common::writer(&mut engine, PROCESS_TAG, first + t, PROCESS_APPS)
                })
            })
            .collect();
        for h in handles {
            h.join()
                .expect("writer thread panicked")
                .unwrap_or_else(|e| panic!("writer failed: {e}"));
        }
    });
}

#[test]
fn two_processes_never_overspend_the_pot() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("race-processes.db");
    let programme = open_programme(&path, PROCESS_TAG);
    let exe = std::env::current_exe().expect("the test binary");
    let children: Vec<_> = [0u64, 10]
        .iter()
        .map(|first| {
            Process::new(&exe)
                .args([
                    "--ignored",
                    "--exact",
                    "race_child",
                    "--test-threads=1",
                    "--nocapture",
                ])
                .env(CHILD_DB, &path)
                .env(CHILD_WRITER, first.to_string())
                .spawn()
                .expect("spawn a writer process")
        })
        .collect();
    for mut child in children {
        let status = child.wait().expect("wait for a writer process");
        assert!(status.success(), "a writer process failed: {status}");
    }
    verify(
        &path,
        &programme,
        (2 * THREADS_PER_PROCESS * PROCESS_APPS) as usize,
    );
}
