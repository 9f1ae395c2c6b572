//! Storage benchmarks for SQLite, each against the raw database doing the
//! equivalent work in the same run:
//!
//! 1. durable appends through the engine with group commit vs raw batched
//!    inserts of the same rows (events and outbox) in one transaction;
//! 2. single-command durable commits vs raw single-row transactions;
//! 3. replaying 1,000,000 events from SQLite through the engine;
//! 4. opening from a snapshot at several history lengths.
//!
//! Run: `cargo bench -p grantflow-sqlite --bench storage`
//! (`GRANTFLOW_BENCH_REPLAY_EVENTS` changes the replay size.)

// The allocator of the `grantflow` binary, which replays through this store.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::time::{Duration, Instant};

use grantflow_core::conformance::fixtures;
use grantflow_core::{
    Action, Command, CommandId, Engine, EngineConfig, Item, Milestone, Money, ProgrammeId,
};
use grantflow_sqlite::{SqliteOptions, SqliteStore, Synchronous};
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

type EventRow = (String, i64, String, i64, String, String, i64);
type OutboxRow = (String, String, String, i64, i64);

fn rows_of(path: &Path) -> (Vec<EventRow>, Vec<OutboxRow>) {
    let conn = Connection::open(path).expect("open");
    let mut s = conn.prepare("SELECT programme_id, version, event_type, schema_version, payload, command_id, recorded_at FROM events ORDER BY rowid").expect("prepare");
    let events = s
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .expect("query")
        .collect::<Result<Vec<_>, _>>()
        .expect("rows");
    let mut s = conn.prepare("SELECT notice_id, programme_id, notice, next_attempt, version FROM outbox ORDER BY seq").expect("prepare");
    let outbox = s
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .expect("query")
        .collect::<Result<Vec<_>, _>>()
        .expect("rows");
    (events, outbox)
}

fn insert_rows(conn: &Connection, events: &[EventRow], outbox: &[OutboxRow]) {
    conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
    {
        let mut max = conn
            .prepare_cached("SELECT coalesce(max(version), 0) FROM events WHERE programme_id = ?1")
            .expect("prepare");
        if let Some(first) = events.first() {
            let _: i64 = max.query_row([&first.0], |r| r.get(0)).expect("version");
        }
        let mut ins = conn
            .prepare_cached("INSERT INTO events (programme_id, version, event_type, schema_version, payload, command_id, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
            .expect("prepare");
        for e in events {
            ins.execute(params![e.0, e.1, e.2, e.3, e.4, e.5, e.6])
                .expect("insert");
        }
        let mut ob = conn
            .prepare_cached("INSERT INTO outbox (notice_id, programme_id, notice, next_attempt, version) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (notice_id) DO NOTHING")
            .expect("prepare");
        for o in outbox {
            ob.execute(params![o.0, o.1, o.2, o.3, o.4])
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
fn group_commit(dir: &Path) -> Ratio {
    const BATCHES: u64 = 20;
    const PER_BATCH: u64 = 500;
    let tag = "bench-group";
    let path = dir.join("group.db");
    // The raw side writes events and outbox rows only, so the engine does too:
    // snapshots (a whole-state write every `snapshot_every` events) are
    // measured on their own below.
    let mut engine = open_engine(
        &path,
        tag,
        4_000_000_000,
        SqliteOptions::default(),
        EngineConfig {
            snapshot_every: 0,
            ..EngineConfig::default()
        },
    );
    let before = engine.state().version;
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
    let events = engine.state().version - before;
    drop(engine);

    // The raw side writes exactly the rows the engine wrote, in the same transaction sizes.
    let (rows, outbox) = rows_of(&path);
    let rows = &rows[1..]; // without the programme's opening event
    let raw_path = dir.join("group-raw.db");
    let conn = raw_connection(&raw_path, Synchronous::Full);
    let per_tx = rows.len() / BATCHES as usize;
    let ob_per_tx = outbox.len() / BATCHES as usize;
    let t = Instant::now();
    for b in 0..BATCHES as usize {
        insert_rows(
            &conn,
            &rows[b * per_tx..(b + 1) * per_tx],
            &outbox[b * ob_per_tx..(b + 1) * ob_per_tx],
        );
    }
    let raw = t.elapsed();
    Ratio {
        name: "group commit (500 commands/tx, FULL)",
        ours: events as f64 / ours.as_secs_f64(),
        raw: rows.len() as f64 / raw.as_secs_f64(),
        unit: "events/s",
        target: 0.5,
    }
}

/// Single commands, each its own durable transaction, vs raw single-row transactions.
fn single_commits(dir: &Path) -> Ratio {
    const N: u64 = 300;
    let tag = "bench-single";
    let path = dir.join("single.db");
    let mut engine = open_engine(
        &path,
        tag,
        4_000_000_000,
        SqliteOptions::default(),
        EngineConfig::default(),
    );
    let commands: Vec<Command> = (0..N).map(|i| fixtures::submit(tag, i)).collect();
    let t = Instant::now();
    for c in &commands {
        engine.execute(c, fixtures::day(1)).expect("submit");
    }
    let ours = t.elapsed();
    drop(engine);
    let (rows, _) = rows_of(&path);
    let raw_path = dir.join("single-raw.db");
    let conn = raw_connection(&raw_path, Synchronous::Full);
    let t = Instant::now();
    for row in rows.iter().skip(1).step_by(2).take(N as usize) {
        insert_rows(&conn, std::slice::from_ref(row), &[]);
    }
    let raw = t.elapsed();
    Ratio {
        name: "single commits (1 command/tx, FULL)",
        ours: N as f64 / ours.as_secs_f64(),
        raw: N as f64 / raw.as_secs_f64(),
        unit: "tx/s    ",
        target: 0.8,
    }
}

/// Builds a stream of about `events` events: applications taken through
/// submission, offer, acceptance, certification, two claims and completion.
fn build_history(path: &Path, tag: &str, events: u64) -> Engine<SqliteStore> {
    let options = SqliteOptions {
        synchronous: Synchronous::Off,
        ..SqliteOptions::default()
    };
    let config = EngineConfig {
        snapshot_every: 0,
        ..EngineConfig::default()
    };
    let mut engine = open_engine(path, tag, 4_000_000_000, options, config);
    let apps = events / 9;
    let now = fixtures::day(1);
    let mut batch = Vec::with_capacity(1000);
    for n in 0..apps {
        let app = fixtures::application(tag, n);
        let p = format!("{tag}/{n}");
        batch.push((fixtures::submit(tag, n), now));
        batch.push((fixtures::accept(tag, n), now));
        for (i, m) in [
            Milestone::ConsultancyEngaged,
            Milestone::SelfAssessmentSubmitted,
            Milestone::AssessmentPassed,
        ]
        .into_iter()
        .enumerate()
        {
            batch.push((
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
        batch.push((
            cmd(
                format!("{p}/c1"),
                Action::Claim {
                    application: app,
                    item: Item::Consultancy,
                    invoice_ref: format!("C-{p}"),
                    amount: Money::pounds(900),
                },
            ),
            now,
        ));
        batch.push((
            cmd(
                format!("{p}/c2"),
                Action::Claim {
                    application: app,
                    item: Item::CertificationFee,
                    invoice_ref: format!("F-{p}"),
                    amount: Money::pounds(300),
                },
            ),
            now,
        ));
        batch.push((
            cmd(format!("{p}/done"), Action::Complete { application: app }),
            now,
        ));
        if batch.len() >= 992 {
            for r in engine.execute_batch(&batch).expect("batch") {
                r.expect("accepted");
            }
            batch.clear();
        }
    }
    for r in engine.execute_batch(&batch).expect("batch") {
        r.expect("accepted");
    }
    engine
}

fn replay(dir: &Path, events: u64) -> (u64, Duration, Duration) {
    let tag = "bench-replay";
    let path = dir.join("replay.db");
    let t = Instant::now();
    let engine = build_history(&path, tag, events);
    let total = engine.state().version;
    println!(
        "(built {total} events in {:.1} s)",
        t.elapsed().as_secs_f64()
    );
    drop(engine);
    let store = SqliteStore::open(&path).expect("open");
    let mut engine = Engine::with_config(
        store,
        ProgrammeId::new(tag),
        EngineConfig {
            snapshot_every: 0,
            ..EngineConfig::default()
        },
    )
    .expect("engine");
    let t = Instant::now();
    engine.replay_all().expect("replay");
    let replay = t.elapsed();
    assert_eq!(engine.state().version, total);
    // Reading and decoding alone, without folding.
    let mut store = engine.into_store();
    let t = Instant::now();
    let mut after = 0;
    loop {
        let page =
            grantflow_core::EventStore::load(&mut store, &ProgrammeId::new(tag), after, 10_000)
                .expect("load");
        if page.is_empty() {
            break;
        }
        after = page.last().map_or(after, |r| r.version);
    }
    (total, replay, t.elapsed())
}

fn snapshot_open(dir: &Path, events: u64) -> (u64, Duration, Duration, usize) {
    let tag = format!("bench-snap-{events}");
    let path = dir.join(format!("snap-{events}.db"));
    let mut engine = build_history(&path, &tag, events);
    engine.snapshot().expect("snapshot");
    let total = engine.state().version;
    let size =
        grantflow_core::EventStore::load_snapshot(engine.store_mut(), &ProgrammeId::new(&tag))
            .expect("load")
            .map_or(0, |s| s.data.len());
    drop(engine);
    let config = EngineConfig {
        snapshot_every: 0,
        ..EngineConfig::default()
    };
    let store = SqliteStore::open(&path).expect("open");
    let t = Instant::now();
    let engine =
        Engine::with_config(store, ProgrammeId::new(&tag), config).expect("open from snapshot");
    let from_snapshot = t.elapsed();
    assert_eq!(engine.state().version, total);
    let mut engine = engine;
    let t = Instant::now();
    engine.replay_all().expect("replay");
    (total, from_snapshot, t.elapsed(), size)
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
    let g = group_commit(dir.path());
    report(&g);
    let s = single_commits(dir.path());
    report(&s);
    let n: u64 = std::env::var("GRANTFLOW_BENCH_REPLAY_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let (total, replay_time, load_time) = replay(dir.path(), n);
    let rate = total as f64 / replay_time.as_secs_f64();
    println!(
        "replay {total} events through the engine: {:.2} s = {:.0} events/s (target 750000: {}); read+decode alone {:.0} events/s",
        replay_time.as_secs_f64(),
        rate,
        if rate >= 750_000.0 { "meets" } else { "MISSES" },
        total as f64 / load_time.as_secs_f64()
    );
    for events in [10_000u64, 100_000, 1_000_000.min(n)] {
        let (total, snap, full, size) = snapshot_open(dir.path(), events);
        println!(
            "open from snapshot at {total:>8} events: {:>8.1} ms (snapshot {:.1} MB); full replay {:>8.1} ms",
            snap.as_secs_f64() * 1000.0,
            size as f64 / 1e6,
            full.as_secs_f64() * 1000.0
        );
    }
}
