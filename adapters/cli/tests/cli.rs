//! End-to-end tests of the `grantflow` binary against real SQLite files and
//! a real PostgreSQL server (`GRANTFLOW_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`).

mod common;

use std::path::{Path, PathBuf};

use common::{Out, SMALL_SIMULATION, gf, write};
use serde_json::{Value, json};

/// For the verbs that open no database (`schema`, `simulate`, `init
/// --print`), which refuse `--db`.
const NO_DB: &str = "";

/// `--db db` before `args` (none for [`NO_DB`]).
fn with_db<'a>(db: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = if db == NO_DB {
        vec![]
    } else {
        vec!["--db", db]
    };
    all.extend_from_slice(args);
    all
}

/// Runs with `--db` and expects success.
fn ok(dir: &Path, db: &str, args: &[&str]) -> Out {
    let all = with_db(db, args);
    let out = gf(dir, &all);
    assert_eq!(
        out.code, 0,
        "grantflow {all:?} failed:\nstdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    out
}

/// Runs with `--db` and expects failure with `code` and a one-line error containing `needle`.
fn fails(dir: &Path, db: &str, args: &[&str], code: i32, needle: &str) -> Out {
    let all = with_db(db, args);
    let out = gf(dir, &all);
    assert_eq!(
        out.code, code,
        "grantflow {all:?}: expected exit {code}:\nstdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "expected a one-line error, got: {}",
        out.stderr
    );
    assert!(lines[0].starts_with("error: "), "{}", lines[0]);
    assert!(
        out.stderr.to_lowercase().contains(&needle.to_lowercase()),
        "expected `{needle}` in: {}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    out
}

fn application(reference: &str, company: &str, sector: &str, employees: u32) -> Value {
    json!({
        "reference": reference,
        "applicant": {
            "organisation": {"name": format!("{reference} Medical Ltd"), "company_number": company, "region": "North West"},
            "contact": {"name": "Ann Smith", "email": "ann@example.org"},
            "sector": sector, "employees": employees, "uk_based": true, "already_certified": false, "vat_registered": true
        },
        "request": {"level": "basic", "consultancy_days": "2", "day_rate": "500"}
    })
}

fn pg_url() -> Option<String> {
    let url = std::env::var("GRANTFLOW_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let reachable = url
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|hostport| std::net::ToSocketAddrs::to_socket_addrs(hostport).ok())
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|addr| {
            std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2)).is_ok()
        });
    if reachable {
        return Some(url);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "PostgreSQL at {url} is unreachable and CI is set: start PostgreSQL or set GRANTFLOW_PG_URL"
        );
    }
    // Written to the process's stderr directly, so the test harness does not hide it.
    let _ = std::io::Write::write_fmt(
        &mut std::io::stderr(),
        format_args!(
            "SKIPPED: PostgreSQL at {url} is unreachable; set GRANTFLOW_PG_URL to run the PostgreSQL tests (under CI this fails)\n"
        ),
    );
    None
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Checks a 360Giving 1.4 grants package against the standard's rules.
fn nonempty(v: Option<&Value>) -> bool {
    v.and_then(Value::as_str).is_some_and(|s| !s.is_empty())
}

fn validate_360giving(v: &Value) -> Result<usize, String> {
    let date_ok = |s: &str| {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
            || chrono::DateTime::parse_from_rfc3339(s).is_ok()
    };
    let grants = v
        .get("grants")
        .and_then(Value::as_array)
        .ok_or("package has no `grants` array")?;
    if grants.is_empty() {
        return Err("`grants` must hold at least one grant".into());
    }
    if let Some(version) = v.get("version") {
        let s = version.as_str().ok_or("version must be a string")?;
        let (a, b) = s.split_once('.').ok_or("version must be major.minor")?;
        if a.parse::<u32>().is_err() || b.parse::<u32>().is_err() {
            return Err(format!("version `{s}` is not major.minor"));
        }
    }
    for key in ["issued", "modified"] {
        if let Some(d) = v.get(key) {
            if !d.as_str().is_some_and(date_ok) {
                return Err(format!("package `{key}` is not an ISO date"));
            }
        }
    }
    if let Some(p) = v.get("publisher") {
        if !p.get("name").is_some_and(Value::is_string) {
            return Err("publisher needs a name".into());
        }
    }
    let mut ids = std::collections::HashSet::new();
    for (i, g) in grants.iter().enumerate() {
        let err = |m: &str| format!("grant {i}: {m}");
        for key in ["id", "title", "description", "currency", "awardDate"] {
            if !nonempty(g.get(key)) {
                return Err(err(&format!("`{key}` must be a non-empty string")));
            }
        }
        let id = g["id"].as_str().unwrap_or_default();
        if !id.starts_with("360G-") {
            return Err(err(&format!("id `{id}` does not start with 360G-")));
        }
        if !ids.insert(id.to_string()) {
            return Err(err(&format!("id `{id}` is not unique")));
        }
        if g["currency"] != "GBP" {
            return Err(err("currency must be GBP"));
        }
        if !date_ok(g["awardDate"].as_str().unwrap_or_default()) {
            return Err(err("awardDate is not an ISO date"));
        }
        let awarded = g
            .get("amountAwarded")
            .and_then(Value::as_f64)
            .filter(|_| g["amountAwarded"].is_number())
            .ok_or_else(|| err("amountAwarded must be a number"))?;
        if let Some(d) = g.get("amountDisbursed") {
            let d = d
                .as_f64()
                .filter(|_| d.is_number())
                .ok_or_else(|| err("amountDisbursed must be a number"))?;
            if d > awarded + 1e-9 || d < 0.0 {
                return Err(err(&format!(
                    "amountDisbursed {d} is not between 0 and amountAwarded {awarded}"
                )));
            }
        }
        for key in ["recipientOrganization", "fundingOrganization"] {
            let orgs = g
                .get(key)
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty())
                .ok_or_else(|| err(&format!("`{key}` must be a non-empty array")))?;
            for o in orgs {
                if !nonempty(o.get("id")) || !nonempty(o.get("name")) {
                    return Err(err(&format!("`{key}` entries need an id and a name")));
                }
            }
        }
        let rid = g["recipientOrganization"][0]["id"]
            .as_str()
            .unwrap_or_default();
        if !["GB-COH-", "GB-CHC-", "GB-NHS-", "360G-"]
            .iter()
            .any(|p| rid.starts_with(p))
        {
            return Err(err(&format!("recipient id `{rid}` has no known prefix")));
        }
        if let Some(pd) = g.get("plannedDates") {
            for e in pd
                .as_array()
                .ok_or_else(|| err("plannedDates must be an array"))?
            {
                for key in ["startDate", "endDate"] {
                    if let Some(d) = e.get(key) {
                        if !d.as_str().is_some_and(date_ok) {
                            return Err(err(&format!("plannedDates {key} is not an ISO date")));
                        }
                    }
                }
                if let Some(d) = e.get("duration") {
                    if !d.is_number() {
                        return Err(err("plannedDates duration must be a number"));
                    }
                }
            }
        }
        if let Some(gp) = g.get("grantProgramme") {
            if !gp.as_array().is_some_and(|a| {
                a.iter()
                    .all(|p| p.get("title").is_some_and(Value::is_string))
            }) {
                return Err(err("grantProgramme entries need a title"));
            }
        }
    }
    Ok(grants.len())
}

/// A whole lifecycle through the verbs.
fn lifecycle(dir: &Path, db: &str, programme: &str) {
    let p = ["--programme", programme];
    let with = |args: &[&'static str]| -> Vec<String> {
        p.iter().chain(args.iter()).map(|s| s.to_string()).collect()
    };
    let run_ok = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(dir, db, &refs)
    };
    run_ok(with(&[
        "init",
        "--preset",
        "healthcare-ce-2020",
        "--now",
        "2020-09-01",
    ]));
    let app = write(
        dir,
        "acme.json",
        &application("ACME-001", "01234567", "medical-supplier", 20).to_string(),
    );
    let gp = write(
        dir,
        "gp.json",
        &application("GP-001", "07654321", "gp-practice", 20).to_string(),
    );
    let out = run_ok(
        [
            with(&["apply"]),
            vec![app.display().to_string()],
            with(&["--now", "2020-09-02", "--json"])[2..].to_vec(),
        ]
        .concat(),
    );
    assert_eq!(out.json()[0]["stage"], "offered", "{}", out.stdout);
    let out = run_ok(
        [
            with(&["apply"]),
            vec![
                gp.display().to_string(),
                "--now".into(),
                "2020-09-02".into(),
                "--json".into(),
            ],
        ]
        .concat(),
    );
    assert_eq!(out.json()[0]["stage"], "ineligible");
    let explain = run_ok(
        [
            with(&["explain"]),
            vec![
                gp.display().to_string(),
                "--on".into(),
                "2020-09-02".into(),
                "--json".into(),
            ],
        ]
        .concat(),
    );
    assert_eq!(explain.json()["eligible"], false);
    assert!(explain.stdout.contains("GP practices are excluded"));
    for (args, now) in [
        (vec!["accept", "ACME-001"], "2020-09-03"),
        (
            vec!["milestone", "ACME-001", "consultancy_engaged"],
            "2020-09-10",
        ),
        (
            vec!["milestone", "ACME-001", "self_assessment_submitted"],
            "2020-09-20",
        ),
        (
            vec![
                "claim",
                "ACME-001",
                "--item",
                "consultancy",
                "--invoice",
                "CONS-1",
                "--amount",
                "900",
            ],
            "2020-09-21",
        ),
        (
            vec!["milestone", "ACME-001", "assessment_failed"],
            "2020-09-22",
        ),
        (
            vec!["milestone", "ACME-001", "self_assessment_submitted"],
            "2020-09-23",
        ),
        (
            vec!["milestone", "ACME-001", "assessment_passed"],
            "2020-09-24",
        ),
        (
            vec![
                "claim",
                "ACME-001",
                "--item",
                "certification_fee",
                "--invoice",
                "FEE-1",
            ],
            "2020-09-25",
        ),
        (
            vec!["top-up", "1000", "--note", "second tranche"],
            "2020-09-26",
        ),
        (vec!["tick"], "2020-09-27"),
        (vec!["complete", "ACME-001"], "2020-09-28"),
        (
            vec![
                "clawback",
                "ACME-001",
                "--amount",
                "100",
                "--reason",
                "overstated invoice",
            ],
            "2020-10-01",
        ),
    ] {
        let mut a: Vec<String> = p.iter().map(|s| s.to_string()).collect();
        a.extend(args.iter().map(|s| s.to_string()));
        a.extend(["--now".to_string(), now.to_string()]);
        run_ok(a);
    }
    // The same line again (same --now) is a no-op.
    let again = run_ok(with(&[
        "clawback",
        "ACME-001",
        "--amount",
        "100",
        "--reason",
        "overstated invoice",
        "--now",
        "2020-10-01",
    ]));
    assert!(again.stdout.contains("applied before"), "{}", again.stdout);
    let status = run_ok(with(&["status", "ACME-001", "--json"])).json();
    assert_eq!(status["stage"], "completed");
    assert_eq!(status["reference"], "ACME-001");
    assert_eq!(status["paid"], "1200.00");
    assert_eq!(status["recovered"], "100.00");
    let ledger = run_ok(with(&["ledger", "--json"])).json();
    assert_eq!(ledger["balanced"], true);
    assert_eq!(ledger["credits"], "501100.00");
    assert_eq!(ledger["paid"], "1200.00");
    assert_eq!(ledger["reserved"], "0.00");
    assert_eq!(ledger["available"], "499900.00");
    let all = run_ok(with(&["status", "--json", "--state", "ineligible"])).json();
    assert_eq!(all.as_array().map(Vec::len), Some(1));
    let history = run_ok(with(&["history", "ACME-001"]));
    for needle in [
        "submitted",
        "offered",
        "accepted",
        "assessment_failed",
        "certified",
        "claim_paid",
        "completed",
        "clawed_back",
    ] {
        assert!(
            history.stdout.contains(needle),
            "history lacks {needle}: {}",
            history.stdout
        );
    }
    let out = dir.join(format!("{programme}-360.json"));
    run_ok(
        [
            with(&["export", "--format", "360giving", "--output"]),
            vec![out.display().to_string()],
        ]
        .concat(),
    );
    let package: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("export written"))
            .expect("export is JSON");
    assert_eq!(validate_360giving(&package), Ok(1));
    let grant = &package["grants"][0];
    assert_eq!(grant["recipientOrganization"][0]["id"], "GB-COH-01234567");
    assert_eq!(grant["amountAwarded"], json!(1300.0));
    assert_eq!(grant["amountDisbursed"], json!(1100.0));
    assert_eq!(grant["awardDate"], "2020-09-03");
    let csv = run_ok(with(&["export", "--format", "csv"]));
    assert_eq!(csv.stdout.lines().count(), 2, "{}", csv.stdout);
    assert!(csv.stdout.contains("360G-grantflow-hce2020-ACME-001"));
    let outbox = run_ok(with(&["outbox", "--json"])).json();
    assert!(
        outbox["pending"].as_array().is_some_and(|a| !a.is_empty()),
        "{outbox}"
    );
    let delivered = run_ok(with(&["outbox", "--deliver", "--json"])).json();
    assert!(
        delivered["delivered"].as_u64().is_some_and(|n| n > 0),
        "{delivered}"
    );
    assert!(
        delivered["log"]
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x
                .as_str()
                .is_some_and(|t| t.contains("template=offer_made")))),
        "{delivered}"
    );
    let after = run_ok(with(&["outbox", "--json"])).json();
    assert_eq!(after["pending"].as_array().map(Vec::len), Some(0));
}

#[test]
fn whole_lifecycle_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    lifecycle(dir.path(), "lifecycle.db", "healthcare-ce-2020");
    // One programme in the file: --programme may be left out.
    let out = ok(dir.path(), "lifecycle.db", &["status"]);
    assert!(out.stdout.contains("ACME-001"));
}

#[test]
fn whole_lifecycle_on_postgres() {
    let Some(url) = pg_url() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    lifecycle(dir.path(), &url, &unique("cli-life"));
}

const JSONL: &str = r#"# a programme in commands
{"id": "open", "command": "open", "now": "2020-09-01", "programme": PROGRAMME}
{"id": "s1", "command": "submit", "now": "2020-09-02", "application": "R-1", "applicant": {"organisation": {"name": "One Ltd", "company_number": "00000001"}, "contact": {"name": "A B", "email": "a@one.example"}, "sector": "medical-supplier", "employees": 5, "uk_based": true, "already_certified": false, "vat_registered": false}, "request": {"level": "basic", "consultancy_days": 3, "day_rate": "600"}}
{"id": "s2", "command": "submit", "now": "2020-09-02", "application": "R-2", "applicant": {"organisation": {"name": "Two Ltd", "company_number": "00000002"}, "contact": {"name": "C D", "email": "c@two.example"}, "sector": "primary-care", "employees": 30, "uk_based": true, "already_certified": false, "vat_registered": true}, "request": {"level": "basic", "consultancy_days": "1.5", "day_rate": "400"}}
{"id": "a1", "command": "accept", "now": "2020-09-03", "application": "R-1"}
{"id": "d2", "command": "decline", "now": "2020-09-03", "application": "R-2"}
{"id": "bad", "command": "complete", "now": "2020-09-04", "application": "R-2"}
{"id": "m1", "command": "milestone", "now": "2020-09-05", "application": "R-1", "milestone": "consultancy_engaged"}
{"id": "m2", "command": "milestone", "now": "2020-09-06", "application": "R-1", "milestone": "self_assessment_submitted"}
{"id": "c1", "command": "claim", "now": "2020-09-07", "application": "R-1", "item": "consultancy", "invoice_ref": "I-1", "amount": "1000"}
{"id": "m3", "command": "milestone", "now": "2020-09-08", "application": "R-1", "milestone": "assessment_passed"}
{"id": "t1", "command": "tick", "now": "2020-12-01"}
"#;

fn jsonl(dir: &Path) -> PathBuf {
    let programme = serde_json::to_string(&grantflow_preset()).expect("preset JSON");
    write(
        dir,
        "commands.jsonl",
        &JSONL.replace("PROGRAMME", &programme),
    )
}

fn grantflow_preset() -> Value {
    let dir = tempfile::tempdir().expect("temp dir");
    serde_json::from_str(&ok(dir.path(), NO_DB, &["init", "--print", "--json"]).stdout)
        .expect("preset")
}

fn run_jsonl(dir: &Path, db: &str, programme: &str) -> (Value, Value) {
    let file = jsonl(dir);
    let file = file.display().to_string();
    let out = gf(
        dir,
        &["--db", db, "--programme", programme, "run", &file, "--json"],
    );
    assert_eq!(
        out.code, 1,
        "one line is rejected: {}\n{}",
        out.stdout, out.stderr
    );
    let lines = out.json();
    assert_eq!(lines.as_array().map(Vec::len), Some(11));
    assert_eq!(lines[5]["outcome"], "rejected");
    assert_eq!(lines[5]["code"], "illegal_transition");
    assert_eq!(lines[5]["line"], 7);
    // Again: every applied line is a duplicate; nothing new is recorded.
    let again = gf(
        dir,
        &["--db", db, "--programme", programme, "run", &file, "--json"],
    )
    .json();
    let again = again.as_array().cloned().unwrap_or_default();
    assert_eq!(
        again.iter().filter(|l| l["outcome"] == "duplicate").count(),
        9,
        "{again:?}"
    );
    assert!(again.iter().all(|l| l["outcome"] != "applied" || l["events"].as_array().is_some_and(Vec::is_empty)), "{again:?}");
    let status = ok(dir, db, &["--programme", programme, "status", "--json"]).json();
    let mut ledger = ok(dir, db, &["--programme", programme, "ledger", "--json"]).json();
    ledger["programme"] = Value::Null;
    (status, ledger)
}

#[test]
fn the_same_jsonl_gives_the_same_results_on_sqlite_and_postgres() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (status, ledger) = run_jsonl(dir.path(), "run.db", "jsonl");
    assert_eq!(status[0]["reference"], "R-1");
    assert_eq!(status[0]["stage"], "certified");
    assert_eq!(status[1]["stage"], "declined");
    assert_eq!(ledger["paid"], "1000.00");
    let Some(url) = pg_url() else { return };
    let (pg_status, pg_ledger) = run_jsonl(dir.path(), &url, &unique("cli-jsonl"));
    assert_eq!(pg_status, status);
    assert_eq!(pg_ledger, ledger);
}

/// A programme with one offered application (ACME-001), for the bad-input tests.
fn seeded(dir: &Path) -> (&'static str, String) {
    let db = "bad.db";
    ok(dir, db, &["init", "--now", "2020-09-01"]);
    let app = write(
        dir,
        "acme.json",
        &application("ACME-001", "01234567", "medical-supplier", 20).to_string(),
    );
    ok(
        dir,
        db,
        &["apply", &app.display().to_string(), "--now", "2020-09-02"],
    );
    let ledger = ok(dir, db, &["ledger", "--json"]).stdout;
    (db, ledger)
}

#[test]
fn bad_input_is_refused_with_one_line_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let (db, before) = seeded(d);
    let status_before = ok(d, db, &["status", "--json"]).stdout;
    fails(d, NO_DB, &["schema", "widgets"], 2, "no schema");
    let cases: Vec<(Vec<String>, i32, &str)> = {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let missing = d.join("missing.json").display().to_string();
        let bad_jsonl = write(
            d,
            "bad.jsonl",
            "{\"id\": \"t\", \"command\": \"tick\"}\n{\"id\": \"x\", \"command\": \n",
        )
        .display()
        .to_string();
        let header = "reference,organisation,contact_name,contact_email,sector,employees,uk_based,already_certified,vat_registered,level,consultancy_days,day_rate";
        let wrong_col = write(d, "wrong-col.csv", &format!("{header},colour\nB-1,B Ltd,A B,a@b.example,medical-supplier,5,yes,no,yes,basic,1,500,red\n")).display().to_string();
        let bad_row = write(
            d,
            "bad-row.csv",
            &format!("{header}\nB-1,B Ltd,A B,a@b.example,medical-supplier,5,yes,no,yes,basic,1,500\nB-2,C Ltd,C D,c@d.example,primary-care,ten,yes,no,yes,basic,1,500\n"),
        )
        .display()
        .to_string();
        let bad_amount_row = write(
            d,
            "bad-amount.csv",
            &format!(
                "{header}\nB-3,B Ltd,A B,a@b.example,medical-supplier,5,yes,no,yes,basic,1,£500\n"
            ),
        )
        .display()
        .to_string();
        vec![
            (s(&["apply", &missing]), 2, "no such file"),
            (s(&["run", &bad_jsonl]), 2, "line 2"),
            (s(&["apply", &wrong_col]), 2, "column 13"),
            (s(&["apply", &bad_row]), 2, "line 3, column 6"),
            (s(&["apply", &bad_amount_row]), 2, "currency"),
            (
                s(&["accept", "NO-SUCH-APP", "--now", "2020-09-03"]),
                1,
                "unknown_application",
            ),
            (
                s(&["complete", "ACME-001", "--now", "2020-09-03"]),
                1,
                "illegal_transition",
            ),
            (s(&["top-up", "-5", "--now", "2020-09-03"]), 2, "negative"),
            (
                s(&["top-up", "0.001", "--now", "2020-09-03"]),
                2,
                "fractions of a penny",
            ),
            (
                s(&["top-up", "1e30", "--now", "2020-09-03"]),
                2,
                "without an exponent",
            ),
            (s(&["top-up", "£12", "--now", "2020-09-03"]), 2, "£12"),
            (
                s(&[
                    "claim",
                    "ACME-001",
                    "--item",
                    "consultancy",
                    "--invoice",
                    "I",
                    "--amount",
                    "-5",
                ]),
                2,
                "negative",
            ),
            (s(&["tick", "--now", "2020-02-30"]), 2, "not a real date"),
            (s(&["tick", "--now", "yesterday"]), 2, "not a time"),
            (
                s(&["tick", "--now", "2020-08-01"]),
                1,
                "clock_went_backwards",
            ),
            (
                s(&["milestone", "ACME-001", "teleported"]),
                2,
                "not a milestone",
            ),
            (s(&["status", "--state", "sleeping"]), 2, "not a stage"),
            (s(&["history", "NOPE"]), 1, "no application"),
            (s(&["export", "--format", "xml"]), 2, "not an export format"),
            (s(&["tick", "--bogus-flag"]), 2, "unexpected argument"),
        ]
    };
    for (args, code, needle) in &cases {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        fails(d, db, &refs, *code, needle);
        assert_eq!(
            ok(d, db, &["ledger", "--json"]).stdout,
            before,
            "ledger changed after {args:?}"
        );
    }
    assert_eq!(
        ok(d, db, &["status", "--json"]).stdout,
        status_before,
        "applications changed"
    );
}

/// Given a seeded database, when each of `cases` is run, then it fails with
/// `code` and a one-line error holding every needle, and changes nothing.
fn refused_and_unchanged(d: &Path, db: &str, cases: &[(Vec<String>, i32, Vec<&str>)]) {
    let ledger = ok(d, db, &["ledger", "--json"]).stdout;
    let status = ok(d, db, &["status", "--json"]).stdout;
    for (args, code, needles) in cases {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = fails(d, db, &refs, *code, needles[0]);
        for needle in needles {
            assert!(out.stderr.contains(needle), "`{needle}` in {}", out.stderr);
        }
        assert!(
            !out.stderr.contains(['\u{1b}', '\u{7}', '\u{7f}']),
            "the error repeats a control character: {:?}",
            out.stderr
        );
        assert_eq!(ok(d, db, &["ledger", "--json"]).stdout, ledger, "{args:?}");
        assert_eq!(ok(d, db, &["status", "--json"]).stdout, status, "{args:?}");
    }
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

const CSV_HEADER: &str = "reference,organisation,region,contact_name,contact_email,sector,employees,uk_based,already_certified,vat_registered,level,consultancy_days,day_rate";

/// A CSV of one row: `B-1` with `cell` for `column` (the other cells plain).
fn csv_with(d: &Path, name: &str, column: &str, cell: &str) -> String {
    let plain = [
        ("reference", "B-1"),
        ("organisation", "B Ltd"),
        ("region", "North West"),
        ("contact_name", "A B"),
        ("contact_email", "a@b.example"),
        ("sector", "medical-supplier"),
        ("employees", "5"),
        ("uk_based", "yes"),
        ("already_certified", "no"),
        ("vat_registered", "yes"),
        ("level", "basic"),
        ("consultancy_days", "1"),
        ("day_rate", "500"),
    ];
    let row: Vec<&str> = plain
        .iter()
        .map(|&(c, v)| if c == column { cell } else { v })
        .collect();
    write(d, name, &format!("{CSV_HEADER}\n{}\n", row.join(",")))
        .display()
        .to_string()
}

/// A JSON application file: `ACME-002` with `edit` applied.
fn json_with(d: &Path, name: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut app = application("ACME-002", "07654321", "medical-supplier", 20);
    edit(&mut app);
    write(d, name, &app.to_string()).display().to_string()
}

#[test]
fn control_characters_in_applications_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let (db, _) = seeded(d);
    let now = ["--now", "2020-09-03"];
    let apply = |file: String| args(&["apply", &file, now[0], now[1]]);
    let cases = vec![
        // JSON: the organisation's name, the contact's name and e-mail, the region, the reference
        (
            apply(json_with(d, "esc.json", |a| {
                a["applicant"]["organisation"]["name"] = json!("Evil\u{1b}[2J Ltd")
            })),
            2,
            vec!["organisation.name", "U+001B at character 5", "remove it"],
        ),
        (
            apply(json_with(d, "bel.json", |a| {
                a["applicant"]["contact"]["name"] = json!("Ann\u{7}")
            })),
            2,
            vec!["contact.name", "U+0007"],
        ),
        (
            apply(json_with(d, "nul.json", |a| {
                a["applicant"]["contact"]["email"] = json!("ann\u{0}@example.org")
            })),
            2,
            vec!["contact.email", "U+0000"],
        ),
        (
            apply(json_with(d, "newline.json", |a| {
                a["applicant"]["organisation"]["region"] = json!("North\nWest")
            })),
            2,
            vec!["organisation.region", "U+000A"],
        ),
        (
            apply(json_with(d, "c1.json", |a| {
                a["applicant"]["organisation"]["region"] = json!("North\u{9b}West")
            })),
            2,
            vec!["organisation.region", "U+009B"],
        ),
        (
            apply(json_with(d, "del.json", |a| {
                a["reference"] = json!("ACME\u{7f}")
            })),
            2,
            vec!["reference", "U+007F"],
        ),
        // CSV: the same fields as cells
        (
            apply(csv_with(d, "esc.csv", "organisation", "B\u{1b}[31m Ltd")),
            2,
            vec!["column 2 (`organisation`)", "U+001B"],
        ),
        (
            apply(csv_with(d, "nl.csv", "region", "\"North\nWest\"")),
            2,
            vec!["(`region`)", "U+000A"],
        ),
        (
            apply(csv_with(d, "bel.csv", "contact_name", "A\u{7}B")),
            2,
            vec!["(`contact_name`)", "U+0007"],
        ),
        // A command-line text reaches the core's check
        (
            args(&["top-up", "10", "--note", "gift\u{1b}[2J", now[0], now[1]]),
            1,
            vec!["invalid_text", "U+001B"],
        ),
    ];
    refused_and_unchanged(d, db, &cases);
}

#[test]
fn names_are_counted_in_characters() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let (db, _) = seeded(d);
    let long = |n: usize| "é".repeat(n);
    // Given names of 201 "é", when applied, then they are refused as 201 characters
    let cases = vec![
        (
            args(&[
                "apply",
                &json_with(d, "201.json", |a| {
                    a["applicant"]["organisation"]["name"] = json!(long(201))
                }),
                "--now",
                "2020-09-03",
            ]),
            2,
            vec!["organisation.name", "has 201 characters: give at most 200"],
        ),
        (
            args(&[
                "apply",
                &csv_with(d, "201.csv", "contact_name", &long(201)),
                "--now",
                "2020-09-03",
            ]),
            2,
            vec!["(`contact_name`)", "has 201 characters"],
        ),
    ];
    refused_and_unchanged(d, db, &cases);
    // Given a name of 101 "é" (202 bytes), when applied, then it is accepted
    let json = json_with(d, "101.json", |a| {
        a["applicant"]["organisation"]["name"] = json!(long(101))
    });
    ok(d, db, &["apply", &json, "--now", "2020-09-03"]);
    let csv = csv_with(d, "101.csv", "organisation", &long(101));
    ok(d, db, &["apply", &csv, "--now", "2020-09-03"]);
    let status = ok(d, db, &["status", "--json"]).stdout;
    assert_eq!(status.matches(&long(101)).count(), 2, "{status}");
}

#[test]
fn amounts_with_an_exponent_are_refused_everywhere() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let (db, _) = seeded(d);
    let advice = "write amounts as pounds and pence, like 100 or 100.00, without an exponent";
    let now = ["--now", "2020-09-03"];
    let cases = vec![
        // a command-line flag
        (args(&["top-up", "1e2", now[0], now[1]]), 2, vec![advice, "1e2"]),
        (
            args(&[
                "claim", "ACME-001", "--item", "consultancy", "--invoice", "I-1", "--amount",
                "1E2", now[0], now[1],
            ]),
            2,
            vec![advice],
        ),
        // a CSV cell
        (
            args(&["apply", &csv_with(d, "e.csv", "day_rate", "5e2"), now[0], now[1]]),
            2,
            vec![advice, "(`day_rate`)"],
        ),
        // a JSON string and a JSON number
        (
            args(&[
                "apply",
                &json_with(d, "e-string.json", |a| a["request"]["day_rate"] = json!("5e2")),
                now[0],
                now[1],
            ]),
            2,
            vec![advice],
        ),
        (
            args(&[
                "apply",
                &write(
                    d,
                    "e-number.json",
                    &application("ACME-003", "07654322", "medical-supplier", 20)
                        .to_string()
                        .replace("\"day_rate\":\"500\"", "\"day_rate\":5e2"),
                )
                .display()
                .to_string(),
                now[0],
                now[1],
            ]),
            2,
            vec!["without an exponent"],
        ),
        // a JSONL command
        (
            args(&[
                "run",
                &write(
                    d,
                    "e.jsonl",
                    "{\"id\": \"t\", \"command\": \"top_up\", \"amount\": \"1e2\", \"note\": \"\"}\n",
                )
                .display()
                .to_string(),
                now[0],
                now[1],
            ]),
            2,
            vec![advice, "line 1"],
        ),
    ];
    refused_and_unchanged(d, db, &cases);
    // a rules file, as text and as a TOML number
    let preset = ok(d, NO_DB, &["init", "--print"]).stdout;
    for (name, pot) in [
        ("text.toml", "value = \"5e5\""),
        ("number.toml", "value = 5e5"),
    ] {
        let rules = write(d, name, &preset.replacen("value = \"500000.00\"", pot, 1));
        fails(
            d,
            "rules.db",
            &["init", "--rules", &rules.display().to_string()],
            2,
            "without an exponent",
        );
    }
    assert!(!d.join("rules.db").exists());
}

#[test]
fn a_leap_second_is_refused_as_now() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let (db, _) = seeded(d);
    let leap = "2020-09-30T23:59:60Z";
    let jsonl = write(
        d,
        "leap.jsonl",
        &format!("{{\"id\": \"t\", \"command\": \"tick\", \"now\": \"{leap}\"}}\n"),
    )
    .display()
    .to_string();
    let cases = vec![
        (
            args(&["tick", "--now", leap]),
            2,
            vec![
                "leap second",
                "give the next second instead: 2020-10-01T00:00:00Z",
            ],
        ),
        (
            args(&["top-up", "10", "--now", "2020-09-30T23:59:60.5+00:00"]),
            2,
            vec!["leap second", "2020-10-01T00:00:00Z"],
        ),
        (args(&["run", &jsonl]), 2, vec!["line 1", "leap second"]),
    ];
    refused_and_unchanged(d, db, &cases);
}

#[test]
fn bad_rules_files_are_refused_and_nothing_is_created() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let preset = ok(d, NO_DB, &["init", "--print"]).stdout;
    let negative = write(
        d,
        "negative.toml",
        &preset.replacen("value = \"500000.00\"", "value = \"-500000\"", 1),
    );
    assert_ne!(
        std::fs::read_to_string(&negative).ok(),
        Some(preset.clone()),
        "fixture must change the pot"
    );
    fails(
        d,
        "rules.db",
        &["init", "--rules", &negative.display().to_string()],
        2,
        "negative",
    );
    let mut json: Value =
        serde_json::from_str(&ok(d, NO_DB, &["init", "--print", "--json"]).stdout)
            .expect("preset JSON");
    json["coverage"]["certification_fee"][1]["from"] = json!("2021-06-01");
    let overlap = write(d, "overlap.json", &json.to_string());
    fails(
        d,
        "rules.db",
        &["init", "--rules", &overlap.display().to_string()],
        2,
        "overlap",
    );
    fails(
        d,
        "rules.db",
        &["init", "--rules", "nope.toml"],
        2,
        "no such file",
    );
    fails(d, "rules.db", &["status"], 2, "does not exist");
    assert!(
        !d.join("rules.db").exists(),
        "a refused init or a query must not create the database"
    );
}

#[test]
fn a_locked_database_is_reported_and_left_unchanged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let (db, before) = seeded(d);
    {
        let conn = rusqlite::Connection::open(d.join(db)).expect("open db");
        conn.execute_batch("BEGIN EXCLUSIVE").expect("lock");
        fails(
            d,
            db,
            &["accept", "ACME-001", "--now", "2020-09-03"],
            2,
            "lock",
        );
        conn.execute_batch("ROLLBACK").expect("unlock");
    }
    assert_eq!(ok(d, db, &["ledger", "--json"]).stdout, before);
    let status = ok(d, db, &["status", "ACME-001", "--json"]).json();
    assert_eq!(status["stage"], "offered");
}

#[test]
fn a_postgres_url_that_refuses_is_reported() {
    let dir = tempfile::tempdir().expect("temp dir");
    fails(
        dir.path(),
        "postgres://postgres@127.0.0.1:1/none",
        &["ledger"],
        2,
        "postgres",
    );
}

#[test]
fn csv_applies_all_rows_or_none_and_is_idempotent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let (db, _) = seeded(d);
    let header = "reference,organisation,company_number,contact_name,contact_email,sector,employees,uk_based,already_certified,vat_registered,level,consultancy_days,day_rate";
    let dup = write(
        d,
        "dup.csv",
        &format!(
            "{header}\nC-1,C Ltd,11111111,A B,a@c.example,primary-care,5,yes,no,yes,basic,1,500\nACME-001,Again Ltd,22222222,A B,a@d.example,primary-care,5,yes,no,yes,basic,1,500\n"
        ),
    );
    fails(
        d,
        db,
        &["apply", &dup.display().to_string(), "--now", "2020-09-03"],
        1,
        "line 3",
    );
    assert_eq!(
        ok(d, db, &["status", "--json"])
            .json()
            .as_array()
            .map(Vec::len),
        Some(1),
        "no row of a refused file is applied"
    );
    let good = write(
        d,
        "good.csv",
        &format!(
            "{header}\nC-1,C Ltd,11111111,A B,a@c.example,primary-care,5,yes,no,yes,basic,1,500\nC-2,D Ltd,22222222,A B,a@d.example,other,5,yes,no,yes,basic,1,500\n"
        ),
    );
    let first = ok(
        d,
        db,
        &[
            "apply",
            &good.display().to_string(),
            "--now",
            "2020-09-03",
            "--json",
        ],
    )
    .json();
    assert_eq!(first[0]["stage"], "offered");
    assert_eq!(first[1]["stage"], "ineligible");
    let ledger = ok(d, db, &["ledger", "--json"]).stdout;
    let again = ok(
        d,
        db,
        &[
            "apply",
            &good.display().to_string(),
            "--now",
            "2020-09-04",
            "--json",
        ],
    )
    .json();
    assert_eq!(again[0]["outcome"], "duplicate");
    assert_eq!(ok(d, db, &["ledger", "--json"]).stdout, ledger);
}

#[test]
fn demo_runs_and_exports_valid_360giving() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    std::fs::write(d.join("grantflow-demo.db"), b"old file to be replaced").expect("stale file");
    let started = std::time::Instant::now();
    let out = gf(d, &["demo"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        started.elapsed().as_secs() < 30,
        "demo took {:?}",
        started.elapsed()
    );
    for needle in [
        "600 seeded applicants",
        "funded",
        "certified",
        "waitlist",
        "released",
        "medical-supplier",
        "grantflow-demo.db",
        "grantflow-demo-360giving.json",
        "notices delivered",
    ] {
        assert!(
            out.stdout.contains(needle),
            "summary lacks `{needle}`:\n{}",
            out.stdout
        );
    }
    assert!(
        out.stdout.lines().count() < 80,
        "the summary should fit a screen:\n{}",
        out.stdout
    );
    let package: Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("grantflow-demo-360giving.json")).expect("360 file"),
    )
    .expect("JSON");
    let n = validate_360giving(&package).expect("valid 360Giving");
    assert!(n > 100, "only {n} grants");
    let ledger = ok(d, "grantflow-demo.db", &["ledger", "--json"]).json();
    assert_eq!(ledger["balanced"], true);
    assert_eq!(ledger["applications"], 600);
    // Same seed, same run.
    let json1 = gf(d, &["demo", "--applicants", "80", "--json", "--db", "a.db"]).json();
    let json2 = gf(d, &["demo", "--applicants", "80", "--json", "--db", "b.db"]).json();
    assert_eq!(json1["ledger"], json2["ledger"]);
}

#[test]
fn help_shows_examples_for_every_verb() {
    let dir = tempfile::tempdir().expect("temp dir");
    let top = gf(dir.path(), &["--help"]);
    assert_eq!(top.code, 0);
    assert!(top.stdout.contains("Examples:") && top.stdout.contains("grantflow demo"));
    for verb in [
        "init",
        "explain",
        "apply",
        "accept",
        "decline",
        "withdraw",
        "milestone",
        "claim",
        "tick",
        "top-up",
        "clawback",
        "complete",
        "status",
        "ledger",
        "history",
        "run",
        "export",
        "schema",
        "outbox",
        "demo",
    ] {
        let h = gf(dir.path(), &[verb, "--help"]);
        assert_eq!(h.code, 0, "{verb}");
        assert!(
            h.stdout.contains("Example"),
            "`{verb} --help` has no example:\n{}",
            h.stdout
        );
    }
}

#[test]
fn simulate_runs_the_scenario_engine() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = ok(dir.path(), NO_DB, &SMALL_SIMULATION);
    assert!(out.stdout.contains("paid (gross)"), "{}", out.stdout);
    fails(
        dir.path(),
        NO_DB,
        &["simulate", "--trials", "lots"],
        2,
        "simulate",
    );
}

#[test]
fn schemas_describe_every_command_event_and_the_rules() {
    let dir = tempfile::tempdir().expect("temp dir");
    let c = ok(dir.path(), NO_DB, &["schema", "commands"]).json();
    let names: Vec<&str> = c["oneOf"]
        .as_array()
        .expect("oneOf")
        .iter()
        .filter_map(|b| b["properties"]["command"]["const"].as_str())
        .collect();
    for n in [
        "open",
        "submit",
        "accept",
        "decline",
        "withdraw",
        "milestone",
        "claim",
        "complete",
        "clawback",
        "tick",
        "top_up",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    let e = ok(dir.path(), NO_DB, &["schema", "events"]).json();
    assert_eq!(
        e["properties"]["event"]["oneOf"].as_array().map(Vec::len),
        Some(23)
    );
    let r = ok(dir.path(), NO_DB, &["schema", "rules"]).json();
    assert_eq!(r["properties"]["pot"]["type"], "object");
}

#[test]
fn a_command_id_is_never_silently_reused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let (db, _) = seeded(d);
    let top_up = [
        "top-up",
        "100",
        "--now",
        "2020-09-03",
        "--command-id",
        "X-1",
    ];
    ok(d, db, &top_up);
    let ledger = ok(d, db, &["ledger", "--json"]).stdout;
    // Another command under X-1 is refused, naming the first, and changes nothing.
    let out = fails(
        d,
        db,
        &[
            "accept",
            "ACME-001",
            "--now",
            "2020-09-03",
            "--command-id",
            "X-1",
        ],
        1,
        "command_id_reused",
    );
    assert!(out.stderr.contains("`top_up`"), "{}", out.stderr);
    assert_eq!(ok(d, db, &["ledger", "--json"]).stdout, ledger);
    // The identical command is answered as applied before.
    ok(d, db, &top_up);
    assert_eq!(ok(d, db, &["ledger", "--json"]).stdout, ledger);
    // Blank ids are bad usage.
    for blank in ["", "  "] {
        fails(
            d,
            db,
            &["tick", "--now", "2020-09-03", "--command-id", blank],
            2,
            "empty",
        );
    }
    // The offer is still open: the accept goes through under its own id.
    ok(d, db, &["accept", "ACME-001", "--now", "2020-09-03"]);
}
