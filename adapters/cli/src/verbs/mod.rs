//! What each verb does.
//!
//! [`run`] matches the parsed command line to its verb; the verbs that send
//! one command built from the session go through `simple`, here. The others
//! have a module per group: `init`, `applications` (`explain`, `apply`),
//! `inspect` (`status`, `history`), `batch` (`run`), `outbox`, `serve`
//! (`serve`, `token add`) and `simulate`; `output` prints for all of them. [`fresh_engine`] opens an
//! engine for the demo.

mod applications;
mod batch;
mod init;
mod inspect;
mod outbox;
mod output;
mod serve;
mod simulate;

pub use output::pretty;

use chrono::Utc;
use grantflow_core::{Action, Command, Engine, Programme, ProgrammeId};

use self::applications::{apply, explain_file};
use self::batch::run_file;
use self::init::init;
use self::inspect::{history, status};
use self::outbox::outbox;
use self::output::{print_outcome, write_output};
use self::simulate::simulate;
use crate::cli::{Change, Cli, TokenVerb, UserVerb, Verb};
use crate::error::{CliError, CliResult};
use crate::session::{DEFAULT_DB, Session};
use crate::{demo, input, report, schema, store};

/// Runs the parsed command line.
pub fn run(cli: Cli) -> CliResult<()> {
    if let Some(db) = &cli.db {
        store::check_scheme(db)?;
    }
    refuse_flags_that_do_not_apply(&cli)?;
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
            let mut s = Session::open(&db, programme)?;
            let funded = report::funded(&s.all_events()?);
            if json {
                outln!("{}", pretty(&report::ledger_json(s.state(), &funded)));
            } else {
                outln!("{}", report::ledger_text(s.state(), &funded));
            }
            Ok(())
        }
        Verb::History { application } => history(&db, programme, &application, json),
        Verb::Run { file, now } => run_file(&db, programme, &file, now.as_deref(), json),
        Verb::Export { format, output } => {
            let mut s = Session::open(&db, programme)?;
            let events = s.all_events()?;
            let format: grantflow_export::Format = format
                .parse()
                .map_err(|e: grantflow_export::ExportError| CliError::usage(e.to_string()))?;
            let text = grantflow_export::export(format, s.state(), &events, &s.refs, Utc::now())
                .map_err(CliError::from)?;
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
        Verb::Serve {
            addr,
            tokens,
            audit,
            smtp,
            smtp_security,
            mail_from,
            trusted_proxies,
        } => serve::serve(
            &db,
            &serve::Options {
                addr,
                tokens,
                audit,
                smtp,
                smtp_security,
                mail_from,
                trusted_proxies,
            },
        ),
        Verb::User(UserVerb::Add {
            email,
            role,
            base_url,
        }) => serve::user_add(&db, &email, &role, &base_url),
        Verb::Token(TokenVerb::Add {
            name,
            role,
            email,
            tokens,
        }) => serve::token_add(&tokens, &name, &role, email.as_deref()),
        Verb::Demo { applicants, seed } => {
            let db = cli
                .db
                .clone()
                .unwrap_or_else(|| demo::DEFAULT_DEMO_DB.to_string());
            demo::run(&db, applicants, seed, json)
        }
    }
}

/// Refuses a flag that the verb would ignore: `--db` given on the command
/// line to a verb that opens no database, `--programme` to one that uses
/// no programme of it, `--json` where the output cannot be JSON, and
/// `init --print`'s companions that only opening uses. (`--json` on a verb
/// whose output is JSON anyway, `schema` or a 360Giving export, keeps its
/// promise and is taken; `GRANTFLOW_DB` in the environment is never refused.)
fn refuse_flags_that_do_not_apply(cli: &Cli) -> CliResult<()> {
    let not_applying = |flag: &str, verb: &str, why: &str| {
        let help = verb.split_whitespace().next().unwrap_or(verb);
        let mut e = CliError::usage(format!(
            "{flag} does not apply to `{verb}`: {why}; see `grantflow {help} --help`"
        ));
        e.kind = "bad_usage";
        Err(e)
    };
    let db = cli.db_given;
    let programme = cli.programme.is_some();
    match &cli.verb {
        Verb::Schema { .. } if db => not_applying(
            "--db",
            "schema",
            "the schemas are the same for every database",
        ),
        Verb::Schema { .. } if programme => not_applying(
            "--programme",
            "schema",
            "the schemas are the same for every programme",
        ),
        Verb::Simulate { .. } if db => not_applying(
            "--db",
            "simulate",
            "a scenario runs in memory and writes no database",
        ),
        Verb::Simulate { .. } if programme => not_applying(
            "--programme",
            "simulate",
            "a scenario names its rules (`[programme]` in the scenario file)",
        ),
        Verb::Demo { .. } if programme => not_applying(
            "--programme",
            "demo",
            "the demo always runs the preset healthcare-ce-2020",
        ),
        Verb::Export { format, .. } if cli.json && format.eq_ignore_ascii_case("csv") => {
            not_applying(
                "--json",
                "export",
                "a CSV export is CSV; use --format 360giving for JSON",
            )
        }
        Verb::Init {
            print: true,
            change,
            ..
        } => {
            if db {
                not_applying(
                    "--db",
                    "init --print",
                    "it prints the rules and opens no database",
                )
            } else if change.now.is_some() {
                not_applying(
                    "--now",
                    "init --print",
                    "it prints the rules and starts no clock",
                )
            } else if change.command_id.is_some() {
                not_applying(
                    "--command-id",
                    "init --print",
                    "it prints the rules and sends no command",
                )
            } else {
                Ok(())
            }
        }
        Verb::Serve { .. } if programme => not_applying(
            "--programme",
            "serve",
            "the server serves every programme of the database, each at /programmes/ID",
        ),
        Verb::Serve { .. } if cli.json => not_applying(
            "--json",
            "serve",
            "the server answers in JSON over HTTP and writes its audit lines as JSON",
        ),
        Verb::Token(_) if db => not_applying(
            "--db",
            "token add",
            "tokens are kept in the tokens file (--tokens), not in the database",
        ),
        Verb::Token(_) if programme => not_applying(
            "--programme",
            "token add",
            "a token is given a role, not a programme",
        ),
        Verb::Token(_) if cli.json => not_applying(
            "--json",
            "token add",
            "the secret is printed alone on one line, for a script to read",
        ),
        Verb::User(_) if programme => not_applying(
            "--programme",
            "user add",
            "an account is given a role over every programme, not one programme",
        ),
        Verb::User(_) if cli.json => not_applying(
            "--json",
            "user add",
            "the setup link is printed alone on one line, for a script to read",
        ),
        _ => Ok(()),
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

/// Opens a fresh engine over a backend for the demo.
pub fn fresh_engine(db: &str, programme: &Programme) -> CliResult<Engine<store::Backend>> {
    let backend = store::open_scratch(db)?;
    Engine::open(backend, ProgrammeId::new(&programme.id)).map_err(|e| CliError::engine(db, e))
}
