//! PostgreSQL storage benchmarks, each against the raw database doing the
//! equivalent work in the same run:
//!
//! 1. durable appends through the engine with group commit vs raw batched
//!    inserts of the same rows (events and outbox) in one transaction;
//! 2. single-command durable commits vs raw single-row transactions.
//!
//! Both engines are opened from a snapshot, as after a restart: their
//! command index covers only the tail, so each command (each group commit)
//! asks the store in one query whether it was applied before.
//!
//! Run: `cargo bench -p grantflow-postgres --bench pg_storage`
//! (`GRANTFLOW_PG_URL`, default `postgres://postgres@127.0.0.1:5432/test`).

use std::time::Instant;

use grantflow_core::{Command, Engine, EngineConfig, ProgrammeId};
use grantflow_postgres::{PgOptions, PostgresStore};
use grantflow_testkit::conformance::fixtures;
use postgres::{Client, NoTls};

type EventRows = (
    Vec<String>,
    Vec<i64>,
    Vec<String>,
    Vec<i32>,
    Vec<String>,
    Vec<String>,
);
type OutboxRows = (Vec<String>, Vec<String>, Vec<String>, Vec<i64>, Vec<i64>);

fn rows(client: &mut Client, schema: &str) -> (EventRows, OutboxRows) {
    let mut e: EventRows = Default::default();
    for r in client
        .query(&format!("SELECT programme_id, version, event_type, schema_version, payload, command_id FROM \"{schema}\".events WHERE version > 1 ORDER BY version"), &[])
        .expect("events")
    {
        e.0.push(r.get(0));
        e.1.push(r.get(1));
        e.2.push(r.get(2));
        e.3.push(r.get(3));
        e.4.push(r.get(4));
        e.5.push(r.get(5));
    }
    let mut o: OutboxRows = Default::default();
    for r in client.query(&format!("SELECT notice_id, programme_id, notice, next_attempt, version FROM \"{schema}\".outbox ORDER BY seq"), &[]).expect("outbox") {
        o.0.push(r.get(0));
        o.1.push(r.get(1));
        o.2.push(r.get(2));
        o.3.push(r.get(3));
        o.4.push(r.get(4));
    }
    (e, o)
}

fn raw_insert(
    client: &mut Client,
    schema: &str,
    e: &EventRows,
    range: std::ops::Range<usize>,
    o: &OutboxRows,
    orange: std::ops::Range<usize>,
) {
    let mut tx = client.transaction().expect("begin");
    let _: i64 = tx
        .query_one(
            &format!(
                "SELECT coalesce(max(version), 0) FROM \"{schema}\".events WHERE programme_id = $1"
            ),
            &[&e.0[range.start]],
        )
        .expect("version")
        .get(0);
    tx.execute(
        &format!(
            "INSERT INTO \"{schema}\".events (programme_id, version, event_type, schema_version, payload, command_id)
             SELECT $1, v, t, s, p, c FROM unnest($2::bigint[], $3::text[], $4::integer[], $5::text[], $6::text[]) AS u(v, t, s, p, c)"
        ),
        &[&e.0[range.start], &&e.1[range.clone()], &&e.2[range.clone()], &&e.3[range.clone()], &&e.4[range.clone()], &&e.5[range.clone()]],
    )
    .expect("insert events");
    if !orange.is_empty() {
        tx.execute(
            &format!(
                "INSERT INTO \"{schema}\".outbox (notice_id, programme_id, notice, next_attempt, version)
                 SELECT n, $1, j, $4, $5 FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS u(n, j, ord) ORDER BY ord ON CONFLICT (notice_id) DO NOTHING"
            ),
            &[&o.1[orange.start], &&o.0[orange.clone()], &&o.2[orange.clone()], &o.3[orange.start], &o.4[orange.start]],
        )
        .expect("insert outbox");
    }
    tx.commit().expect("commit");
}

fn fresh(url: &str, name: &str) -> PostgresStore {
    let mut c = Client::connect(url, NoTls).expect("connect");
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"))
        .expect("drop");
    PostgresStore::connect_with(
        url,
        PgOptions {
            schema: Some(name.into()),
            ..PgOptions::default()
        },
    )
    .expect("store")
}

/// Saves a snapshot and opens a new engine from it (its command index then
/// holds none of the commands before the snapshot).
fn from_snapshot(
    mut engine: Engine<PostgresStore>,
    tag: &str,
    config: EngineConfig,
) -> Engine<PostgresStore> {
    engine.snapshot().expect("snapshot");
    Engine::with_config(engine.into_store(), ProgrammeId::new(tag), config)
        .expect("engine from snapshot")
}

fn report(name: &str, ours: f64, raw: f64, unit: &str, target: f64) {
    let ratio = ours / raw;
    println!(
        "{name:<44} engine {ours:>10.0} {unit}  raw {raw:>10.0} {unit}  ratio {:>5.1}%  (target {:.0}%: {})",
        ratio * 100.0,
        target * 100.0,
        if ratio >= target { "meets" } else { "MISSES" }
    );
}

fn main() {
    let url = std::env::var("GRANTFLOW_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mut admin = match Client::connect(&url, NoTls) {
        Ok(c) => c,
        Err(e) => {
            println!("SKIPPED: PostgreSQL is unreachable ({e}); set GRANTFLOW_PG_URL");
            return;
        }
    };
    println!("PostgreSQL storage benchmarks");
    let pid = std::process::id();

    // 1. Group commit.
    const BATCHES: u64 = 20;
    const PER_BATCH: u64 = 500;
    let (ours_s, raw_s) = (
        format!("gf_bench_group_{pid}"),
        format!("gf_bench_group_raw_{pid}"),
    );
    let tag = "bench-group";
    // The raw side writes events and outbox rows only, so the engine does too:
    // no snapshot (a whole-state write every `snapshot_every` events) inside
    // the timed appends.
    let config = EngineConfig {
        snapshot_every: 0,
        ..EngineConfig::default()
    };
    let mut engine =
        Engine::with_config(fresh(&url, &ours_s), ProgrammeId::new(tag), config).expect("engine");
    engine
        .execute(
            &fixtures::open(tag, fixtures::programme(4_000_000_000)),
            fixtures::day(0),
        )
        .expect("open");
    let mut engine = from_snapshot(engine, tag, config);
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
    let events = engine.state().version() - 1;
    drop(engine);
    let (e, o) = rows(&mut admin, &ours_s);
    drop(fresh(&url, &raw_s));
    let (per, oper) = (e.1.len() / BATCHES as usize, o.0.len() / BATCHES as usize);
    let t = Instant::now();
    for b in 0..BATCHES as usize {
        raw_insert(
            &mut admin,
            &raw_s,
            &e,
            b * per..(b + 1) * per,
            &o,
            b * oper..(b + 1) * oper,
        );
    }
    let raw = t.elapsed();
    report(
        "group commit (500 commands/tx)",
        events as f64 / ours.as_secs_f64(),
        e.1.len() as f64 / raw.as_secs_f64(),
        "events/s",
        0.5,
    );

    // 2. Single commands.
    const N: u64 = 500;
    let (single_s, single_raw_s) = (
        format!("gf_bench_single_{pid}"),
        format!("gf_bench_single_raw_{pid}"),
    );
    let tag = "bench-single";
    let mut engine = Engine::with_config(
        fresh(&url, &single_s),
        ProgrammeId::new(tag),
        EngineConfig::default(),
    )
    .expect("engine");
    engine
        .execute(
            &fixtures::open(tag, fixtures::programme(4_000_000_000)),
            fixtures::day(0),
        )
        .expect("open");
    let mut engine = from_snapshot(engine, tag, EngineConfig::default());
    let commands: Vec<Command> = (0..N).map(|i| fixtures::submit(tag, i)).collect();
    let t = Instant::now();
    for c in &commands {
        engine.execute(c, fixtures::day(1)).expect("submit");
    }
    let ours = t.elapsed();
    drop(engine);
    let (e, o) = rows(&mut admin, &single_s);
    drop(fresh(&url, &single_raw_s));
    let t = Instant::now();
    for i in 0..N as usize {
        raw_insert(
            &mut admin,
            &single_raw_s,
            &e,
            2 * i + 1..2 * i + 2,
            &o,
            0..0,
        );
    }
    let raw = t.elapsed();
    report(
        "single commits (1 command/tx)",
        N as f64 / ours.as_secs_f64(),
        N as f64 / raw.as_secs_f64(),
        "tx/s    ",
        0.8,
    );

    for s in [ours_s, raw_s, single_s, single_raw_s] {
        let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{s}\" CASCADE"));
    }
}
