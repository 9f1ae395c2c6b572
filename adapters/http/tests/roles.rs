//! Every route states its roles in the OpenAPI document; this walks every
//! route with every role and signed out, and checks that the server agrees
//! with the document: a listed role gets past the role check, any other is
//! refused (401 signed out, 403 otherwise), and a refused request changes
//! nothing.

mod common;

use std::collections::BTreeSet;

use grantflow_core::{EventStore, ProgrammeId};
use grantflow_http::Engines;
use grantflow_sqlite::SqliteStore;
use grantflow_testkit::fixtures;
use serde_json::{Value, json};

use common::{ROLES, start, submission};

/// A valid body for each operation that takes one.
fn body(operation: &str, n: usize) -> Option<Value> {
    Some(match operation {
        "open" => {
            let mut p = fixtures::programme(5_000);
            p.id = "walk".into();
            serde_json::to_value(p).expect("rules")
        }
        "eligibility" => serde_json::to_value(fixtures::applicant(1)).expect("applicant"),
        "submit" => submission(&format!("WALK-{n}"), 1),
        "withdraw" => json!({ "reason": "walking the routes" }),
        "milestone" => json!({ "milestone": "consultancy_engaged" }),
        "claim" => {
            json!({ "item": "consultancy", "invoice_ref": format!("INV-{n}"), "amount": "1.00" })
        }
        "clawback" => json!({ "amount": "1.00", "reason": "walking the routes" }),
        "top_up" => json!({ "amount": "1.00", "note": "walking the routes" }),
        "add_user" => json!({ "email": format!("walk-{n}@trust.example"), "role": "auditor" }),
        _ => return None,
    })
}

/// Given the OpenAPI document's routes and their roles, when each is
/// called by every role and signed out, then each role it lists gets past
/// the role check, each other role is refused 403, signed out is refused
/// 401, and no refused request changes the programme's stream.
#[test]
fn every_route_with_every_role_is_allowed_or_refused_as_its_operation_says() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("grantflow.db");
    let s = {
        let path = path.clone();
        start(Box::new(Engines::new(move || SqliteStore::open(&path))))
    };
    s.open("walk", fixtures::programme(5_000));
    let own = s.send(
        "POST",
        "/programmes/walk/applications",
        "secret-applicant",
        Some("walk-own"),
        Some(&submission("WALK-APP", 1)),
    );
    assert_eq!(own.status, 200, "{}", own.text);
    let version = || {
        SqliteStore::open(&path)
            .expect("a second handle")
            .version(&ProgrammeId::new("walk"))
            .expect("version")
    };

    let document = s.send("GET", "/openapi.json", "anonymous", None, None).body;
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "OpenAPI 3.1"
    );
    let paths = document["paths"].as_object().expect("paths");
    let mut walked = 0;
    let mut refusals = 0;
    let mut operations = BTreeSet::new();
    for (template, item) in paths {
        for (method, op) in item.as_object().expect("a path item") {
            let id = op["operationId"].as_str().expect("an operation id");
            operations.insert(id.to_string());
            let roles: Option<BTreeSet<&str>> = op["security"].as_array().map(|s| {
                s.iter()
                    .flat_map(|req| req["token"].as_array().into_iter().flatten())
                    .filter_map(Value::as_str)
                    .collect()
            });
            let url = template
                .replace("{programme}", "walk")
                .replace("{application}", "WALK-APP");
            for (secret, role) in ROLES {
                walked += 1;
                let before = version();
                let key = format!("walk-{walked}");
                let reply = s.send(
                    &method.to_uppercase(),
                    &url,
                    secret,
                    Some(&key),
                    body(id, walked).as_ref(),
                );
                let listed = match (&roles, role) {
                    (None, _) => true,
                    (Some(_), None) => false,
                    (Some(r), Some(role)) => r.contains(role.as_str()),
                };
                let what = format!(
                    "{} {url} as {secret}: {}",
                    method.to_uppercase(),
                    reply.text
                );
                if listed {
                    assert!(
                        reply.status != 401 && reply.status != 403 && reply.status < 500,
                        "allowed, so past the role check: {what}"
                    );
                } else {
                    refusals += 1;
                    let expected = if role.is_none() { 401 } else { 403 };
                    assert_eq!(reply.status, expected, "refused: {what}");
                    assert_eq!(reply.content_type, "application/problem+json", "{what}");
                    assert_eq!(
                        version(),
                        before,
                        "a refused request changed nothing: {what}"
                    );
                }
            }
        }
    }
    let expected: BTreeSet<String> = [
        "accept",
        "add_user",
        "events",
        "export",
        "password",
        "request_code",
        "session",
        "setup",
        "setup_confirm",
        "sign_out",
        "users",
        "verify_code",
        "claim",
        "clawback",
        "complete",
        "decline",
        "eligibility",
        "health",
        "history",
        "ledger",
        "milestone",
        "open",
        "programme",
        "status",
        "submit",
        "tick",
        "top_up",
        "withdraw",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(operations, expected, "every route is in the document");
    assert!(refusals > 40, "{refusals} refusals checked");
}
