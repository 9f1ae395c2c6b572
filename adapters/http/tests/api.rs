//! The JSON API against a real server on a loopback port, over a real
//! SQLite file and a real PostgreSQL schema.

mod common;

use std::path::Path;

use grantflow_core::{EventStore, ProgrammeId};
use grantflow_http::Engines;
use grantflow_postgres::PostgresStore;
use grantflow_sqlite::SqliteStore;
use grantflow_testkit::fixtures;
use serde_json::json;

use common::{Running, start, submission};

fn sqlite_server(dir: &Path) -> Running {
    let path = dir.join("grantflow.db");
    start(Box::new(Engines::new(move || SqliteStore::open(&path))))
}

fn version(dir: &Path, programme: &str) -> u64 {
    SqliteStore::open(dir.join("grantflow.db"))
        .expect("a second handle on the file")
        .version(&ProgrammeId::new(programme))
        .expect("the version")
}

fn kinds(reply: &common::Reply) -> Vec<String> {
    reply.body["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .map(|e| e["event"]["type"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The journey every backend must carry: open, check eligibility, submit,
/// read the offer, accept it, record a milestone, pay a claim, read the ledger.
fn journey(s: &Running) {
    s.open("p", fixtures::programme(5_000));
    let check = s.send(
        "POST",
        "/programmes/p/eligibility",
        "anonymous",
        None,
        Some(&serde_json::to_value(fixtures::applicant(1)).expect("JSON")),
    );
    assert_eq!(check.status, 200, "{}", check.text);
    assert_eq!(check.body["eligible"], true);
    assert!(
        check.body["criteria"]
            .as_array()
            .is_some_and(|c| c.len() >= 4 && c.iter().all(|c| c["sentence"].is_string())),
        "every criterion with its sentence: {}",
        check.text
    );

    let submitted = s.send(
        "POST",
        "/programmes/p/applications",
        "secret-applicant",
        Some("submit-1"),
        Some(&submission("APP-1", 1)),
    );
    assert_eq!(submitted.status, 200, "{}", submitted.text);
    assert!(
        kinds(&submitted).contains(&"offered".to_string()),
        "{}",
        submitted.text
    );

    let status = s.send(
        "GET",
        "/programmes/p/applications/APP-1",
        "secret-applicant",
        None,
        None,
    );
    assert_eq!(status.status, 200, "{}", status.text);
    assert_eq!(status.body["stage"], "offered");
    assert_eq!(status.body["award"], "1200.00");

    let accepted = s.send(
        "POST",
        "/programmes/p/applications/APP-1/accept",
        "secret-applicant",
        Some("accept-1"),
        None,
    );
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    let engaged = s.send(
        "POST",
        "/programmes/p/applications/APP-1/milestones",
        "secret-assessor",
        Some("m-1"),
        Some(&json!({ "milestone": "consultancy_engaged" })),
    );
    assert_eq!(engaged.status, 200, "{}", engaged.text);
    let questionnaire = s.send(
        "POST",
        "/programmes/p/applications/APP-1/milestones",
        "secret-assessor",
        Some("m-2"),
        Some(&json!({ "milestone": "self_assessment_submitted" })),
    );
    assert_eq!(questionnaire.status, 200, "{}", questionnaire.text);
    let paid = s.send(
        "POST",
        "/programmes/p/applications/APP-1/claims",
        "secret-finance",
        Some("claim-1"),
        Some(&json!({ "item": "consultancy", "invoice_ref": "INV-1", "amount": "900.00" })),
    );
    assert_eq!(paid.status, 200, "{}", paid.text);

    let ledger = s.send("GET", "/programmes/p/ledger", "secret-finance", None, None);
    assert_eq!(ledger.status, 200, "{}", ledger.text);
    assert_eq!(ledger.body["credits"], "5000.00");
    assert_eq!(ledger.body["paid"], "900.00");
    assert_eq!(ledger.body["reserved"], "300.00");
    assert_eq!(ledger.body["available"], "3800.00");
    let history = s.send(
        "GET",
        "/programmes/p/history?limit=2",
        "secret-auditor",
        None,
        None,
    );
    assert_eq!(history.status, 200, "{}", history.text);
    assert_eq!(history.body["events"].as_array().map(Vec::len), Some(2));
    assert_eq!(history.body["events"][0]["version"], 1);

    // The 360Giving export names the grant by the reference it was submitted under.
    let package = s.send("GET", "/programmes/p/export", "secret-auditor", None, None);
    assert_eq!(package.status, 200, "{}", package.text);
    assert_eq!(package.content_type, "application/json");
    assert_eq!(package.body["version"], "1.4");
    let grant = &package.body["grants"][0];
    assert!(
        grant["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("360G-") && id.ends_with("-APP-1")),
        "{}",
        package.text
    );
    assert_eq!(grant["amountDisbursed"], 900.0);
    let csv = s.send(
        "GET",
        "/programmes/p/export?format=csv",
        "secret-finance",
        None,
        None,
    );
    assert_eq!(csv.status, 200, "{}", csv.text);
    assert!(
        csv.content_type.starts_with("text/csv"),
        "{}",
        csv.content_type
    );
    assert!(
        csv.text
            .lines()
            .nth(1)
            .is_some_and(|row| row.contains(",APP-1,")),
        "{}",
        csv.text
    );
    let unknown = s.send(
        "GET",
        "/programmes/p/export?format=xml",
        "secret-finance",
        None,
        None,
    );
    assert_eq!(unknown.status, 400, "{}", unknown.text);
    let assessor = s.send("GET", "/programmes/p/export", "secret-assessor", None, None);
    assert_eq!(assessor.status, 403, "{}", assessor.text);
}

/// Given a programme where no award has been accepted, when its export is
/// asked for, then it is 409 with what to wait for; a programme that does
/// not exist is 404.
#[test]
fn an_export_with_nothing_to_publish_says_so() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let s = sqlite_server(dir.path());
    s.open("e", fixtures::programme(5_000));
    let empty = s.send("GET", "/programmes/e/export", "secret-finance", None, None);
    assert_eq!(empty.status, 409, "{}", empty.text);
    assert_eq!(empty.body["code"], "nothing_to_publish");
    let missing = s.send(
        "GET",
        "/programmes/none/export",
        "secret-finance",
        None,
        None,
    );
    assert_eq!(missing.status, 404, "{}", missing.text);
}

/// Given a server over a SQLite file, when an applicant checks
/// eligibility, applies, accepts, and staff record a milestone and pay a
/// claim, then each step answers 200 and the ledger shows the money moved.
#[test]
fn the_journey_runs_over_sqlite() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let s = sqlite_server(dir.path());
    journey(&s);
    assert!(version(dir.path(), "p") >= 5, "the events are in the file");
}

/// The same journey over a PostgreSQL schema.
#[test]
fn the_journey_runs_over_postgres() {
    let Some((url, options)) = common::postgres("the_journey_runs_over_postgres") else {
        return;
    };
    {
        let (url, options) = (url.clone(), options.clone());
        let s = start(Box::new(Engines::new(move || {
            PostgresStore::connect_with(&url, options.clone())
        })));
        journey(&s);
    }
    let mut store = PostgresStore::connect_with(&url, options.clone()).expect("connect");
    assert!(store.version(&ProgrammeId::new("p")).expect("version") >= 5);
    common::drop_schema(&mut store, &options);
}

/// Given a recorded submission, when the same key and body are sent again
/// the first response comes back (marked replayed) and nothing is
/// recorded; when the same key comes with another body it is refused 422
/// `command_id_reused` as a problem document, and nothing is recorded.
#[test]
fn an_idempotency_key_returns_the_first_response_and_refuses_another_body() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let s = sqlite_server(dir.path());
    s.open("p", fixtures::programme(5_000));
    let body = submission("APP-1", 1);
    let first = s.send(
        "POST",
        "/programmes/p/applications",
        "secret-admin",
        Some("k-1"),
        Some(&body),
    );
    assert_eq!(first.status, 200, "{}", first.text);
    assert!(!first.replayed);
    let before = version(dir.path(), "p");
    let again = s.send(
        "POST",
        "/programmes/p/applications",
        "secret-admin",
        Some("k-1"),
        Some(&body),
    );
    assert_eq!(again.status, 200);
    assert!(again.replayed, "a repeat says it is one");
    assert_eq!(again.text, first.text, "the first response, byte for byte");
    assert_eq!(version(dir.path(), "p"), before);

    let other = s.send(
        "POST",
        "/programmes/p/applications",
        "secret-admin",
        Some("k-1"),
        Some(&submission("APP-2", 2)),
    );
    assert_eq!(other.status, 422, "{}", other.text);
    assert_eq!(other.content_type, "application/problem+json");
    assert_eq!(other.body["code"], "command_id_reused");
    assert_eq!(other.body["status"], 422);
    assert!(
        other.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("nothing was recorded"))
    );
    assert_eq!(version(dir.path(), "p"), before);

    let keyless = s.send(
        "POST",
        "/programmes/p/applications",
        "secret-admin",
        None,
        Some(&body),
    );
    assert_eq!(keyless.status, 400);
    assert_eq!(keyless.body["code"], "bad_request");
    assert!(keyless.text.contains("Idempotency-Key"));
}

/// Given an application of one applicant, when another applicant reads,
/// accepts or withdraws it, then each is refused 403 and nothing changed;
/// and an applicant may not apply with someone else's e-mail address.
#[test]
fn an_applicant_cannot_read_or_change_another_applicants_application() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let s = sqlite_server(dir.path());
    s.open("p", fixtures::programme(5_000));
    let mine = s.send(
        "POST",
        "/programmes/p/applications",
        "secret-applicant",
        Some("a"),
        Some(&submission("APP-1", 1)),
    );
    assert_eq!(mine.status, 200, "{}", mine.text);
    let before = version(dir.path(), "p");
    for (method, path, body) in [
        ("GET", "/programmes/p/applications/APP-1", None),
        ("POST", "/programmes/p/applications/APP-1/accept", None),
        (
            "POST",
            "/programmes/p/applications/APP-1/withdraw",
            Some(json!({ "reason": "not mine" })),
        ),
    ] {
        let r = s.send(
            method,
            path,
            "secret-other",
            Some("other-key"),
            body.as_ref(),
        );
        assert_eq!(r.status, 403, "{method} {path}: {}", r.text);
        assert_eq!(r.body["code"], "forbidden");
    }
    let posing = s.send(
        "POST",
        "/programmes/p/applications",
        "secret-other",
        Some("b"),
        Some(&submission("APP-9", 1)),
    );
    assert_eq!(posing.status, 403, "{}", posing.text);
    assert_eq!(version(dir.path(), "p"), before, "nothing was recorded");
    let unknown = s.send(
        "GET",
        "/programmes/p/applications/NOPE",
        "secret-other",
        None,
        None,
    );
    assert_eq!(
        unknown.status, 403,
        "another's or nobody's look the same to an applicant"
    );
}

/// Given any route, when its body is 1 MiB and one byte, then it is refused 413.
#[test]
fn a_body_over_one_mebibyte_is_refused_413() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let s = sqlite_server(dir.path());
    s.open("p", fixtures::programme(5_000));
    let big = vec![b' '; 1024 * 1024 + 1];
    let r = s.send_raw(
        "POST",
        "/programmes/p/applications",
        "secret-admin",
        Some("big"),
        Some(&big),
    );
    assert_eq!(r.status, 413, "{}", r.text);
    let fits = vec![b' '; 1024 * 1024];
    let r = s.send_raw(
        "POST",
        "/programmes/p/applications",
        "secret-admin",
        Some("fits"),
        Some(&fits),
    );
    assert_eq!(
        r.status, 400,
        "a body within the limit is read (and is not JSON): {}",
        r.text
    );
}

/// Given any response, then it carries the security headers.
#[test]
fn responses_carry_the_security_headers() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let s = sqlite_server(dir.path());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    for path in ["/health", "/openapi.json", "/no/such/route"] {
        let r = agent
            .get(format!("{}{path}", s.base))
            .call()
            .expect("an answer");
        let h = r.headers();
        assert_eq!(
            h.get("x-content-type-options").map(|v| v.as_bytes()),
            Some(&b"nosniff"[..]),
            "{path}"
        );
        assert_eq!(
            h.get("x-frame-options").map(|v| v.as_bytes()),
            Some(&b"DENY"[..]),
            "{path}"
        );
        assert!(h.get("content-security-policy").is_some(), "{path}");
    }
}

/// Given a command, when it is applied, repeated or refused, then the
/// audit log has one line for it naming the token, its role and the outcome.
#[test]
fn every_command_is_audited_with_who_sent_it() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let s = sqlite_server(dir.path());
    s.open("p", fixtures::programme(5_000));
    let body = json!({ "amount": "10.00", "note": "a gift" });
    s.send(
        "POST",
        "/programmes/p/top-ups",
        "secret-finance",
        Some("t"),
        Some(&body),
    );
    s.send(
        "POST",
        "/programmes/p/top-ups",
        "secret-finance",
        Some("t"),
        Some(&body),
    );
    s.send(
        "POST",
        "/programmes/p/applications/NOPE/accept",
        "secret-admin",
        Some("x"),
        None,
    );
    let records = s.audit.records();
    let outcomes: Vec<(&str, &str, &str)> = records
        .iter()
        .map(|r| {
            (
                r["who"].as_str().unwrap_or(""),
                r["route"].as_str().unwrap_or(""),
                r["outcome"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("admin-1", "open", "applied"),
            ("finance-1", "top_up", "applied"),
            ("finance-1", "top_up", "duplicate"),
            ("admin-1", "accept", "refused"),
        ]
    );
    assert!(
        records
            .iter()
            .all(|r| r["command_id"].is_string() && r["at"].is_string())
    );
}

/// Given a token, when it is sent with the scheme in another case, then
/// it is accepted; a wrong secret or another scheme is refused 401 with
/// `WWW-Authenticate: Bearer`.
#[test]
fn the_bearer_scheme_is_read_in_any_case_and_anything_else_is_401() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let s = sqlite_server(dir.path());
    s.open("p", fixtures::programme(5_000));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{}/programmes/p/ledger", s.base);
    for (header, status) in [
        ("bearer secret-finance", 200),
        ("BEARER secret-finance", 200),
        ("Bearer wrong", 401),
        ("Basic secret-finance", 401),
        ("secret-finance", 401),
    ] {
        let r = agent
            .get(&url)
            .header("authorization", header)
            .call()
            .expect("an answer");
        assert_eq!(r.status().as_u16(), status, "{header}");
        if status == 401 {
            assert_eq!(
                r.headers().get("www-authenticate").map(|v| v.as_bytes()),
                Some(&b"Bearer"[..]),
                "{header}"
            );
        }
    }
}

/// Given 32 submissions sent at once (one of them twice under one key, and
/// two under one reference), when the server commits them in groups, then
/// each is decided in order exactly once: the repeat is replayed, the
/// second of the two under one reference alone is refused, the pot offers what it holds and waitlists
/// the rest, and its figures add up.
#[test]
fn commands_sent_at_once_are_committed_together_and_each_decided_once() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let s = sqlite_server(dir.path());
    s.open("g", fixtures::programme(5_000));
    let before = version(dir.path(), "g");
    let replies: Vec<(String, common::Reply)> = std::thread::scope(|scope| {
        let mut sent = Vec::new();
        for n in 0..32u64 {
            let s = &s;
            sent.push(scope.spawn(move || {
                let (key, reference) = match n {
                    31 => ("g-0".to_string(), "G-0".to_string()),
                    30 => ("g-reused".to_string(), "G-1".to_string()),
                    n => (format!("g-{n}"), format!("G-{n}")),
                };
                // The repeat sends the first one's body again.
                let body = submission(&reference, if n == 31 { 1 } else { n % 29 + 1 });
                let r = s.send(
                    "POST",
                    "/programmes/g/applications",
                    "secret-admin",
                    Some(&key),
                    Some(&body),
                );
                (key, r)
            }));
        }
        sent.into_iter()
            .map(|h| h.join().expect("a sender"))
            .collect()
    });
    let ok = replies.iter().filter(|(_, r)| r.status == 200).count();
    let refused: Vec<_> = replies.iter().filter(|(_, r)| r.status == 422).collect();
    assert_eq!(
        ok,
        31,
        "{:?}",
        replies
            .iter()
            .map(|(k, r)| (k, r.status))
            .collect::<Vec<_>>()
    );
    assert_eq!(refused.len(), 1);
    // Whichever of the two sent under reference G-1 came second is refused.
    assert!(
        ["g-1", "g-reused"].contains(&refused[0].0.as_str()),
        "{}",
        refused[0].1.text
    );
    assert_eq!(refused[0].1.body["code"], "duplicate_application");
    let zero: Vec<_> = replies.iter().filter(|(k, _)| k == "g-0").collect();
    assert_eq!(zero.len(), 2);
    assert_eq!(
        zero.iter().filter(|(_, r)| r.replayed).count(),
        1,
        "one of the two is the replay"
    );
    assert_eq!(zero[0].1.body, zero[1].1.body, "the same answer twice");

    let ledger = s.send("GET", "/programmes/g/ledger", "secret-finance", None, None);
    assert_eq!(ledger.status, 200, "{}", ledger.text);
    let money = |k: &str| {
        ledger.body[k]
            .as_str()
            .unwrap_or_else(|| panic!("{k} in {}", ledger.text))
            .parse::<rust_decimal::Decimal>()
            .expect("an amount")
    };
    assert_eq!(
        money("credits"),
        money("available") + money("reserved") + money("paid")
    );
    assert_eq!(
        money("reserved"),
        rust_decimal::Decimal::from(4 * 1200),
        "four offers of £1,200 from £5,000"
    );
    let recorded = version(dir.path(), "g") - before;
    let events: usize = replies
        .iter()
        .filter(|(_, r)| r.status == 200 && !r.replayed)
        .map(|(_, r)| r.body["events"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(
        recorded, events as u64,
        "every event answered was recorded, once"
    );
}
