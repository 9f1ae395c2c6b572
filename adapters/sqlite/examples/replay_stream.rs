//! Times full replays of one SQLite stream: builds a stream of `APPS`
//! application lifecycles (9 events each) in `PATH` if the file does not
//! exist, then runs `Engine::replay_all` over it `RUNS` times.
//!
//! `cargo run --release -p grantflow-sqlite --example replay_stream -- PATH APPS RUNS`
//!
//! The same file replayed by binaries built from two commits, taking turns,
//! compares them under the same load; under
//! `valgrind --tool=callgrind --toggle-collect='*replay_once*'` it counts the
//! instructions of the replay alone.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::time::Instant;

use grantflow_core::{Action, Engine, EngineConfig, Item, Milestone, Money, ProgrammeId};
use grantflow_sqlite::{SqliteOptions, SqliteStore, Synchronous};
use grantflow_testkit::conformance::fixtures;

const TAG: &str = "replay-stream";

#[inline(never)]
fn replay_once(engine: &mut Engine<SqliteStore>) -> u64 {
    engine.replay_all().expect("replay");
    engine.state().version()
}

fn build(path: &Path, apps: u64, config: EngineConfig) {
    let options = SqliteOptions {
        synchronous: Synchronous::Off,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open_with(path, options).expect("create");
    let mut engine = Engine::with_config(store, ProgrammeId::new(TAG), config).expect("engine");
    engine
        .execute(
            &fixtures::open(TAG, fixtures::programme(4_000_000_000)),
            fixtures::day(0),
        )
        .expect("open");
    let now = fixtures::day(1);
    let mut batch = Vec::new();
    for n in 0..apps {
        let app = fixtures::application(TAG, n);
        let p = format!("{TAG}/{n}");
        batch.push((fixtures::submit(TAG, n), now));
        batch.push((fixtures::accept(TAG, n), now));
        for (i, m) in [
            Milestone::ConsultancyEngaged,
            Milestone::SelfAssessmentSubmitted,
            Milestone::AssessmentPassed,
        ]
        .into_iter()
        .enumerate()
        {
            let action = Action::Milestone {
                application: app,
                milestone: m,
            };
            batch.push((fixtures::command(&format!("{p}/m{i}"), action), now));
        }
        for (name, item, pounds) in [
            ("c1", Item::Consultancy, 900),
            ("c2", Item::CertificationFee, 300),
        ] {
            let action = Action::Claim {
                application: app,
                item,
                invoice_ref: format!("{name}-{p}"),
                amount: Money::pounds(pounds),
            };
            batch.push((fixtures::command(&format!("{p}/{name}"), action), now));
        }
        let done = Action::Complete { application: app };
        batch.push((fixtures::command(&format!("{p}/done"), done), now));
        if batch.len() >= 992 {
            engine.execute_batch(&batch).expect("batch");
            batch.clear();
        }
    }
    engine.execute_batch(&batch).expect("batch");
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(apps), Some(runs)) = (args.next(), args.next(), args.next()) else {
        eprintln!("usage: replay_stream PATH APPS RUNS");
        std::process::exit(2);
    };
    let apps: u64 = apps.parse().expect("APPS is a number");
    let runs: usize = runs.parse().expect("RUNS is a number");
    let config = EngineConfig {
        snapshot_every: 0,
        ..EngineConfig::default()
    };
    let path = Path::new(&path);
    if !path.exists() {
        build(path, apps, config);
    }
    let store = SqliteStore::open(path).expect("open");
    let mut engine = Engine::with_config(store, ProgrammeId::new(TAG), config).expect("engine");
    for _ in 0..runs {
        let t = Instant::now();
        let version = replay_once(&mut engine);
        println!(
            "{version} events: {:.0} events/s",
            version as f64 / t.elapsed().as_secs_f64()
        );
    }
}
