//! The verbs about one application's file: `explain` (the eligibility
//! verdict, with or without a database) and `apply` (its submission).

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use grantflow_core::{Action, Command, Outcome, Programme, decide, evolve, explain};
use serde_json::{Value, json};

use super::output::pretty;
use crate::cli::Change;
use crate::error::{CliError, CliResult, redact};
use crate::input::NewApplication;
use crate::session::{Session, derived_id};
use crate::{input, report, store};

pub(super) fn explain_file(
    db: &str,
    programme: Option<&str>,
    file: &Path,
    on: Option<&str>,
    json: bool,
) -> CliResult<()> {
    let text = input::read_file(file)?;
    let applicant = match serde_json::from_str::<input::ApplicationFile>(&text) {
        Ok(f) => f.applicant,
        Err(first) => serde_json::from_str::<grantflow_core::Applicant>(&text).map_err(|_| {
            CliError::usage(format!(
                "`{}` is not an application or applicant (line {}, column {}): {first}",
                file.display(),
                first.line(),
                first.column()
            ))
        })?,
    };
    let on = match on {
        Some(t) => input::parse_time(t)?.date_naive(),
        None => Utc::now().date_naive(),
    };
    // The rules: the programme in the database if there is one, else the preset.
    let no_database = programme.is_none() && !store::is_postgres(db) && !Path::new(db).exists();
    let from_db = if no_database {
        None
    } else {
        Session::open(db, programme)?.state().programme().cloned()
    };
    let (rules, source, said) = match from_db {
        Some(p) => {
            let said = format!("rules: programme {} in the database `{}`", p.id, redact(db));
            (p, "database", said)
        }
        None => (
            Programme::healthcare_cyber_essentials_2020(),
            "preset",
            format!(
                "rules: the preset healthcare-ce-2020 (no database `{}`: pass --db to judge by a programme's own rules)",
                redact(db)
            ),
        ),
    };
    let verdict = explain(&rules, &applicant, on);
    if json {
        outln!(
            "{}",
            pretty(
                &json!({"programme": rules.id, "rules": source, "on": on, "eligible": verdict.eligible, "criteria": verdict.criteria})
            )
        );
    } else {
        outln!("{said}");
        outln!(
            "{} under {} on {}:",
            applicant.organisation.name,
            rules.name,
            on
        );
        let mut t = report::table(&["criterion", "result", "why", "source"]);
        for c in &verdict.criteria {
            t.add_row(vec![
                c.id.clone(),
                if c.passed {
                    "pass".into()
                } else {
                    "FAIL".into()
                },
                c.sentence.clone(),
                c.reference.clone().unwrap_or_default(),
            ]);
        }
        outln!("{t}");
        outln!(
            "{}",
            if verdict.eligible {
                "eligible: every criterion passes"
            } else {
                "not eligible: see the failed criteria above"
            }
        );
    }
    Ok(())
}

pub(super) fn apply(
    db: &str,
    programme: Option<&str>,
    file: &Path,
    reference: Option<&str>,
    change: &Change,
    json: bool,
) -> CliResult<()> {
    let is_csv = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let apps: Vec<NewApplication> = if is_csv {
        if reference.is_some() {
            return Err(CliError::usage(
                "--ref applies to a JSON application; a CSV gives each row's reference in its `reference` column",
            ));
        }
        input::applications_csv(file)?
    } else {
        vec![input::application_json(file, reference)?]
    };
    let now = input::now_or_clock(change.now.as_deref())?;
    let mut s = Session::open(db, programme)?;
    if is_csv && change.command_id.is_some() {
        return Err(CliError::usage(
            "--command-id applies to one application; CSV rows get ids derived from their references",
        ));
    }
    let given_id = change
        .command_id
        .as_deref()
        .map(crate::session::given_command_id)
        .transpose()?;
    let commands: Vec<(Command, DateTime<Utc>)> = apps
        .iter()
        .map(|a| {
            let id = match given_id {
                Some(id) => id,
                None => {
                    // The same reference with the same answers is the same command (a re-run is a
                    // no-op); other answers under a used reference are refused as a duplicate.
                    let content =
                        serde_json::to_string(&(&a.applicant, &a.request)).unwrap_or_default();
                    derived_id(
                        s.programme().as_str(),
                        "submit",
                        &[&a.id.to_string(), &content],
                        None,
                    )
                }
            };
            (
                Command::new(
                    id,
                    Action::Submit {
                        application: a.id,
                        applicant: Arc::new(a.applicant.clone()),
                        request: a.request.clone(),
                    },
                ),
                now,
            )
        })
        .collect();
    // Every row is decided on a copy of the state first: one refusal and nothing is applied.
    let mut names = s.refs.clone();
    names.extend(apps.iter().map(|a| (a.id, a.reference.clone())));
    let mut trial = s.state().clone();
    let mut refused: Vec<(String, grantflow_core::Rejection)> = Vec::new();
    for (app, (command, now)) in apps.iter().zip(&commands) {
        match decide(&trial, command, *now) {
            Ok(events) => {
                for e in &events {
                    evolve(&mut trial, e)
                        .map_err(|err| CliError::usage(format!("{}: {err}", app.origin)))?;
                }
            }
            Err(r) => refused.push((app.origin.clone(), report::named_rejection(&r, &names))),
        }
    }
    if let Some((_, first)) = refused.first() {
        let mut e = CliError::rejected(first.clone());
        if is_csv {
            let each: Vec<String> = refused
                .iter()
                .take(input::MAX_ROW_PROBLEMS)
                .map(|(origin, r)| {
                    let line = origin
                        .rsplit_once(" line ")
                        .map_or(origin.as_str(), |(_, l)| l);
                    format!("line {line}: rejected ({}): {}", r.code, r.message)
                })
                .collect();
            let more = refused.len() - each.len();
            let more = if more > 0 {
                format!("; and {more} more refused row(s) not listed")
            } else {
                String::new()
            };
            e.message = crate::error::one_line(&format!(
                "{}: {} row(s) refused, nothing from the file was applied: {}{more}",
                file.display(),
                refused.len(),
                each.join("; ")
            ));
            e = e.with_details(each);
        }
        return Err(e);
    }
    let pairs: Vec<_> = apps.iter().map(|a| (a.id, a.reference.clone())).collect();
    s.remember(&pairs)?;
    let db_name = s.db.clone();
    let results = s
        .engine
        .execute_many(&commands)
        .map_err(|e| CliError::engine(&db_name, e))?;
    let mut rows = Vec::new();
    let mut rejected = None;
    for (app, result) in apps.iter().zip(results) {
        let stage = s
            .state()
            .application(&app.id)
            .map(|a| a.stage().kind().as_str().to_string())
            .unwrap_or_else(|| "-".into());
        let award = s
            .state()
            .application(&app.id)
            .map(|a| a.award())
            .unwrap_or_default();
        match result {
            Ok(o) => rows.push(json!({"reference": app.reference, "application": app.id, "outcome": if matches!(o, Outcome::Duplicate{..}) {"duplicate"} else {"applied"}, "stage": stage, "award": award, "events": o.events()})),
            Err(r) => {
                let r = report::named_rejection(&r, &names);
                rows.push(json!({"reference": app.reference, "application": app.id, "outcome": "rejected", "code": r.code, "message": r.message}));
                rejected.get_or_insert(r);
            }
        }
    }
    if json {
        outln!("{}", pretty(&Value::Array(rows.clone())));
    } else {
        let mut t = report::table(&["reference", "outcome", "stage", "award"]);
        for r in &rows {
            let txt = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let award = r
                .get("award")
                .and_then(Value::as_str)
                .and_then(|a| a.parse::<grantflow_core::Money>().ok())
                .map(|m| m.display_pounds())
                .unwrap_or_default();
            t.add_row(vec![txt("reference"), txt("outcome"), txt("stage"), award]);
        }
        outln!("{t}");
    }
    match rejected {
        Some(r) => Err(CliError::rejected(r).after_output()),
        None => Ok(()),
    }
}
