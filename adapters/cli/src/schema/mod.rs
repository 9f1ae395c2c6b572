//! JSON Schemas of the wire formats (`grantflow schema commands|events|rules|application`).
//!
//! The core's types carry no schema attributes, so the schemas are
//! generated here from example values: one example of every command and
//! event variant and the preset rules, built from the core's own types and
//! serialized with serde, so a schema follows the types whenever they change.
//! Tagged variants become `oneOf` branches with a `const` tag; strings are
//! typed by what they hold (UUID, date, date-time, amount, decimal); fields
//! that serde leaves out when empty are optional; known enumerations are
//! listed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use grantflow_core::{
    Action, Applicant, ApplicationId, Command, CommandId, Contact, CostRequest, Coverage,
    Criterion, Event, EventKind, Item, Level, Milestone, Money, Organisation, Programme, RingFence,
};
use grantflow_core::{EVENT_SCHEMA_VERSION, FailureReason, PlusEnd, Reminder};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use crate::error::{CliError, CliResult};

mod checks;

use checks::{
    MAX_NOTE, MAX_REFERENCE, MONEY_MAX, MONEY_PATTERN, constraint, non_empty, rules_path, text,
};

/// Fields serde omits when absent that are an `Option`: serde reads
/// `null` for them as left out.
const NULLABLE: &[&str] = &[
    "reference",
    "assumed",
    "until",
    "company_number",
    "charity_number",
    "ods_code",
    "region",
    "plus_audit_quote",
];

/// Other fields that may be left out, and refuse `null`: ring fences
/// (none by default) and `grantflow run`'s `now`.
const OPTIONAL: &[&str] = &["ring_fences", "now"];

/// Members of events that are an `Option` written as `null` when absent.
const NULLABLE_PATHS: &[&str] = &["event.coverage", "event.plus_by"];

/// `schema` or `null`.
fn or_null(mut schema: Value) -> Value {
    if let Some(t) = schema.get("type").and_then(Value::as_str) {
        schema["type"] = json!([t, "null"]);
    } else if let Some(any) = schema.get_mut("anyOf").and_then(Value::as_array_mut) {
        any.push(json!({"type": "null"}));
    } else {
        schema = json!({"anyOf": [schema, {"type": "null"}]});
    }
    schema
}

/// Parts that may be left out, by the end of their path: an event's
/// optional members, and the parts of a rules file that take grantflow's
/// defaults (`Windows::default`, `AllocationRules::default` and the
/// coverage defaults).
const OPTIONAL_PATHS: &[&str] = &[
    // Not rules parts: a submission's coverage (none when the applicant is
    // ineligible) and a certificate's Plus deadline (none without Plus).
    "event.coverage",
    "event.plus_by",
    "coverage.plus_funded",
    "coverage.plus_audit_cap",
    "coverage.vat",
    "coverage.vat_rate",
    "coverage.award_cap",
    "allocation",
    "allocation.policy",
    "allocation.contingency",
    "windows",
    "windows.offer_days",
    "windows.offer_reminder_days",
    "windows.feedback_working_days",
    "windows.pass_months",
    "windows.validity_months",
    "windows.expiry_reminder_days",
    "windows.plus_months",
    "windows.plus_retest_days",
    "windows.plus_reminder_days",
];

/// Properties that take one of a fixed set of names.
fn enumeration(key: &str, path: &str) -> Option<Vec<String>> {
    let names = |vals: Vec<Value>| {
        Some(
            vals.into_iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
        )
    };
    match key {
        "level" => names(vec![json!(Level::Basic), json!(Level::Plus)]),
        "milestone" => names(Milestone::ALL.iter().map(|m| json!(m)).collect()),
        "item" => names(Item::ALL.iter().map(|i| json!(i)).collect()),
        "value" if path.ends_with("policy.value") => {
            Some(vec!["skip_ahead".into(), "strict".into()])
        }
        "value" if path.ends_with("vat.value") => Some(vec![
            "never".into(),
            "always".into(),
            "unless_registered".into(),
        ]),
        _ => None,
    }
}

const TAGS: &[&str] = &["command", "type", "reminder"];

fn string_schema(s: &str) -> Value {
    if uuid::Uuid::parse_str(s).is_ok() {
        return json!({"type": "string", "format": "uuid"});
    }
    if DateTime::parse_from_rfc3339(s).is_ok() {
        return json!({"type": "string", "format": "date-time"});
    }
    if NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() {
        return json!({"type": "string", "format": "date"});
    }
    let b = s.as_bytes();
    let money = b.len() >= 4
        && b[b.len() - 3] == b'.'
        && s.replace('.', "").bytes().all(|c| c.is_ascii_digit());
    if money {
        return json!({
            "description": "an amount in pounds: at most two decimals, not negative, at most 1000000000000, no exponent; written as a string, or whole pounds as a number",
            "anyOf": [{"type": "string", "pattern": MONEY_PATTERN}, {"type": "integer", "minimum": 0, "maximum": MONEY_MAX}]
        });
    }
    if !s.is_empty()
        && s.trim_start_matches('-')
            .replacen('.', "", 1)
            .bytes()
            .all(|c| c.is_ascii_digit())
    {
        return json!({"description": "a decimal number, written as a string", "anyOf": [{"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?$"}, {"type": "number"}]});
    }
    json!({"type": "string"})
}

fn infer(examples: &[&Value], key: &str, path: &str) -> Value {
    if let Some(names) = enumeration(key, path) {
        return json!({"type": "string", "enum": names});
    }
    if let Some(rule) = constraint(path) {
        return rule;
    }
    let Some(first) = examples.first() else {
        return json!({});
    };
    match first {
        Value::Null => json!({"type": "null"}),
        Value::Bool(_) => json!({"type": "boolean"}),
        Value::Number(_) => {
            if examples.iter().all(|v| v.as_u64().is_some()) {
                json!({"type": "integer", "minimum": 0})
            } else {
                json!({"type": "number"})
            }
        }
        Value::String(s) => {
            let schemas: BTreeSet<String> = examples
                .iter()
                .filter_map(|v| v.as_str())
                .map(|s| string_schema(s).to_string())
                .collect();
            if schemas.len() == 1 {
                string_schema(s)
            } else {
                json!({"type": "string"})
            }
        }
        Value::Array(_) => {
            let items: Vec<&Value> = examples
                .iter()
                .filter_map(|v| v.as_array())
                .flatten()
                .collect();
            let mut s = json!({"type": "array", "items": infer(&items, key, &format!("{path}[]"))});
            if non_empty(path) {
                s["minItems"] = json!(1);
            }
            s
        }
        Value::Object(_) => {
            let objects: Vec<&Map<String, Value>> =
                examples.iter().filter_map(|v| v.as_object()).collect();
            let tag = TAGS.iter().find(|t| {
                let values: BTreeSet<&str> = objects
                    .iter()
                    .filter_map(|o| o.get(**t).and_then(Value::as_str))
                    .collect();
                objects
                    .iter()
                    .all(|o| o.get(**t).is_some_and(Value::is_string))
                    && values.len() > 1
            });
            if let Some(tag) = tag {
                let mut groups: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
                for v in examples {
                    let name = v
                        .get(*tag)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    groups.entry(name).or_default().push(v);
                }
                let branches: Vec<Value> = groups
                    .into_iter()
                    .map(|(name, vs)| {
                        let mut s = object_schema(&vs, path);
                        s["properties"][*tag] = json!({"const": name});
                        s["title"] = json!(name);
                        s
                    })
                    .collect();
                return json!({"oneOf": branches});
            }
            object_schema(examples, path)
        }
    }
}

fn object_schema(examples: &[&Value], path: &str) -> Value {
    let objects: Vec<&Map<String, Value>> = examples.iter().filter_map(|v| v.as_object()).collect();
    let mut keys: Vec<String> = Vec::new();
    for o in &objects {
        for k in o.keys() {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    // A sourced value (a parameter, a dated value, the funder, a sector, a
    // ring fence) may give a reference, an assumption or both, whichever
    // its example happened to give.
    let sourced = keys.iter().any(|k| k == "value")
        || matches!(
            rules_path(path),
            "funder" | "sectors[]" | "allocation.ring_fences[]"
        );
    if sourced {
        for k in ["reference", "assumed"] {
            if !keys.iter().any(|x| x == k) {
                keys.push(k.to_string());
            }
        }
    }
    let mut properties = Map::new();
    let mut required = Vec::new();
    for k in &keys {
        let values: Vec<&Value> = objects
            .iter()
            .filter_map(|o| o.get(k))
            .filter(|v| !v.is_null())
            .collect();
        let sub = if path.is_empty() {
            k.clone()
        } else {
            format!("{path}.{k}")
        };
        let schema = if values.is_empty() && sourced {
            json!({"type": "string"})
        } else {
            infer(&values, k, &sub)
        };
        let schema = if NULLABLE.contains(&k.as_str()) || NULLABLE_PATHS.contains(&sub.as_str()) {
            or_null(schema)
        } else {
            schema
        };
        properties.insert(k.clone(), schema);
        if objects
            .iter()
            .all(|o| o.get(k).is_some_and(|v| !v.is_null()))
            && !OPTIONAL.contains(&k.as_str())
            && !NULLABLE.contains(&k.as_str())
            && !OPTIONAL_PATHS
                .iter()
                .any(|o| sub == *o || sub.ends_with(&format!(".{o}")))
        {
            required.push(json!(k));
        }
    }
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2020, 9, day.clamp(1, 30), 9, 0, 0)
        .single()
        .unwrap_or_default()
}

/// The preset with every optional part present (a ring fence), so that the
/// schema describes it.
fn example_programme() -> Programme {
    let mut p = Programme::healthcare_cyber_essentials_2020();
    p.allocation.ring_fences.push(RingFence {
        sector: "medical-supplier".into(),
        cap: Money::pounds(300_000),
        reference: None,
        assumed: Some("an example ring fence".into()),
    });
    p
}

fn example_applicant() -> (Applicant, CostRequest) {
    (
        Applicant {
            organisation: Organisation {
                name: "Acme Medical Ltd".into(),
                company_number: Some("01234567".into()),
                charity_number: Some("1234567".into()),
                ods_code: Some("ABC12".into()),
                region: Some("North West".into()),
            },
            contact: Contact {
                name: "Ann Smith".into(),
                email: "ann@acme.example".into(),
            },
            sector: "medical-supplier".into(),
            employees: 20,
            uk_based: true,
            already_certified: false,
            vat_registered: true,
        },
        CostRequest {
            level: Level::Basic,
            consultancy_days: Decimal::new(15, 1),
            day_rate: Money::pounds(500),
            plus_audit_quote: Some(Money::pounds(1400)),
        },
    )
}

fn example_commands() -> Vec<Command> {
    let app = ApplicationId::from_name("ACME-001");
    let (applicant, request) = example_applicant();
    let id = |n: &str| CommandId::from_name(n);
    let actions = vec![
        Action::Open {
            programme: Box::new(example_programme()),
        },
        Action::TopUp {
            amount: Money::pounds(1000),
            note: "second tranche".into(),
        },
        Action::Submit {
            application: app,
            applicant: Arc::new(applicant),
            request,
        },
        Action::Accept { application: app },
        Action::Decline { application: app },
        Action::Withdraw {
            application: app,
            reason: "closed".into(),
        },
        Action::Milestone {
            application: app,
            milestone: Milestone::AssessmentPassed,
        },
        Action::Claim {
            application: app,
            item: Item::CertificationFee,
            invoice_ref: "INV-1".into(),
            amount: Money::pounds(300),
        },
        Action::Complete { application: app },
        Action::Clawback {
            application: app,
            amount: Money::pounds(100),
            reason: "overstated".into(),
        },
        Action::Tick,
    ];
    actions
        .into_iter()
        .enumerate()
        .map(|(i, a)| Command::new(id(&format!("c{i}")), a))
        .collect()
}

fn example_events() -> Vec<Event> {
    let app = ApplicationId::from_name("ACME-001");
    let (applicant, request) = example_applicant();
    let m = Money::pounds(300);
    let coverage = Coverage {
        items: [Money::pounds(900), m, Money::ZERO],
        total: Money::pounds(1200),
        award: Money::pounds(1200),
    };
    let criterion = Criterion {
        id: "size".into(),
        passed: false,
        sentence: "too large".into(),
        reference: Some("source".into()),
    };
    let kinds = vec![
        EventKind::ProgrammeOpened {
            programme: Box::new(example_programme()),
        },
        EventKind::PotToppedUp {
            amount: m,
            note: "note".into(),
        },
        EventKind::Submitted {
            application: app,
            applicant: std::sync::Arc::new(applicant),
            request,
            coverage: Some(coverage),
        },
        EventKind::FoundIneligible {
            application: app,
            failed: vec![criterion],
        },
        EventKind::Waitlisted { application: app },
        EventKind::Offered {
            application: app,
            amount: m,
            expires: at(15),
        },
        EventKind::Accepted {
            application: app,
            pass_by: at(20),
        },
        EventKind::Declined {
            application: app,
            released: m,
        },
        EventKind::Lapsed {
            application: app,
            released: m,
        },
        EventKind::Withdrawn {
            application: app,
            released: m,
            reason: "closed".into(),
        },
        EventKind::ConsultancyEngaged { application: app },
        EventKind::SelfAssessmentSubmitted {
            application: app,
            attempt: 1,
        },
        EventKind::AssessmentFailed {
            application: app,
            respond_by: at(3),
        },
        EventKind::CertificationFailed {
            application: app,
            reason: FailureReason::SecondFail,
            released: m,
        },
        EventKind::CertificationFailed {
            application: app,
            reason: FailureReason::FeedbackWindowEnded,
            released: m,
        },
        EventKind::CertificationFailed {
            application: app,
            reason: FailureReason::PassWindowEnded,
            released: m,
        },
        EventKind::Certified {
            application: app,
            expires: at(30),
            plus_by: Some(at(29)),
        },
        EventKind::PlusAuditBooked {
            application: app,
            attempt: 1,
        },
        EventKind::PlusAuditFailed {
            application: app,
            retest_by: at(28),
        },
        EventKind::PlusCertified { application: app },
        EventKind::PlusNotAchieved {
            application: app,
            reason: PlusEnd::SecondFail,
        },
        EventKind::PlusNotAchieved {
            application: app,
            reason: PlusEnd::WindowEnded,
        },
        EventKind::ClaimPaid {
            application: app,
            item: Item::Consultancy,
            invoice_ref: "INV-1".into(),
            amount: m,
        },
        EventKind::Completed {
            application: app,
            released: m,
        },
        EventKind::ClawedBack {
            application: app,
            amount: m,
            reason: "overstated".into(),
        },
        EventKind::ReminderDue {
            application: app,
            reminder: Reminder::OfferExpiring { expires: at(15) },
        },
        EventKind::ReminderDue {
            application: app,
            reminder: Reminder::FeedbackClosing { closes: at(15) },
        },
        EventKind::ReminderDue {
            application: app,
            reminder: Reminder::PlusWindowClosing { closes: at(15) },
        },
        EventKind::ReminderDue {
            application: app,
            reminder: Reminder::CertificateExpiring {
                expires: at(15),
                days: 30,
            },
        },
    ];
    kinds
        .into_iter()
        .map(|k| Event::new(CommandId::from_name("c"), at(1), k))
        .collect()
}

fn with_header(mut schema: Value, title: &str, description: &str) -> Value {
    if let Some(o) = schema.as_object_mut() {
        let mut head = Map::new();
        head.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        head.insert("title".into(), json!(title));
        head.insert("description".into(), json!(description));
        head.extend(std::mem::take(o));
        *o = head;
    }
    schema
}

/// The schema named `what`: `commands`, `events`, `rules` or `application`.
pub fn schema(what: &str) -> CliResult<Value> {
    match what {
        "commands" | "command" => {
            let values: Vec<Value> = example_commands()
                .iter()
                .filter_map(|c| serde_json::to_value(c).ok())
                .map(|mut v| {
                    v["now"] = json!("2020-09-01T09:00:00Z");
                    v
                })
                .collect();
            let refs: Vec<&Value> = values.iter().collect();
            let mut s = infer(&refs, "", "");
            if let Some(branches) = s.get_mut("oneOf").and_then(Value::as_array_mut) {
                for b in branches {
                    b["properties"]["id"] = json!({"type": "string", "pattern": "\\S", "description": "the command's idempotency id: a UUID (any text that is not blank with `grantflow run`)"});
                    b["properties"]["now"] = json!({
                        "description": "`grantflow run` only: the command's time, RFC 3339 or a date",
                        "anyOf": [
                            {"type": "string", "format": "date-time"},
                            {"type": "string", "format": "date"}
                        ]
                    });
                    if b["properties"].get("application").is_some() {
                        let mut reference = text(1, MAX_REFERENCE);
                        reference["description"] = json!(
                            "the application: a UUID (any reference text with `grantflow run`)"
                        );
                        b["properties"]["application"] = reference;
                    }
                    if b["title"] == "clawback" {
                        b["properties"]["reason"] = text(1, MAX_NOTE);
                    }
                }
            }
            Ok(with_header(
                s,
                "grantflow command",
                "A command in its JSON form, as `grantflow run` reads one per line.",
            ))
        }
        "events" | "event" => {
            let values: Vec<Value> = example_events()
                .iter()
                .filter_map(|e| serde_json::to_value(e).ok())
                .collect();
            let refs: Vec<&Value> = values.iter().collect();
            let mut schema = infer(&refs, "", "");
            // On a command's first event only: what the command asked.
            schema["properties"]["origin"] = json!({
                "type": "object",
                "description": "on a command's first event: the command's kind and a digest of its action, so that a reused command id is told apart from a retry",
                "properties": {
                    "command": {"type": "string"},
                    "digest": {"type": "string", "format": "uuid"}
                },
                "required": ["command", "digest"],
                "additionalProperties": false
            });
            Ok(with_header(
                schema,
                "grantflow event",
                &format!(
                    "A recorded event (schema_version {EVENT_SCHEMA_VERSION}): its envelope, the kind under `event`; as stored and as `history --json` prints."
                ),
            ))
        }
        "rules" | "programme" => {
            let v = serde_json::to_value(example_programme())
                .map_err(|e| CliError::usage(e.to_string()))?;
            Ok(with_header(
                infer(&[&v], "", ""),
                "grantflow programme rules",
                "A programme's rules, as `grantflow init --rules FILE` reads them (JSON; TOML has the same shape).",
            ))
        }
        "application" | "applications" => {
            let (applicant, request) = example_applicant();
            let v = json!({"reference": "ACME-001", "applicant": applicant, "request": request});
            let mut s = infer(&[&v], "", "");
            let mut reference = text(1, MAX_REFERENCE);
            reference["description"] = json!(
                "the application's reference (any text, or a UUID); `--ref` gives it instead"
            );
            s["properties"]["reference"] = reference.clone();
            // `application` is another name for `reference`; one of them at most.
            reference["description"] = json!("another name for `reference`");
            s["properties"]["application"] = reference;
            s["not"] = json!({"required": ["reference", "application"]});
            Ok(with_header(
                s,
                "grantflow application",
                "An application as `grantflow apply FILE.json` reads it (`grantflow explain` also takes just its `applicant`).",
            ))
        }
        other => Err(CliError::usage(format!(
            "`{other}` has no schema: use commands, events, rules or application"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_builds_and_lists_every_variant() {
        let c = schema("commands").unwrap();
        assert_eq!(c["oneOf"].as_array().unwrap().len(), 11);
        let e = schema("events").unwrap();
        assert_eq!(
            e["properties"]["origin"]["required"],
            json!(["command", "digest"])
        );
        assert_eq!(
            e["properties"]["event"]["oneOf"].as_array().unwrap().len(),
            23
        );
        for field in ["schema_version", "command", "at", "event"] {
            assert!(e["required"].as_array().unwrap().contains(&json!(field)));
        }
        let r = schema("rules").unwrap();
        assert!(r["required"].as_array().unwrap().contains(&json!("pot")));
        assert!(schema("nope").is_err());
    }
}
