//! The published JSON Schemas are the parser's: every shipped example
//! passes the schema `grantflow schema <kind>` publishes for it; so does a
//! stream of generated commands, which `grantflow run` then reads line by
//! line, and the events they record; and each bad sample is refused by the schema and by `grantflow`,
//! for the reason the sample is about. A maintained validator
//! (`jsonschema`, formats checked) judges the schemas.

mod common;

use std::path::{Path, PathBuf};

use common::{Out, gf, write};
use grantflow_core::{Action, Command, CommandId, Programme};
use grantflow_testkit::strategies::{Run, history};
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

/// The schema `grantflow schema <kind>` prints.
fn published(kind: &str) -> Value {
    let d = tempfile::tempdir().expect("tempdir");
    let out = gf(d.path(), &["schema", kind]);
    assert_eq!(out.code, 0, "grantflow schema {kind}: {}", out.stderr);
    out.json()
}

/// A validator of `schema` that checks formats (dates, times, UUIDs) too.
fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .unwrap_or_else(|e| panic!("the published schema does not compile: {e}"))
}

/// What the validator finds wrong with `instance`, one line each.
fn problems(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn assert_valid(v: &jsonschema::Validator, instance: &Value, what: &str) {
    let found = problems(v, instance);
    assert!(
        found.is_empty(),
        "{what} fails its schema:\n{}\n{instance}",
        found.join("\n")
    );
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// A rules file (TOML) as the JSON the schema describes.
fn toml_as_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("read rules");
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Shipped files that no published schema is for, and why.
const WITHOUT_SCHEMA: &[(&str, &str)] = &[
    ("embedded.rs", "a Rust program"),
    (
        "applications.csv",
        "CSV: its columns are listed by `grantflow apply --help`",
    ),
    (
        "scenario-2020.toml",
        "a scenario for `grantflow simulate`, not a rules file",
    ),
];

#[test]
fn every_shipped_example_passes_the_schema_published_for_it() {
    let schemas = Schemas::published();
    let mut checked = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(examples())
        .expect("examples/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if WITHOUT_SCHEMA.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read example");
        match path.extension().and_then(|e| e.to_str()) {
            Some("jsonl") => {
                for (i, line) in text.lines().enumerate() {
                    let t = line.trim();
                    if t.is_empty() || t.starts_with('#') {
                        continue;
                    }
                    let v: Value = serde_json::from_str(t).expect("a JSON line");
                    assert_valid(
                        schemas.of(Kind::Command),
                        &v,
                        &format!("{name} line {}", i + 1),
                    );
                }
            }
            Some("json") => {
                let v: Value = serde_json::from_str(&text).expect("JSON");
                assert_valid(schemas.of(Kind::Application), &v, &name);
            }
            Some("toml") => assert_valid(schemas.of(Kind::Rules), &toml_as_json(&path), &name),
            _ => panic!(
                "examples/{name}: no schema is known for it; check it against one here or list it in WITHOUT_SCHEMA"
            ),
        }
        checked.push(name);
    }
    for expected in [
        "application.json",
        "commands.jsonl",
        "healthcare-ce-2020.toml",
        "minimal-programme.toml",
    ] {
        assert!(
            checked.iter().any(|c| c == expected),
            "{expected} was not checked: {checked:?}"
        );
    }
}

/// A command as a `grantflow run` line: its JSON form and its time.
fn jsonl_line(command: &Command, now: chrono::DateTime<chrono::Utc>) -> Value {
    let mut v = serde_json::to_value(command).expect("command JSON");
    v["now"] = json!(now.to_rfc3339());
    v
}

#[test]
fn generated_commands_pass_the_command_schema_and_grantflow_run_reads_every_one() {
    let schemas = Schemas::published();
    let schema = schemas.of(Kind::Command);
    let events = validator(&published("events"));
    let d = tempfile::tempdir().expect("tempdir");
    let mut runner = TestRunner::new(Config {
        cases: 32,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&history(4, 40), |(programme, steps)| {
            let mut run = Run::open(programme.clone());
            let open = Command::new(
                CommandId::from_name("generated-open"),
                Action::Open {
                    programme: Box::new(programme),
                },
            );
            let mut lines = vec![jsonl_line(&open, run.now)];
            for step in &steps {
                if let Some(command) = run.command(step) {
                    lines.push(jsonl_line(&command, run.now));
                    let _ = run.execute(command);
                }
            }
            for (i, line) in lines.iter().enumerate() {
                assert_valid(schema, line, &format!("generated line {}", i + 1));
            }
            // What they recorded, as stored and as `history --json` prints it.
            for event in &run.log {
                let v = serde_json::to_value(event).expect("event JSON");
                assert_valid(&events, &v, "a recorded event");
            }
            let text: Vec<String> = lines.iter().map(Value::to_string).collect();
            write(d.path(), "generated.jsonl", &(text.join("\n") + "\n"));
            let out = gf(
                d.path(),
                &["--json", "--db", "memory:", "run", "generated.jsonl"],
            );
            assert!(
                out.code == 0 || out.code == 1,
                "grantflow run did not read every generated line (exit {}): {}{}",
                out.code,
                out.stdout,
                out.stderr
            );
            let rows = out.json();
            let read: Vec<u64> = rows
                .as_array()
                .map(|r| r.iter().filter_map(|row| row["line"].as_u64()).collect())
                .unwrap_or_default();
            let expected: Vec<u64> = (1..=lines.len() as u64).collect();
            assert_eq!(read, expected, "{rows}");
            assert_eq!(rows[0]["outcome"], "applied", "the opening: {}", rows[0]);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

/// `value` with the member at `pointer` (`/a/b`) set to `to`.
fn set(mut value: Value, pointer: &str, to: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
    let target = value
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no object at {parent}"));
    target.insert(key.to_string(), to);
    value
}

/// `value` without the member at `pointer`.
fn remove(mut value: Value, pointer: &str) -> Value {
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
    let removed = value
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .and_then(|o| o.remove(key));
    assert!(removed.is_some(), "nothing at {pointer}");
    value
}

/// What a sample is: a `grantflow run` line, a rules file or an application file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Command,
    Rules,
    Application,
}

impl Kind {
    fn schema(self) -> &'static str {
        match self {
            Kind::Command => "commands",
            Kind::Rules => "rules",
            Kind::Application => "application",
        }
    }
}

/// The validators of the published schemas, one a kind.
struct Schemas {
    command: jsonschema::Validator,
    rules: jsonschema::Validator,
    application: jsonschema::Validator,
}

impl Schemas {
    fn published() -> Schemas {
        Schemas {
            command: validator(&published(Kind::Command.schema())),
            rules: validator(&published(Kind::Rules.schema())),
            application: validator(&published(Kind::Application.schema())),
        }
    }

    fn of(&self, kind: Kind) -> &jsonschema::Validator {
        match kind {
            Kind::Command => &self.command,
            Kind::Rules => &self.rules,
            Kind::Application => &self.application,
        }
    }
}

/// A directory with a database on which the 2020 programme is open and
/// ACME-001 has been offered its award.
fn opened() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    let ok = |args: &[&str]| {
        let out = gf(d.path(), args);
        assert_eq!(out.code, 0, "{args:?}: {}{}", out.stdout, out.stderr);
    };
    ok(&[
        "init",
        "--preset",
        "healthcare-ce-2020",
        "--now",
        "2020-09-01",
    ]);
    std::fs::copy(
        examples().join("application.json"),
        d.path().join("application.json"),
    )
    .expect("copy examples/application.json");
    ok(&["apply", "application.json", "--now", "2020-09-02"]);
    d
}

/// Runs `grantflow` on the sample and returns its answer (exit code, and
/// what it said: the JSON on standard output and standard error).
fn grantflow_answer(dir: &Path, kind: Kind, sample: &Value) -> (Out, String) {
    let out = match kind {
        Kind::Command => {
            write(dir, "sample.jsonl", &format!("{sample}\n"));
            // An `open` opens a programme of its own, in a store of its own.
            let db = if sample["command"] == "open" {
                "memory:"
            } else {
                "grantflow.db"
            };
            let run = ["run", "sample.jsonl", "--now", "2020-09-03"];
            gf(dir, &[&["--json", "--db", db][..], &run].concat())
        }
        Kind::Rules => {
            write(dir, "sample-rules.json", &sample.to_string());
            gf(
                dir,
                &[
                    "--json",
                    "--db",
                    "memory:",
                    "init",
                    "--rules",
                    "sample-rules.json",
                    "--now",
                    "2020-09-01",
                ],
            )
        }
        Kind::Application => {
            write(dir, "sample-application.json", &sample.to_string());
            gf(
                dir,
                &[
                    "--json",
                    "apply",
                    "sample-application.json",
                    "--now",
                    "2020-09-03",
                ],
            )
        }
    };
    let said = format!("{}\n{}", out.stdout, out.stderr);
    (out, said)
}

/// Whether `grantflow` refused the sample: a usage error (exit 2) for a
/// file it cannot read, or for a command line a rejection (exit 1) with
/// nothing applied.
fn refused(kind: Kind, out: &Out) -> bool {
    match kind {
        Kind::Command => match out.code {
            2 => true,
            1 => serde_json::from_str::<Value>(&out.stdout)
                .ok()
                .and_then(|v| v.as_array().cloned())
                .is_some_and(|rows| rows.iter().all(|r| r["outcome"] == "rejected")),
            _ => false,
        },
        Kind::Rules | Kind::Application => out.code == 2,
    }
}

fn long(n: usize) -> String {
    "x".repeat(n)
}

/// Bad samples: what each is, its kind, the sample, and a piece of what
/// `grantflow` must say in refusing it (so that it is refused for this
/// reason, not another).
fn bad_samples() -> Vec<(&'static str, Kind, Value, &'static str)> {
    let cmd = |body: Value| {
        let mut v = json!({"id": "bad-sample", "now": "2020-09-03"});
        for (k, x) in body.as_object().cloned().unwrap_or_default() {
            v[k] = x;
        }
        v
    };
    let top_up = |amount: Value| cmd(json!({"command": "top_up", "amount": amount, "note": "n"}));
    let claim = cmd(
        json!({"command": "claim", "application": "ACME-001", "item": "consultancy", "invoice_ref": "INV-1", "amount": "100"}),
    );
    let application: Value = serde_json::from_str(
        &std::fs::read_to_string(examples().join("application.json")).expect("read"),
    )
    .expect("JSON");
    let submit = cmd(json!({
        "command": "submit",
        "application": "NEW-001",
        "applicant": application["applicant"],
        "request": application["request"],
    }));
    let rules = toml_as_json(&examples().join("minimal-programme.toml"));
    let preset =
        serde_json::to_value(Programme::healthcare_cyber_essentials_2020()).expect("preset JSON");
    let open = cmd(json!({"command": "open", "programme": preset}));
    vec![
        // Commands.
        (
            "an unknown command",
            Kind::Command,
            cmd(json!({"command": "fly"})),
            "unknown variant",
        ),
        (
            "accept without an application",
            Kind::Command,
            cmd(json!({"command": "accept"})),
            "missing field `application`",
        ),
        (
            "an unknown field",
            Kind::Command,
            cmd(json!({"command": "tick", "extra": true})),
            "unknown field `extra`",
        ),
        (
            "a negative amount",
            Kind::Command,
            top_up(json!("-5")),
            "negative",
        ),
        (
            "an amount in thousandths",
            Kind::Command,
            top_up(json!("1.005")),
            "1.005",
        ),
        (
            "an amount with an exponent",
            Kind::Command,
            top_up(json!("1e2")),
            "exponent",
        ),
        (
            "an amount as a fraction",
            Kind::Command,
            top_up(json!(100.5)),
            "100.5",
        ),
        (
            "an amount over the limit, as text",
            Kind::Command,
            top_up(json!("1000000000000.01")),
            "1000000000000.01",
        ),
        (
            "an amount over the limit, as a number",
            Kind::Command,
            top_up(json!(1_000_000_000_001_u64)),
            "1000000000001",
        ),
        (
            "a note with a control character",
            Kind::Command,
            set(top_up(json!("5")), "/note", json!("a\u{1b}b")),
            "U+001B",
        ),
        (
            "an unknown item",
            Kind::Command,
            set(claim.clone(), "/item", json!("lunch")),
            "lunch",
        ),
        (
            "an empty invoice reference",
            Kind::Command,
            set(claim.clone(), "/invoice_ref", json!("")),
            "invoice_ref",
        ),
        (
            "a long invoice reference",
            Kind::Command,
            set(claim, "/invoice_ref", json!(long(65))),
            "invoice_ref",
        ),
        (
            "an unknown milestone",
            Kind::Command,
            cmd(
                json!({"command": "milestone", "application": "ACME-001", "milestone": "graduated"}),
            ),
            "graduated",
        ),
        (
            "a clawback without a reason",
            Kind::Command,
            cmd(
                json!({"command": "clawback", "application": "ACME-001", "amount": "1", "reason": " "}),
            ),
            "reason",
        ),
        (
            "a time that is not one",
            Kind::Command,
            set(cmd(json!({"command": "tick"})), "/now", json!("yesterday")),
            "is not a time",
        ),
        (
            "a date that does not exist",
            Kind::Command,
            set(cmd(json!({"command": "tick"})), "/now", json!("2020-13-01")),
            "not a real date",
        ),
        (
            "a blank command id",
            Kind::Command,
            set(cmd(json!({"command": "tick"})), "/id", json!("  ")),
            "id",
        ),
        (
            "an empty application reference",
            Kind::Command,
            cmd(json!({"command": "accept", "application": ""})),
            "reference",
        ),
        (
            "a long application reference",
            Kind::Command,
            cmd(json!({"command": "accept", "application": long(101)})),
            "reference",
        ),
        (
            "an e-mail address without a domain",
            Kind::Command,
            set(
                submit.clone(),
                "/applicant/contact/email",
                json!("ann@acme"),
            ),
            "not an email address",
        ),
        (
            "a blank organisation name",
            Kind::Command,
            set(submit.clone(), "/applicant/organisation/name", json!("   ")),
            "organisation.name",
        ),
        (
            "a company number with a dash",
            Kind::Command,
            set(
                submit.clone(),
                "/applicant/organisation/company_number",
                json!("OC-1234"),
            ),
            "registration number",
        ),
        (
            "negative consultancy days",
            Kind::Command,
            set(submit.clone(), "/request/consultancy_days", json!(-1)),
            "number of days",
        ),
        (
            "consultancy days in thousandths",
            Kind::Command,
            set(submit.clone(), "/request/consultancy_days", json!("1.005")),
            "number of days",
        ),
        (
            "more consultancy days than a year",
            Kind::Command,
            set(submit.clone(), "/request/consultancy_days", json!(366)),
            "number of days",
        ),
        (
            "more consultancy days than a year, as text",
            Kind::Command,
            set(submit.clone(), "/request/consultancy_days", json!("365.5")),
            "number of days",
        ),
        (
            "negative staff",
            Kind::Command,
            set(submit.clone(), "/applicant/employees", json!(-1)),
            "integer `-1`, expected u32",
        ),
        (
            "an unknown level",
            Kind::Command,
            set(submit, "/request/level", json!("gold")),
            "gold",
        ),
        (
            "a programme in euros",
            Kind::Command,
            set(open, "/programme/currency", json!("EUR")),
            "EUR",
        ),
        // Rules files.
        (
            "rules without coverage",
            Kind::Rules,
            remove(rules.clone(), "/coverage"),
            "missing field `coverage`",
        ),
        (
            "rules without sectors",
            Kind::Rules,
            remove(rules.clone(), "/sectors"),
            "missing field `sectors`",
        ),
        (
            "rules with no sector",
            Kind::Rules,
            set(rules.clone(), "/sectors", json!([])),
            "at least one sector",
        ),
        (
            "rules with no fee table",
            Kind::Rules,
            set(rules.clone(), "/coverage/certification_fee", json!([])),
            "fee table",
        ),
        (
            "an id with a space",
            Kind::Rules,
            set(rules.clone(), "/id", json!("my programme")),
            "letters, digits",
        ),
        (
            "a grant id prefix without 360G-",
            Kind::Rules,
            set(rules.clone(), "/grant_id_prefix", json!("GB-1")),
            "360G-",
        ),
        (
            "an empty funder name",
            Kind::Rules,
            set(rules.clone(), "/funder/name", json!("")),
            "funder.name",
        ),
        (
            "an unknown part",
            Kind::Rules,
            set(rules.clone(), "/colour", json!("blue")),
            "unknown field `colour`",
        ),
        (
            "a parameter with an unknown field",
            Kind::Rules,
            set(rules.clone(), "/pot/source", json!("x")),
            "unknown field `source`",
        ),
        (
            "a pot of nothing",
            Kind::Rules,
            set(rules.clone(), "/pot/value", json!("0.00")),
            "more than zero",
        ),
        (
            "an award cap of nothing",
            Kind::Rules,
            set(
                rules.clone(),
                "/coverage/award_cap",
                json!({"value": 0, "assumed": "x"}),
            ),
            "more than zero",
        ),
        (
            "a VAT rate above one",
            Kind::Rules,
            set(
                rules.clone(),
                "/coverage/vat_rate",
                json!({"value": "1.5", "assumed": "x"}),
            ),
            "between 0 and 1",
        ),
        (
            "a size limit of no staff",
            Kind::Rules,
            set(
                rules.clone(),
                "/eligibility/max_employees_exclusive/value",
                json!(0),
            ),
            "at least 1",
        ),
        (
            "an offer open no days",
            Kind::Rules,
            set(
                rules.clone(),
                "/windows",
                json!({"offer_days": {"value": 0, "assumed": "x"}}),
            ),
            "offer_days",
        ),
        (
            "five years and a month to pass",
            Kind::Rules,
            set(
                rules.clone(),
                "/windows",
                json!({"pass_months": {"value": 61, "assumed": "x"}}),
            ),
            "pass_months",
        ),
        (
            "an expiry reminder on the day",
            Kind::Rules,
            set(
                rules,
                "/windows",
                json!({"expiry_reminder_days": {"value": [0], "assumed": "x"}}),
            ),
            "expiry_reminder_days",
        ),
        // Application files.
        (
            "an application without a request",
            Kind::Application,
            remove(application.clone(), "/request"),
            "missing field `request`",
        ),
        (
            "both reference and application",
            Kind::Application,
            set(application.clone(), "/application", json!("ACME-002")),
            "duplicate field",
        ),
        (
            "an empty reference",
            Kind::Application,
            set(application.clone(), "/reference", json!(" ")),
            "no reference",
        ),
        (
            "an unknown applicant field",
            Kind::Application,
            set(application.clone(), "/applicant/age", json!(3)),
            "unknown field `age`",
        ),
        (
            "staff as text",
            Kind::Application,
            set(application.clone(), "/applicant/employees", json!("20")),
            "expected u32",
        ),
        (
            "an empty region",
            Kind::Application,
            set(
                application.clone(),
                "/applicant/organisation/region",
                json!(""),
            ),
            "region",
        ),
        (
            "a long organisation name",
            Kind::Application,
            set(
                application,
                "/applicant/organisation/name",
                json!(long(201)),
            ),
            "organisation.name",
        ),
    ]
}

#[test]
fn each_bad_sample_is_refused_by_its_schema_and_by_grantflow_for_its_reason() {
    let d = opened();
    let schemas = Schemas::published();
    let mut failures = Vec::new();
    for (what, kind, sample, because) in bad_samples() {
        if schemas.of(kind).is_valid(&sample) {
            failures.push(format!("{what}: the {} schema accepts it", kind.schema()));
        }
        let (out, said) = grantflow_answer(d.path(), kind, &sample);
        if !refused(kind, &out) {
            failures.push(format!(
                "{what}: grantflow accepted it (exit {}): {said}",
                out.code
            ));
        } else if !said.contains(because) {
            failures.push(format!(
                "{what}: grantflow refused it, but not saying `{because}`: {said}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Good samples: what the parser takes though an example does not show
/// it: optional parts left out, texts that look like numbers, amounts as
/// whole-pound numbers, a date for `now`.
fn good_samples() -> Vec<(&'static str, Kind, Value)> {
    let application: Value = serde_json::from_str(
        &std::fs::read_to_string(examples().join("application.json")).expect("read"),
    )
    .expect("JSON");
    let mut fenced = Programme::healthcare_cyber_essentials_2020();
    fenced.id = "fenced".into();
    fenced
        .allocation
        .ring_fences
        .push(grantflow_core::RingFence {
            sector: "primary-care".into(),
            cap: grantflow_core::Money::pounds(100_000),
            reference: None,
            assumed: Some("a sample ring fence".into()),
        });
    let rules = toml_as_json(&examples().join("minimal-programme.toml"));
    vec![
        (
            "a top-up in whole pounds on a date",
            Kind::Command,
            json!({"id": "top up one", "command": "top_up", "amount": 100, "note": "", "now": "2020-09-03"}),
        ),
        (
            "a tick without a time of its own",
            Kind::Command,
            json!({"id": "t", "command": "tick"}),
        ),
        (
            "an organisation with no registration numbers or region, and a Plus request",
            Kind::Application,
            json!({
                "reference": "PLAIN-1",
                "applicant": set(application["applicant"].clone(), "/organisation", json!({"name": "Plain Ltd"})),
                "request": {"level": "plus", "consultancy_days": 1.5, "day_rate": 500, "plus_audit_quote": "1400.50"}
            }),
        ),
        (
            "a company number with letters",
            Kind::Application,
            set(
                set(application.clone(), "/reference", json!("OC-1")),
                "/applicant/organisation/company_number",
                json!("OC123456"),
            ),
        ),
        (
            "null for a region, as for any optional text",
            Kind::Application,
            set(
                set(application.clone(), "/reference", json!("NULL-1")),
                "/applicant/organisation/region",
                Value::Null,
            ),
        ),
        (
            "`application` for the reference",
            Kind::Application,
            set(
                remove(application, "/reference"),
                "/application",
                json!("ALIAS-1"),
            ),
        ),
        (
            "rules with a ring fence",
            Kind::Rules,
            serde_json::to_value(fenced).expect("JSON"),
        ),
        (
            "rules with some windows and the rest left to defaults",
            Kind::Rules,
            set(
                rules,
                "/windows",
                json!({"offer_days": {"value": 21, "assumed": "three weeks"}}),
            ),
        ),
    ]
}

#[test]
fn each_good_sample_is_accepted_by_its_schema_and_by_grantflow() {
    let d = opened();
    let schemas = Schemas::published();
    for (what, kind, sample) in good_samples() {
        assert_valid(schemas.of(kind), &sample, what);
        let (out, said) = grantflow_answer(d.path(), kind, &sample);
        assert_eq!(out.code, 0, "{what}: grantflow refused it: {said}");
    }
}
