//! Storage benchmarks for SQLite, each against the raw database doing the
//! equivalent work in the same run:
//!
//! 1. durable appends through the engine with group commit vs raw batched
//!    inserts of the same rows (events, the notices on their last) in one
//!    transaction;
//! 2. single-command durable commits vs raw single-row transactions, the
//!    two sides taking turns in rounds so that both see the same disk;
//! 3. replaying 1,000,000 events from SQLite through the engine;
//! 4. opening from a snapshot at several history lengths: with the same
//!    live state (a fixed set of applications, the rest of the history
//!    top-ups) and with a state that grows with the history.
//!
//! The appends of 1 and 2 run on an engine opened from a snapshot, as after
//! a restart: its command index covers only the tail, so each command (each
//! group commit) asks the store whether it was applied before. The lines
//! marked "index complete" are the same run on an engine that folded the
//! stream from its first event and asks nothing.
//!
//! Run: `cargo bench -p grantflow-sqlite --bench storage`
//! (`GRANTFLOW_BENCH_REPLAY_EVENTS` changes the largest history, 1,000,000
//! by default; `GRANTFLOW_BENCH_REPLAY_RUNS` the number of full replays, 3;
//! `GRANTFLOW_BENCH_SINGLE_ROUNDS` the rounds of single commits, 40 of 25
//! transactions a side; `GRANTFLOW_BENCH_PARTS` picks parts from
//! `group,single,replay`, the last covering replay and snapshot opening.)

// The allocator of the `grantflow` binary, which replays through this store.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::time::{Duration, Instant};

use grantflow_core::{
    Action, Command, CommandId, Engine, EngineConfig, Item, Milestone, Money, Outbox, ProgrammeId,
};
use grantflow_sqlite::{SqliteOptions, SqliteStore, Synchronous};
use grantflow_testkit::conformance::fixtures;
use rusqlite::{Connection, params};

fn cmd(name: String, action: Action) -> Command {
    Command::new(CommandId::from_name(&name), action)
}

fn open_engine(
    path: &Path,
    tag: &str,
    pot: u32,
    options: SqliteOptions,
    config: EngineConfig,
) -> Engine<SqliteStore> {
    let store = SqliteStore::open_with(path, options).expect("open");
    let mut engine = Engine::with_config(store, ProgrammeId::new(tag), config).expect("engine");
    engine
        .execute(
            &fixtures::open(tag, fixtures::programme(pot)),
            fixtures::day(0),
        )
        .expect("open programme");
    engine
}

/// Saves a snapshot and opens a new engine from it: its command index then
/// holds none of the commands before the snapshot.
fn reopened_from_snapshot(
    mut engine: Engine<SqliteStore>,
    tag: &str,
    options: SqliteOptions,
    config: EngineConfig,
) -> Engine<SqliteStore> {
    engine.snapshot().expect("snapshot");
    let path = engine.into_store().path().to_path_buf();
    let store = SqliteStore::open_with(path, options).expect("reopen");
    Engine::with_config(store, ProgrammeId::new(tag), config).expect("engine from snapshot")
}

fn raw_connection(path: &Path, sync: Synchronous) -> Connection {
    // The schema comes from the store; the raw side then writes with plain SQL.
    drop(
        SqliteStore::open_with(
            path,
            SqliteOptions {
                synchronous: sync,
                ..SqliteOptions::default()
            },
        )
        .expect("create schema"),
    );
    let conn = Connection::open(path).expect("raw open");
    let mode = match sync {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
        Synchronous::Off => "OFF",
        Synchronous::Extra => "EXTRA",
    };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {mode}; PRAGMA cache_size = -16384;"
    ))
    .expect("pragmas");
    conn
}

/// An event row as the store writes it: the columns of `events`, the
/// last two holding an append's notices on its last row.
type EventRow = (
    String,
    i64,
    String,
    i64,
    String,
    String,
    i64,
    Option<String>,
    Option<i64>,
);

fn rows_of(path: &Path) -> Vec<EventRow> {
    let conn = Connection::open(path).expect("open");
    let mut s = conn.prepare("SELECT programme_id, version, event_type, schema_version, payload, command_id, recorded_at, notices, notices_due FROM events ORDER BY rowid").expect("prepare");
    s.query_map([], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
            r.get(8)?,
        ))
    })
    .expect("query")
    .collect::<Result<Vec<_>, _>>()
    .expect("rows")
}

fn insert_rows(conn: &Connection, events: &[EventRow]) {
    conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
    {
        let mut max = conn
            .prepare_cached("SELECT coalesce(max(version), 0) FROM events WHERE programme_id = ?1")
            .expect("prepare");
        if let Some(first) = events.first() {
            let _: i64 = max.query_row([&first.0], |r| r.get(0)).expect("version");
        }
        let mut ins = conn
            .prepare_cached("INSERT INTO events (programme_id, version, event_type, schema_version, payload, command_id, recorded_at, notices, notices_due) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")
            .expect("prepare");
        for e in events {
            ins.execute(params![e.0, e.1, e.2, e.3, e.4, e.5, e.6, e.7, e.8])
                .expect("insert");
        }
    }
    conn.execute_batch("COMMIT").expect("commit");
}

struct Ratio {
    name: &'static str,
    ours: f64,
    raw: f64,
    unit: &'static str,
    target: f64,
}

fn report(r: &Ratio) {
    let ratio = r.ours / r.raw;
    let verdict = if ratio >= r.target { "meets" } else { "MISSES" };
    println!(
        "{:<44} engine {:>10.0} {unit}  raw {:>10.0} {unit}  ratio {:>5.1}%  (target {:.0}%: {verdict})",
        r.name,
        r.ours,
        r.raw,
        ratio * 100.0,
        r.target * 100.0,
        unit = r.unit
    );
}

/// Group commit: batches of submissions (2 events and 1 notice each) vs the same rows inserted raw.
fn group_commit(dir: &Path, from_snapshot: bool) -> Ratio {
    const BATCHES: u64 = 20;
    const PER_BATCH: u64 = 500;
    let tag = if from_snapshot {
        "bench-group-snap"
    } else {
        "bench-group"
    };
    let path = dir.join(format!("{tag}.db"));
    // The raw side writes events and outbox rows only, so the engine does too:
    // snapshots (a whole-state write every `snapshot_every` events) are
    // measured on their own below.
    let config = EngineConfig {
        snapshot_every: 0,
        ..EngineConfig::default()
    };
    let mut engine = open_engine(&path, tag, 4_000_000_000, SqliteOptions::default(), config);
    if from_snapshot {
        engine = reopened_from_snapshot(engine, tag, SqliteOptions::default(), config);
    }
    let before = engine.state().version();
    let batches: Vec<Vec<(Command, chrono::DateTime<chrono::Utc>)>> = (0..BATCHES)
        .map(|b| {
            (0..PER_BATCH)
                .map(|i| (fixtures::submit(tag, b * PER_BATCH + i), fixtures::day(1)))
                .collect()
        })
        .collect();
    let t = Instant::now();
    for batch in &batches {
        for r in engine.execute_batch(batch).expect("batch") {
            r.expect("accepted");
        }
    }
    let ours = t.elapsed();
    let events = engine.state().version() - before;
    drop(engine);

    // The raw side writes exactly the rows the engine wrote, in the same transaction sizes.
    let rows = rows_of(&path);
    let rows = &rows[1..]; // without the programme's opening event
    let raw_path = dir.join(format!("{tag}-raw.db"));
    let conn = raw_connection(&raw_path, Synchronous::Full);
    let per_tx = rows.len() / BATCHES as usize;
    let t = Instant::now();
    for b in 0..BATCHES as usize {
        insert_rows(&conn, &rows[b * per_tx..(b + 1) * per_tx]);
    }
    let raw = t.elapsed();
    Ratio {
        name: if from_snapshot {
            "group commit (500 commands/tx, FULL)"
        } else {
            "group commit, index complete"
        },
        ours: events as f64 / ours.as_secs_f64(),
        raw: rows.len() as f64 / raw.as_secs_f64(),
        unit: "events/s",
        target: 0.5,
    }
}

/// Single commands, each its own durable transaction, against two raw
/// baselines: single-row transactions (the target's measure) and
/// transactions of the same rows the command writes (its two event rows,
/// its notice riding on the second: the equivalent work).
///
/// An `fsync` costs from a tenth of a millisecond to several, and its price
/// drifts with the disk, so the three sides take turns: `rounds` rounds of
/// `PER_ROUND` transactions each, the side that goes first rotating, so all
/// see the same disk. Each side's figure is its median round; the spread
/// of the per-round ratios and the ratio of the totals are printed beside.
fn single_commits(dir: &Path, from_snapshot: bool, rounds: usize) -> [Ratio; 2] {
    const PER_ROUND: usize = 25;
    let n = rounds * PER_ROUND;
    let tag = if from_snapshot {
        "bench-single-snap"
    } else {
        "bench-single"
    };
    let commands: Vec<Command> = (0..n as u64).map(|i| fixtures::submit(tag, i)).collect();
    // The raw sides' rows: the same commands' events and notices, written
    // once without fsync to a scratch file and read back.
    let scratch = dir.join(format!("{tag}-rows.db"));
    {
        let fast = SqliteOptions {
            synchronous: Synchronous::Off,
            ..SqliteOptions::default()
        };
        let mut engine = open_engine(&scratch, tag, 4_000_000_000, fast, EngineConfig::default());
        for c in &commands {
            engine.execute(c, fixtures::day(1)).expect("submit");
        }
    }
    let events = rows_of(&scratch);
    // After the opening's event, each submission wrote two events, its
    // notice on the second.
    assert_eq!(events.len(), 1 + 2 * n, "two events per submission");
    let command_rows = |i: usize| &events[1 + 2 * i..3 + 2 * i];
    assert!(
        (0..n).all(|i| command_rows(i)[0].7.is_none() && command_rows(i)[1].7.is_some()),
        "each submission's notice rides on its second event row"
    );
    // The one-row side writes each command's second event without its notice.
    let lone_rows: Vec<EventRow> = (0..n)
        .map(|i| {
            let mut row = command_rows(i)[1].clone();
            (row.7, row.8) = (None, None);
            row
        })
        .collect();

    let path = dir.join(format!("{tag}.db"));
    let mut engine = open_engine(
        &path,
        tag,
        4_000_000_000,
        SqliteOptions::default(),
        EngineConfig::default(),
    );
    if from_snapshot {
        engine = reopened_from_snapshot(
            engine,
            tag,
            SqliteOptions::default(),
            EngineConfig::default(),
        );
    }
    let one_row = raw_connection(&dir.join(format!("{tag}-raw1.db")), Synchronous::Full);
    let same_rows = raw_connection(&dir.join(format!("{tag}-raw3.db")), Synchronous::Full);
    // Per side: total time and per-round times.
    let mut times = [(); 3].map(|()| (Duration::ZERO, Vec::with_capacity(rounds)));
    for round in 0..rounds {
        let span = round * PER_ROUND..(round + 1) * PER_ROUND;
        for turn in 0..3 {
            let side = (round + turn) % 3;
            let t = Instant::now();
            for i in span.clone() {
                // Each side does only its own work inside the timed loop.
                match side {
                    0 => {
                        engine
                            .execute(&commands[i], fixtures::day(1))
                            .expect("submit");
                    }
                    1 => insert_rows(&one_row, std::slice::from_ref(&lone_rows[i])),
                    _ => insert_rows(&same_rows, command_rows(i)),
                }
            }
            let took = t.elapsed();
            times[side].0 += took;
            times[side].1.push(took.as_secs_f64());
        }
    }
    // The notices rode on the commands' event rows; the first claim moves
    // them into the outbox table, in one transaction.
    let t = Instant::now();
    let claimed = engine
        .store_mut()
        .claim(fixtures::day(2), fixtures::day(3), n)
        .expect("claim");
    let took = t.elapsed();
    assert_eq!(claimed.len(), n, "every submission's notice is claimed");
    println!(
        "  first claim of the {n} notices (moving them into the outbox table): {:.1} ms, {:.1} µs a notice",
        ms(took),
        took.as_secs_f64() * 1e6 / n as f64
    );
    // A disk stall in one round would swing a ratio of totals, so the
    // figures are each side's median round; the totals are printed too.
    let median = |side: usize| {
        let mut t = times[side].1.clone();
        t.sort_by(f64::total_cmp);
        t[t.len() / 2]
    };
    let ratio = |side: usize, name: &'static str| {
        let mut per_round: Vec<f64> = times[side]
            .1
            .iter()
            .zip(&times[0].1)
            .map(|(raw, ours)| raw / ours * 100.0)
            .collect();
        per_round.sort_by(f64::total_cmp);
        let at = |q: f64| per_round[((per_round.len() - 1) as f64 * q).round() as usize];
        println!(
            "  {name}: {rounds} rounds of {PER_ROUND} tx a side, in turn; per-round ratio p10 {:.1}%, median {:.1}%, p90 {:.1}%; ratio of totals {:.1}%",
            at(0.1),
            at(0.5),
            at(0.9),
            times[side].0.as_secs_f64() / times[0].0.as_secs_f64() * 100.0
        );
        Ratio {
            name,
            ours: PER_ROUND as f64 / median(0),
            raw: PER_ROUND as f64 / median(side),
            unit: "tx/s    ",
            target: 0.8,
        }
    };
    if from_snapshot {
        [
            ratio(1, "single commits vs 1-row tx, median round"),
            ratio(2, "single commits vs same-rows tx, median round"),
        ]
    } else {
        [
            ratio(1, "single, index complete, vs 1-row tx"),
            ratio(2, "single, index complete, vs same-rows tx"),
        ]
    }
}

type Timed = (Command, chrono::DateTime<chrono::Utc>);

/// Application `n` through submission, offer, acceptance, certification,
/// two claims and completion: 9 events.
fn lifecycle(tag: &str, n: u64, out: &mut Vec<Timed>) {
    let now = fixtures::day(1);
    let app = fixtures::application(tag, n);
    let p = format!("{tag}/{n}");
    out.push((fixtures::submit(tag, n), now));
    out.push((fixtures::accept(tag, n), now));
    for (i, m) in [
        Milestone::ConsultancyEngaged,
        Milestone::SelfAssessmentSubmitted,
        Milestone::AssessmentPassed,
    ]
    .into_iter()
    .enumerate()
    {
        out.push((
            cmd(
                format!("{p}/m{i}"),
                Action::Milestone {
                    application: app,
                    milestone: m,
                },
            ),
            now,
        ));
    }
    for (name, item, amount) in [
        ("c1", Item::Consultancy, 900),
        ("c2", Item::CertificationFee, 300),
    ] {
        out.push((
            cmd(
                format!("{p}/{name}"),
                Action::Claim {
                    application: app,
                    item,
                    invoice_ref: format!("{name}-{p}"),
                    amount: Money::pounds(amount),
                },
            ),
            now,
        ));
    }
    out.push((
        cmd(format!("{p}/done"), Action::Complete { application: app }),
        now,
    ));
}

/// Runs `commands` as group commits of about 1,000 commands.
fn run_batches(engine: &mut Engine<SqliteStore>, commands: impl Iterator<Item = Timed>) {
    let mut batch = Vec::with_capacity(1000);
    for c in commands {
        batch.push(c);
        if batch.len() >= 1000 {
            for r in engine.execute_batch(&batch).expect("batch") {
                r.expect("accepted");
            }
            batch.clear();
        }
    }
    for r in engine.execute_batch(&batch).expect("batch") {
        r.expect("accepted");
    }
}

fn history_engine(path: &Path, tag: &str) -> Engine<SqliteStore> {
    let options = SqliteOptions {
        synchronous: Synchronous::Off,
        ..SqliteOptions::default()
    };
    let config = EngineConfig {
        snapshot_every: 0,
        ..EngineConfig::default()
    };
    open_engine(path, tag, 4_000_000_000, options, config)
}

/// Times opening an engine from the snapshot at the end of the stream, `runs` times.
fn open_times(path: &Path, tag: &str, version: u64, runs: usize) -> Vec<Duration> {
    let config = EngineConfig {
        snapshot_every: 0,
        ..EngineConfig::default()
    };
    (0..runs)
        .map(|_| {
            let store = SqliteStore::open(path).expect("open");
            let t = Instant::now();
            let engine = Engine::with_config(store, ProgrammeId::new(tag), config)
                .expect("open from snapshot");
            let took = t.elapsed();
            assert_eq!(engine.state().version(), version);
            took
        })
        .collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median and range of some timings, in ms.
fn spread(mut times: Vec<Duration>) -> String {
    times.sort();
    format!(
        "{:>7.1} ms (range {:.1}-{:.1})",
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1])
    )
}

fn snapshot_size(engine: &mut Engine<SqliteStore>, tag: &str) -> f64 {
    engine.snapshot().expect("snapshot");
    grantflow_core::EventStore::load_snapshot(engine.store_mut(), &ProgrammeId::new(tag))
        .expect("load")
        .map_or(0, |s| s.data.len()) as f64
        / 1e6
}

/// Opening from a snapshot with the same live state at every history
/// length: 1,000 applications through their lifecycle, then top-ups (one
/// event each, changing only the pot's figures) up to each size. One file
/// per size; the opens of the sizes take turns, so that the machine's load
/// falls on all of them alike.
fn snapshot_open_same_state(dir: &Path, sizes: &[u64]) {
    let mut files = Vec::new();
    for &size in sizes {
        let tag = format!("bench-snap-same-{size}");
        let path = dir.join(format!("{tag}.db"));
        let mut engine = history_engine(&path, &tag);
        let mut commands = Vec::new();
        for n in 0..1_000 {
            lifecycle(&tag, n, &mut commands);
        }
        // The opening event and 9 events per lifecycle.
        let from = 1 + 9 * 1_000;
        let top_ups = (from..size.max(from)).map(|n| {
            (
                cmd(
                    format!("{tag}/top-up/{n}"),
                    Action::TopUp {
                        amount: Money::pounds(1),
                        note: format!("top-up {n}"),
                    },
                ),
                fixtures::day(2),
            )
        });
        run_batches(&mut engine, commands.into_iter().chain(top_ups));
        let version = engine.state().version();
        let apps = engine.state().applications().len();
        let mb = snapshot_size(&mut engine, &tag);
        drop(engine);
        files.push((tag, path, version, apps, mb, Vec::new()));
    }
    for _ in 0..5 {
        for (tag, path, version, _, _, times) in &mut files {
            times.extend(open_times(path, tag, *version, 1));
        }
    }
    for (tag, path, version, apps, mb, times) in files {
        // A command from the start of the history, repeated: the store answers.
        let store = SqliteStore::open(&path).expect("open");
        let mut fresh = Engine::with_config(
            store,
            ProgrammeId::new(&tag),
            EngineConfig {
                snapshot_every: 0,
                ..EngineConfig::default()
            },
        )
        .expect("open");
        let t = Instant::now();
        let out = fresh
            .execute(&fixtures::submit(&tag, 0), fixtures::day(3))
            .expect("repeat");
        let repeat = t.elapsed();
        assert!(matches!(out, grantflow_core::Outcome::Duplicate { .. }));
        println!(
            "open from snapshot, same state ({apps} applications), {version:>8} events: {} (snapshot {mb:.2} MB); repeat of its first submission {:.2} ms",
            spread(times),
            ms(repeat)
        );
    }
}

/// Opening from a snapshot when every event is part of an application's
/// lifecycle, so the state grows with the history; then, at the largest
/// size, full replays of the same stream and reading + decoding alone.
fn snapshot_open_growing(dir: &Path, sizes: &[u64], replay_runs: usize) {
    let tag = "bench-snap-grow";
    let path = dir.join(format!("{tag}.db"));
    let mut engine = history_engine(&path, tag);
    let mut apps = 0;
    let t = Instant::now();
    for &size in sizes {
        let mut commands = Vec::new();
        while (apps + 1) * 9 < size {
            lifecycle(tag, apps, &mut commands);
            apps += 1;
        }
        run_batches(&mut engine, commands.into_iter());
        let version = engine.state().version();
        let mb = snapshot_size(&mut engine, tag);
        let times = open_times(&path, tag, version, 3);
        println!(
            "open from snapshot, growing state ({apps} applications), {version:>8} events: {} (snapshot {mb:.1} MB)",
            spread(times)
        );
    }
    println!("(built in {:.1} s)", t.elapsed().as_secs_f64());
    let total = engine.state().version();
    let mut replays = Vec::new();
    for _ in 0..replay_runs {
        let t = Instant::now();
        engine.replay_all().expect("replay");
        replays.push(t.elapsed());
        assert_eq!(engine.state().version(), total);
    }
    // Reading and decoding alone, without folding.
    let store = engine.store_mut();
    let mut loads = Vec::new();
    for _ in 0..replay_runs {
        let t = Instant::now();
        let mut after = 0;
        loop {
            let page =
                grantflow_core::EventStore::load(store, &ProgrammeId::new(tag), after, 10_000)
                    .expect("load");
            if page.is_empty() {
                break;
            }
            after = page.last().map_or(after, |r| r.version);
        }
        loads.push(t.elapsed());
    }
    let rates = |times: &[Duration]| {
        times
            .iter()
            .map(|t| format!("{:.0}", total as f64 / t.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let best = replays
        .iter()
        .map(|t| total as f64 / t.as_secs_f64())
        .fold(0.0, f64::max);
    println!(
        "replay {total} events through the engine: {} events/s (target 750000: {} in the best run); read+decode alone {} events/s",
        rates(&replays),
        if best >= 750_000.0 { "meets" } else { "MISSES" },
        rates(&loads)
    );
}

fn main() {
    // Files live beside the build output (a real disk), not in a memory-backed /tmp.
    let base = std::env::var("GRANTFLOW_BENCH_DIR")
        .unwrap_or_else(|_| env!("CARGO_TARGET_TMPDIR").to_string());
    std::fs::create_dir_all(&base).expect("bench directory");
    let dir = tempfile::tempdir_in(&base).expect("temporary directory");
    println!(
        "SQLite storage benchmarks (files in {})",
        dir.path().display()
    );
    let parts =
        std::env::var("GRANTFLOW_BENCH_PARTS").unwrap_or_else(|_| "group,single,replay".into());
    let part = |name: &str| parts.split(',').any(|p| p.trim() == name);
    if part("group") {
        for from_snapshot in [true, false] {
            report(&group_commit(dir.path(), from_snapshot));
        }
    }
    let rounds: usize = std::env::var("GRANTFLOW_BENCH_SINGLE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40)
        .max(1);
    if part("single") {
        for from_snapshot in [true, false] {
            for r in single_commits(dir.path(), from_snapshot, rounds) {
                report(&r);
            }
        }
    }
    if !part("replay") {
        return;
    }
    let n: u64 = std::env::var("GRANTFLOW_BENCH_REPLAY_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let runs: usize = std::env::var("GRANTFLOW_BENCH_REPLAY_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    let sizes = [10_000u64.min(n), 100_000.min(n), n];
    snapshot_open_same_state(dir.path(), &sizes);
    snapshot_open_growing(dir.path(), &sizes, runs);
}
