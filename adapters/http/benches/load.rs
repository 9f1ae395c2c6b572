//! Load on loopback: `wrk` against a real server over a SQLite file
//! holding 2,000 applications. Reads: requests per second and p50/p99
//! latency for the ledger and one application's status. Commands:
//! durable top-ups per second over HTTP with the server's group commit,
//! against the same server committing each alone and the same top-ups
//! through an `Engine` on the same kind of file (the CLI's path), all in
//! the same run.
//!
//! `cargo bench -p grantflow-http --bench load` (needs `wrk` on the path;
//! `GRANTFLOW_BENCH_SECONDS` sets each run's length, 5 by default).

use std::net::TcpListener;
use std::process::Command as Process;
use std::sync::Arc;
use std::time::Instant;

use grantflow_core::{Action, Command, CommandId, Engine, Money, ProgrammeId};
use grantflow_http::{Audit, Engines, Role, Server, Tokens};
use grantflow_sqlite::SqliteStore;
use grantflow_testkit::fixtures;

const APPLICATIONS: u64 = 2_000;

fn seed(path: &std::path::Path) {
    let mut engine = Engine::open(
        SqliteStore::open(path).expect("open"),
        ProgrammeId::new("p"),
    )
    .expect("engine");
    let mut p = fixtures::programme(10_000_000);
    p.id = "p".into();
    let open = Command::new(
        CommandId::from_name("open"),
        Action::Open {
            programme: Box::new(p),
        },
    );
    engine.execute(&open, fixtures::day(0)).expect("open");
    let submits: Vec<(Command, chrono::DateTime<chrono::Utc>)> = (0..APPLICATIONS)
        .map(|n| {
            let c = Command::new(
                CommandId::from_name(&format!("submit-{n}")),
                Action::Submit {
                    application: grantflow_core::ApplicationId::parse_or_name(&format!("APP-{n}")),
                    applicant: Arc::new(fixtures::applicant(n)),
                    request: fixtures::request(),
                },
            );
            (c, fixtures::day(0))
        })
        .collect();
    for chunk in submits.chunks(100) {
        engine.execute_many(chunk).expect("submit");
    }
}

/// `wrk`'s requests/s and its 50% and 99% latencies, as printed.
fn wrk(args: &[&str]) -> (f64, String, String) {
    let out = Process::new("wrk")
        .args(args)
        .output()
        .expect("wrk runs (install it: apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        !text.contains("Non-2xx"),
        "every answer was a success, or the rate means nothing:\n{text}"
    );
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(|v| v.trim().to_string()))
            .unwrap_or_else(|| panic!("wrk printed no `{prefix}`:\n{text}"))
    };
    let rps = field("Requests/sec:").parse().expect("a rate");
    (rps, field("50%"), field("99%"))
}

/// Starts a server over the SQLite file at `path`, committing at most
/// `group` commands at once, and returns its base URL once it answers.
fn serve(path: &std::path::Path, group: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let mut tokens = Tokens::default();
    tokens.insert("secret", "load", Role::Admin, None);
    tokens.insert("secret-finance", "load-finance", Role::Finance, None);
    let server = {
        let path = path.to_path_buf();
        Server::with_clock(
            Box::new(Engines::new(move || SqliteStore::open(&path))),
            tokens,
            Audit::new(std::io::sink()),
            Arc::new(|| fixtures::day(1)),
        )
        .group_commit(group)
    };
    std::thread::spawn(move || {
        let _ = server.serve_blocking(listener);
    });
    let agent = ureq::agent();
    let started = Instant::now();
    while agent.get(format!("{base}/health")).call().is_err() {
        assert!(
            started.elapsed().as_secs() < 30,
            "the server did not come up"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    base
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let seconds = std::env::var("GRANTFLOW_BENCH_SECONDS").unwrap_or_else(|_| "5".into());
    let duration = format!("{seconds}s");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("load.db");
    seed(&path);

    let base = serve(&path, grantflow_http::DEFAULT_GROUP);
    let agent = ureq::agent();

    let auth = "Authorization: Bearer secret";
    let seeded = agent
        .get(format!("{base}/programmes/p/applications/APP-1"))
        .header("authorization", "Bearer secret")
        .call()
        .expect("the status route answers");
    assert_eq!(
        seeded.status().as_u16(),
        200,
        "the seeded application is there"
    );
    for (name, route) in [
        ("ledger", "/programmes/p/ledger"),
        ("status", "/programmes/p/applications/APP-1"),
    ] {
        let url = format!("{base}{route}");
        let (rps, p50, p99) = wrk(&[
            "-t2",
            "-c16",
            "-d",
            &duration,
            "--latency",
            "-H",
            auth,
            &url,
        ]);
        println!(
            "{name}: {rps:.0} requests/s, p50 {p50}, p99 {p99} (wrk, 2 threads, 16 connections, {seconds} s)"
        );
    }

    let script = dir.path().join("top_up.lua");
    std::fs::write(
        &script,
        r#"-- Each wrk thread has its own Lua state: `id` (set by setup) keeps their keys apart.
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
counter = 0
request = function()
  counter = counter + 1
  local headers = {}
  headers["Authorization"] = "Bearer secret-finance"
  headers["Content-Type"] = "application/json"
  headers["Idempotency-Key"] = "load-top-up-" .. id .. "-" .. counter
  return wrk.format("POST", "/programmes/p/top-ups", headers, '{"amount": "1.00", "note": "load"}')
end
"#,
    )
    .expect("the script");
    let script = script.display().to_string();
    let top_ups = |base: &str| {
        let url = format!("{base}/programmes/p/top-ups");
        wrk(&[
            "-t2",
            "-c16",
            "-d",
            &duration,
            "--latency",
            "-s",
            &script,
            &url,
        ])
    };
    let (http, p50, p99) = top_ups(&base);
    // The simple version in the same run: each command committed alone.
    let alone_path = dir.path().join("alone.db");
    seed(&alone_path);
    let (alone, alone_p50, alone_p99) = top_ups(&serve(&alone_path, 1));

    // The same durable top-ups through an engine, on a file of the same state.
    let engine_path = dir.path().join("engine.db");
    seed(&engine_path);
    let mut engine = Engine::open(
        SqliteStore::open(&engine_path).expect("open"),
        ProgrammeId::new("p"),
    )
    .expect("engine");
    let n = (http * seconds.parse::<f64>().unwrap_or(5.0)).max(200.0) as u64;
    let started = Instant::now();
    for i in 0..n {
        let c = Command::new(
            CommandId::from_name(&format!("engine-top-up-{i}")),
            Action::TopUp {
                amount: Money::pounds(1),
                note: "load".into(),
            },
        );
        engine.execute(&c, fixtures::day(1)).expect("top-up");
    }
    let direct = n as f64 / started.elapsed().as_secs_f64();
    println!(
        "durable top-ups over HTTP (2 threads, 16 connections): {http:.0}/s with group commit (p50 {p50}, p99 {p99}), {alone:.0}/s each committed alone (p50 {alone_p50}, p99 {alone_p99}): {:.2}x; through an engine, one commit each: {direct:.0}/s, so HTTP with group commit is {:.2} of it",
        http / alone,
        http / direct
    );
}
