//! What each verb does.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use grantflow_core::{
    Action, Command, Engine, Outcome, Programme, ProgrammeId, Rejection, decide, evolve, explain,
};
use serde_json::{Value, json};

use crate::cli::{Change, Cli, Verb};
use crate::error::{CliError, CliResult, redact};
use crate::input::{self, NewApplication};
use crate::report::{self, Refs};
use crate::session::{DEFAULT_DB, Session, derived_id};
use crate::store;
use crate::{demo, export, schema};

/// Runs the parsed command line.
pub fn run(cli: Cli) -> CliResult<()> {
    let json = cli.json;
    let programme = cli.programme.as_deref();
    let db = cli.db.clone().unwrap_or_else(|| DEFAULT_DB.to_string());
    match cli.verb {
        Verb::Init {
            preset,
            rules,
            print,
            change,
        } => init(
            &db,
            programme,
            preset.as_deref(),
            rules.as_deref(),
            print,
            &change,
            json,
        ),
        Verb::Explain { file, on } => explain_file(&db, programme, &file, on.as_deref(), json),
        Verb::Apply {
            file,
            reference,
            change,
        } => apply(&db, programme, &file, reference.as_deref(), &change, json),
        Verb::Accept {
            application,
            change,
        } => simple(
            &db,
            programme,
            &change,
            json,
            "accept",
            &[&application],
            |s| {
                Ok(Action::Accept {
                    application: s.application(&application),
                })
            },
        ),
        Verb::Decline {
            application,
            change,
        } => simple(
            &db,
            programme,
            &change,
            json,
            "decline",
            &[&application],
            |s| {
                Ok(Action::Decline {
                    application: s.application(&application),
                })
            },
        ),
        Verb::Withdraw {
            application,
            reason,
            change,
        } => simple(
            &db,
            programme,
            &change,
            json,
            "withdraw",
            &[&application, &reason],
            |s| {
                Ok(Action::Withdraw {
                    application: s.application(&application),
                    reason: reason.clone(),
                })
            },
        ),
        Verb::Milestone {
            application,
            milestone,
            change,
        } => {
            let m = input::parse_milestone(&milestone)?;
            simple(
                &db,
                programme,
                &change,
                json,
                "milestone",
                &[&application, &milestone],
                |s| {
                    Ok(Action::Milestone {
                        application: s.application(&application),
                        milestone: m,
                    })
                },
            )
        }
        Verb::Claim {
            application,
            item,
            invoice,
            amount,
            change,
        } => {
            let item = input::parse_item(&item)?;
            let given = amount
                .as_deref()
                .map(|a| input::parse_money("--amount", a))
                .transpose()?;
            let amount_text = amount.clone().unwrap_or_default();
            simple(
                &db,
                programme,
                &change,
                json,
                "claim",
                &[&application, item.as_str(), &invoice, &amount_text],
                |s| {
                    let id = s.application(&application);
                    let amount = match given {
                        Some(a) => a,
                        None => s
                            .state()
                            .application(&id)
                            .map(|a| a.payable(item))
                            .unwrap_or_default(),
                    };
                    Ok(Action::Claim {
                        application: id,
                        item,
                        invoice_ref: invoice.clone(),
                        amount,
                    })
                },
            )
        }
        Verb::Tick { change } => simple(&db, programme, &change, json, "tick", &[], |_| {
            Ok(Action::Tick)
        }),
        Verb::TopUp {
            amount,
            note,
            change,
        } => {
            let amount_m = input::parse_money("amount", &amount)?;
            simple(
                &db,
                programme,
                &change,
                json,
                "top_up",
                &[&amount, &note],
                |_| {
                    Ok(Action::TopUp {
                        amount: amount_m,
                        note: note.clone(),
                    })
                },
            )
        }
        Verb::Clawback {
            application,
            amount,
            reason,
            change,
        } => {
            let amount_m = input::parse_money("--amount", &amount)?;
            simple(
                &db,
                programme,
                &change,
                json,
                "clawback",
                &[&application, &amount, &reason],
                |s| {
                    Ok(Action::Clawback {
                        application: s.application(&application),
                        amount: amount_m,
                        reason: reason.clone(),
                    })
                },
            )
        }
        Verb::Complete {
            application,
            change,
        } => simple(
            &db,
            programme,
            &change,
            json,
            "complete",
            &[&application],
            |s| {
                Ok(Action::Complete {
                    application: s.application(&application),
                })
            },
        ),
        Verb::Status { application, state } => status(
            &db,
            programme,
            application.as_deref(),
            state.as_deref(),
            json,
        ),
        Verb::Ledger => {
            let s = Session::open(&db, programme)?;
            if json {
                outln!("{}", pretty(&report::ledger_json(s.state())));
            } else {
                outln!("{}", report::ledger_text(s.state()));
            }
            Ok(())
        }
        Verb::History { application } => history(&db, programme, &application, json),
        Verb::Run { file, now } => run_file(&db, programme, &file, now.as_deref(), json),
        Verb::Export { format, output } => {
            let mut s = Session::open(&db, programme)?;
            let events = s.all_events()?;
            let text = export::export(&format, s.state(), &events, &s.refs, Utc::now())?;
            write_output(output.as_deref(), &text)
        }
        Verb::Schema { what } => {
            outln!("{}", pretty(&schema::schema(&what)?));
            Ok(())
        }
        Verb::Outbox { deliver, limit } => outbox(&db, programme, deliver, limit, json),
        Verb::Simulate { mut args } => {
            if json && !args.iter().any(|a| a == "--json") {
                args.push("--json".into());
            }
            simulate(&args)
        }
        Verb::Demo { applicants, seed } => {
            let db = cli
                .db
                .clone()
                .unwrap_or_else(|| demo::DEFAULT_DEMO_DB.to_string());
            demo::run(&db, applicants, seed, json)
        }
    }
}

/// Pretty JSON text.
pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn write_output(path: Option<&Path>, text: &str) -> CliResult<()> {
    match path {
        Some(p) => std::fs::write(p, text).map_err(|e| {
            CliError::usage(format!(
                "cannot write `{}`: {e}; check the directory exists and is writable",
                p.display()
            ))
        }),
        None => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            if !text.ends_with('\n') {
                let _ = out.write_all(b"\n");
            }
            Ok(())
        }
    }
}

/// Prints a command's outcome.
fn print_outcome(refs: &Refs, command: &Command, outcome: &Outcome, json: bool) {
    if json {
        let mut v = serde_json::to_value(outcome).unwrap_or(Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.insert("command_id".into(), json!(command.id));
            o.insert("command".into(), json!(command.action.name()));
        }
        outln!("{}", pretty(&v));
        return;
    }
    match outcome {
        Outcome::Applied { events, .. } if events.is_empty() => {
            outln!("{}: nothing to do", command.action.name())
        }
        Outcome::Applied { events, .. } => outln!("{}", report::events_table(refs, events)),
        Outcome::Duplicate { events } => {
            outln!(
                "command {} was applied before; nothing changed. It recorded:",
                command.id
            );
            outln!("{}", report::events_table(refs, events));
        }
    }
}

/// A verb that sends one command built from the session.
fn simple(
    db: &str,
    programme: Option<&str>,
    change: &Change,
    json: bool,
    verb: &str,
    args: &[&str],
    build: impl FnOnce(&Session) -> CliResult<Action>,
) -> CliResult<()> {
    let now = input::now_or_clock(change.now.as_deref())?;
    let mut s = Session::open(db, programme)?;
    let action = build(&s)?;
    let id = s.command_id(change.command_id.as_deref(), verb, args, now)?;
    let command = Command::new(id, action);
    let outcome = s.execute(&command, now)?;
    print_outcome(&s.refs, &command, &outcome, json);
    Ok(())
}

fn load_rules(preset: Option<&str>, rules: Option<&Path>) -> CliResult<Programme> {
    match (preset, rules) {
        (Some("healthcare-ce-2020"), None) | (None, None) => {
            Ok(Programme::healthcare_cyber_essentials_2020())
        }
        (Some(other), None) => Err(CliError::usage(format!(
            "`{other}` is not a preset: use healthcare-ce-2020, or --rules FILE"
        ))),
        (_, Some(path)) => {
            let text = input::read_file(path)?;
            let is_json = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json"))
                || text.trim_start().starts_with('{');
            let parsed = if is_json {
                Programme::from_json(&text)
            } else {
                Programme::from_toml(&text)
            };
            parsed.map_err(|e| {
                CliError::usage(format!(
                    "`{}`: {e}; fix the rules file (see `grantflow schema rules`)",
                    path.display()
                ))
            })
        }
    }
}

fn init(
    db: &str,
    programme: Option<&str>,
    preset: Option<&str>,
    rules: Option<&Path>,
    print: bool,
    change: &Change,
    json: bool,
) -> CliResult<()> {
    let mut p = load_rules(preset, rules)?;
    if let Some(id) = programme {
        p.id = id.to_string();
    }
    p.validate()
        .map_err(|e| CliError::usage(format!("{e}; fix the rules or --programme")))?;
    if print {
        if json {
            outln!(
                "{}",
                pretty(&serde_json::to_value(&p).unwrap_or(Value::Null))
            );
        } else {
            out!("{}", p.to_toml());
        }
        return Ok(());
    }
    let now = input::now_or_clock(change.now.as_deref())?;
    let mut s = Session::open_any(db, Some(&p.id))?;
    if s.state().programme().is_some() && s.state().programme() != Some(&p) {
        return Err(CliError::rejected(Rejection::new(
            grantflow_core::RejectionCode::AlreadyOpened,
            format!(
                "programme `{}` is already initialised in `{}` with other rules: choose another id with --programme",
                p.id,
                redact(db)
            ),
            "open",
        )));
    }
    let id = match change.command_id.as_deref() {
        Some(t) => crate::session::given_command_id(t)?,
        None => derived_id(&p.id, "open", &[], None),
    };
    let command = Command::new(
        id,
        Action::Open {
            programme: Box::new(p.clone()),
        },
    );
    let outcome = s.execute(&command, now)?;
    s.add_programme()?;
    if json {
        print_outcome(&s.refs, &command, &outcome, true);
    } else {
        match outcome {
            Outcome::Duplicate { .. } => outln!(
                "programme {} was initialised already in {}; nothing changed",
                p.id,
                redact(db)
            ),
            Outcome::Applied { .. } => {
                outln!("initialised {} ({}) in {}", p.name, p.id, redact(db));
                outln!(
                    "pot {}, applications {} to {}",
                    p.pot.value.display_pounds(),
                    p.opens.value,
                    p.closes.value
                );
            }
        }
    }
    Ok(())
}

fn explain_file(
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
    let rules = if no_database {
        None
    } else {
        Session::open(db, programme)?.state().programme().cloned()
    }
    .unwrap_or_else(Programme::healthcare_cyber_essentials_2020);
    let verdict = explain(&rules, &applicant, on);
    if json {
        outln!(
            "{}",
            pretty(
                &json!({"programme": rules.id, "on": on, "eligible": verdict.eligible, "criteria": verdict.criteria})
            )
        );
    } else {
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

fn apply(
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
    let mut trial = s.state().clone();
    for (app, (command, now)) in apps.iter().zip(&commands) {
        match decide(&trial, command, *now) {
            Ok(events) => {
                for e in &events {
                    evolve(&mut trial, e)
                        .map_err(|err| CliError::usage(format!("{}: {err}", app.origin)))?;
                }
            }
            Err(r) => {
                let mut e = CliError::rejected(r.clone());
                if is_csv {
                    e.message = format!(
                        "{} (reference {}): rejected ({}): {}; nothing from the file was applied",
                        app.origin, app.reference, r.code, r.message
                    );
                }
                return Err(e);
            }
        }
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

fn status(
    db: &str,
    programme: Option<&str>,
    application: Option<&str>,
    stage: Option<&str>,
    json: bool,
) -> CliResult<()> {
    let filter = stage.map(input::parse_stage).transpose()?;
    let s = Session::open(db, programme)?;
    if let Some(text) = application {
        let id = s.application(text);
        let app = s.state().application(&id).ok_or_else(|| {
            CliError::refused(format!("no application `{text}` in programme {}: check the reference with `grantflow status`", s.programme()))
        })?;
        if json {
            outln!("{}", pretty(&report::status_json(&s.refs, app)));
        } else {
            outln!("{}", report::status_detail(&s.refs, app));
        }
        return Ok(());
    }
    let apps: Vec<_> = report::by_arrival(s.state())
        .into_iter()
        .filter(|a| filter.is_none_or(|k| a.stage().kind() == k))
        .collect();
    if json {
        outln!(
            "{}",
            pretty(&Value::Array(
                apps.iter()
                    .map(|a| report::status_json(&s.refs, a))
                    .collect()
            ))
        );
    } else {
        outln!("{}", report::status_table(&s.refs, &apps));
    }
    Ok(())
}

fn history(db: &str, programme: Option<&str>, application: &str, json: bool) -> CliResult<()> {
    let mut s = Session::open(db, programme)?;
    let id = s.application(application);
    if s.state().application(&id).is_none() {
        return Err(CliError::refused(format!(
            "no application `{application}` in programme {}: check the reference with `grantflow status`",
            s.programme()
        )));
    }
    let events: Vec<_> = s
        .all_events()?
        .into_iter()
        .filter(|r| r.event.kind.application() == Some(id))
        .collect();
    if json {
        outln!(
            "{}",
            pretty(&serde_json::to_value(&events).unwrap_or(Value::Null))
        );
    } else {
        outln!("{}", report::events_table(&s.refs, &events));
    }
    Ok(())
}

fn run_file(
    db: &str,
    programme: Option<&str>,
    file: &Path,
    now: Option<&str>,
    json: bool,
) -> CliResult<()> {
    let mut lines = input::command_lines(file)?;
    let default_now = input::now_or_clock(now)?;
    if lines.is_empty() {
        return Err(CliError::usage(format!(
            "`{}` holds no commands",
            file.display()
        )));
    }
    // The stream: --programme, else the programme an `open` line brings, else the only one.
    let opened = lines.iter().find_map(|l| match &l.command.action {
        Action::Open { programme } => Some(programme.id.clone()),
        _ => None,
    });
    let target = programme.map(str::to_string).or(opened.clone());
    let mut s = Session::open_any(db, target.as_deref())?;
    let stream = s.programme().to_string();
    for l in &mut lines {
        if let Action::Open { programme } = &mut l.command.action {
            programme.id = stream.clone();
        }
    }
    if opened.is_none() && s.state().programme().is_none() {
        return Err(CliError::usage(format!(
            "programme `{stream}` is not initialised: run `grantflow init` or start the file with an `open` command"
        )));
    }
    let refs: Vec<_> = lines.iter().filter_map(|l| l.reference.clone()).collect();
    s.remember(&refs)?;
    let commands: Vec<(Command, DateTime<Utc>)> = lines
        .iter()
        .map(|l| (l.command.clone(), l.now.unwrap_or(default_now)))
        .collect();
    let db_name = s.db.clone();
    let results = s
        .engine
        .execute_many(&commands)
        .map_err(|e| CliError::engine(&db_name, e))?;
    if opened.is_some() && s.state().programme().is_some() {
        s.add_programme()?;
    }
    let mut rejected = 0usize;
    let mut out = Vec::new();
    for (l, r) in lines.iter().zip(results) {
        match r {
            Ok(o) => {
                let kind = if matches!(o, Outcome::Duplicate { .. }) {
                    "duplicate"
                } else {
                    "applied"
                };
                if json {
                    out.push(json!({"line": l.line, "command_id": l.command.id, "command": l.command.action.name(), "outcome": kind, "events": o.events()}));
                } else {
                    let names: Vec<&str> = o.events().iter().map(|e| e.event.kind.name()).collect();
                    outln!(
                        "line {}: {} {} ({} event(s){}{})",
                        l.line,
                        l.command.action.name(),
                        kind,
                        names.len(),
                        if names.is_empty() { "" } else { ": " },
                        names.join(", ")
                    );
                }
            }
            Err(rej) => {
                rejected += 1;
                if json {
                    out.push(json!({"line": l.line, "command_id": l.command.id, "command": l.command.action.name(), "outcome": "rejected", "code": rej.code, "message": rej.message}));
                } else {
                    outln!(
                        "line {}: {} rejected ({}): {}",
                        l.line,
                        l.command.action.name(),
                        rej.code,
                        rej.message
                    );
                }
            }
        }
    }
    if json {
        outln!("{}", pretty(&Value::Array(out)));
    }
    if rejected > 0 {
        return Err(CliError::refused(format!(
            "{rejected} of {} command(s) in `{}` were rejected; the others were applied",
            lines.len(),
            file.display()
        ))
        .after_output());
    }
    Ok(())
}

fn outbox(
    db: &str,
    programme: Option<&str>,
    deliver: bool,
    limit: usize,
    json: bool,
) -> CliResult<()> {
    use grantflow_core::Outbox as _;
    let mut s = Session::open(db, programme)?;
    if deliver {
        // The outbox dispatcher delivers every due notice to a log notifier (standard output).
        let db_name = s.db.clone();
        let store = s.engine.into_store();
        let mut dispatcher = grantflow_dispatch::Dispatcher::new(
            store,
            grantflow_dispatch::LogNotifier::new(Vec::new()),
            grantflow_dispatch::DispatchConfig::default(),
        )
        .map_err(|e| CliError::usage(format!("cannot start the notice dispatcher: {e}")))?;
        let report = dispatcher.drain().map_err(|e| {
            CliError::usage(format!(
                "database `{}`: delivering notices failed: {e}",
                redact(&db_name)
            ))
        })?;
        let (_, log, _) = dispatcher.into_parts();
        let log = String::from_utf8_lossy(&log.into_inner()).to_string();
        if json {
            let lines: Vec<&str> = log.lines().collect();
            outln!(
                "{}",
                pretty(
                    &json!({"delivered": report.delivered, "retried": report.retried, "dead_lettered": report.dead_lettered, "log": lines})
                )
            );
        } else {
            out!("{log}");
            outln!(
                "{} notice(s) delivered, {} to retry, {} dead-lettered",
                report.delivered,
                report.retried,
                report.dead_lettered
            );
        }
        return Ok(());
    }
    let now = Utc::now();
    let db_name = s.db.clone();
    let store = s.engine.store_mut();
    // A claim whose lease has already ended reads pending notices without hiding them.
    let far = now + chrono::Duration::days(36_500);
    let lease = if deliver {
        far + chrono::Duration::minutes(5)
    } else {
        now - chrono::Duration::minutes(1)
    };
    let pending = store
        .claim(far, lease, limit.max(1))
        .map_err(|e| CliError::store(&db_name, &e))?;
    let dead = store
        .dead_letters(limit.max(1))
        .map_err(|e| CliError::store(&db_name, &e))?;
    let mut delivered = 0usize;
    if deliver {
        for entry in &pending {
            let n = &entry.notice;
            if !json {
                outln!(
                    "notice {} {} to {:?}{}: {:?}",
                    n.id,
                    n.template,
                    n.recipient,
                    n.to.as_deref()
                        .map(|t| format!(" <{t}>"))
                        .unwrap_or_default(),
                    n.data
                );
            }
            store
                .acknowledge(n.id)
                .map_err(|e| CliError::store(&db_name, &e))?;
            delivered += 1;
        }
    }
    if json {
        outln!(
            "{}",
            pretty(
                &json!({"pending": if deliver { Vec::new() } else { pending.clone() }, "delivered": if deliver { pending.clone() } else { Vec::new() }, "dead_letters": dead})
            )
        );
        return Ok(());
    }
    if deliver {
        outln!("{delivered} notice(s) delivered to standard output");
    } else {
        let refs = s.refs.clone();
        let mut t = report::table(&[
            "status",
            "template",
            "to",
            "application",
            "attempts",
            "last error",
        ]);
        for e in pending.iter().chain(dead.iter()) {
            t.add_row(vec![
                format!("{:?}", e.status).to_lowercase(),
                e.notice.template.clone(),
                format!("{:?}", e.notice.recipient).to_lowercase(),
                e.notice
                    .application
                    .map(|a| report::label(&refs, &a))
                    .unwrap_or_default(),
                e.attempts.to_string(),
                e.last_error.clone().unwrap_or_default(),
            ]);
        }
        outln!(
            "{t}\n{} pending (first {limit} shown), {} dead letter(s)",
            pending.len(),
            dead.len()
        );
    }
    Ok(())
}

/// Opens a fresh engine over a backend for the demo.
pub fn fresh_engine(db: &str, programme: &Programme) -> CliResult<Engine<store::Backend>> {
    let backend = store::open_scratch(db)?;
    Engine::open(backend, ProgrammeId::new(&programme.id)).map_err(|e| CliError::engine(db, e))
}

/// The scenario runner's arguments, parsed on their own.
#[derive(Debug, clap::Parser)]
#[command(
    name = "grantflow simulate",
    about = "Monte Carlo budget scenarios: many seeded trials of a programme, summarised as percentiles.",
    after_help = "Examples:\n  grantflow simulate --trials 200 --seed 7\n  grantflow simulate --applicants 800 --json"
)]
struct SimulateCli {
    #[command(flatten)]
    args: grantflow_scenarios::cli::SimulateArgs,
}

fn simulate(args: &[String]) -> CliResult<()> {
    use clap::Parser as _;
    let parsed = match SimulateCli::try_parse_from(
        std::iter::once("grantflow simulate".to_string()).chain(args.iter().cloned()),
    ) {
        Ok(p) => p,
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            out!("{e}");
            return Ok(());
        }
        Err(e) => {
            let text = e.render().to_string();
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("bad usage")
                .trim()
                .to_string();
            return Err(CliError::usage(format!(
                "simulate: {}; see `grantflow simulate --help`",
                first.strip_prefix("error: ").unwrap_or(&first)
            )));
        }
    };
    let mut stdout = std::io::stdout().lock();
    grantflow_scenarios::cli::run(&parsed.args, &mut stdout)
        .map_err(|e| CliError::usage(format!("simulate: {e}")))
}
