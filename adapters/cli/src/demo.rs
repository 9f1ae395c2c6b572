//! `grantflow demo`: the 2020 programme run end to end on a fresh SQLite
//! file with a seeded population of applicants.
//!
//! Each applicant is drawn with its answers and its behaviour (how fast it
//! answers an offer, whether it declines, lets the offer lapse or withdraws,
//! whether its self-assessment fails and whether it answers the feedback).
//! The driver walks the calendar one day at a time: the day's commands and
//! the evening tick go to the engine as one group commit.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use grantflow_core::{
    Action, Applicant, ApplicationId, Command, CommandId, CostRequest, Engine, Item, Milestone,
    Money, Programme, StageKind,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use serde_json::json;

use grantflow_dispatch::{DispatchConfig, Dispatcher, LogNotifier};
use grantflow_scenarios::{Answer, Behaviour, Population};

use crate::error::{CliError, CliResult};
use crate::report::{self, Refs};
use crate::store::Backend;

/// The demo database when `--db` is absent.
pub const DEFAULT_DEMO_DB: &str = "grantflow-demo.db";

/// One simulated applicant: its application and how it behaves.
#[derive(Debug, Clone)]
struct Plan {
    reference: String,
    id: ApplicationId,
    applicant: Applicant,
    request: CostRequest,
    arrival_day: i64,
    behaviour: Behaviour,
    /// Share of the covered consultancy the supplier invoices.
    invoice_share: Decimal,
    clawback: bool,
}

/// Draws `n` applicants from the 2020 population of `grantflow-scenarios`
/// (the same for the same seed), numbered HCE-0001… in arrival order.
fn population(n: usize, seed: u64) -> Vec<Plan> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let draws = Population::default_2020().draw(&mut rng, n);
    draws
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let reference = format!("HCE-{:04}", i + 1);
            Plan {
                id: ApplicationId::from_name(&reference),
                reference,
                applicant: d.applicant(),
                request: d.request,
                arrival_day: i64::from(d.arrival_minutes / (24 * 60)),
                behaviour: d.behaviour,
                invoice_share: Decimal::new(rng.random_range(85..=100), 2),
                clawback: rng.random_bool(0.01),
            }
        })
        .collect()
}

#[derive(Debug, Default, Clone, Copy)]
struct Track {
    stage: Option<StageKind>,
    since: i64,
    consultancy_claimed: bool,
    fee_claimed: bool,
    clawed: bool,
    accepted: i64,
}

fn time(day0: NaiveDate, day: i64, hour: u32) -> DateTime<Utc> {
    (day0 + Duration::days(day))
        .and_hms_opt(hour, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or_default()
}

fn share(amount: Money, s: Decimal) -> Money {
    Money::from_computed(amount.as_decimal() * s)
        .unwrap_or(amount)
        .min(amount)
}

/// Runs the demo and prints the summary.
pub fn run(db: &str, applicants: usize, seed: u64, json: bool) -> CliResult<()> {
    if applicants == 0 || applicants > 100_000 {
        return Err(CliError::usage("--applicants must be between 1 and 100000"));
    }
    if crate::store::is_postgres(db) {
        return Err(CliError::usage(
            "the demo writes a fresh SQLite file: give --db a file path, not a PostgreSQL URL",
        ));
    }
    if db != "memory:" {
        remove_db(Path::new(db))?;
    }
    let started = std::time::Instant::now();
    let programme = Programme::healthcare_cyber_essentials_2020();
    let mut engine = crate::verbs::fresh_engine(db, &programme)?;
    engine.store_mut().add_programme(&programme.id)?;
    let plans = population(applicants, seed);
    let refs: Refs = plans.iter().map(|p| (p.id, p.reference.clone())).collect();
    let pairs: Vec<_> = refs.iter().map(|(k, v)| (*k, v.clone())).collect();
    engine.store_mut().add_references(&programme.id, &pairs)?;
    let day0 = programme.opens.value;
    let exec =
        |engine: &mut Engine<Backend>, cmds: &[(Command, DateTime<Utc>)]| -> CliResult<usize> {
            let results = engine
                .execute_many(cmds)
                .map_err(|e| CliError::engine(db, e))?;
            Ok(results.iter().filter(|r| r.is_err()).count())
        };
    let open = Command::new(
        CommandId::from_name("demo-open"),
        Action::Open {
            programme: Box::new(programme.clone()),
        },
    );
    exec(&mut engine, &[(open, time(day0, 0, 8))])?;
    let mut arrivals: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, p) in plans.iter().enumerate() {
        arrivals.entry(p.arrival_day).or_default().push(i);
    }
    let mut track: HashMap<ApplicationId, Track> = HashMap::new();
    let mut rejected = 0usize;
    let mut seq = 0u64;
    let last_arrival = arrivals.keys().last().copied().unwrap_or(0);
    let mut day = 0i64;
    loop {
        let mut cmds: Vec<(Command, DateTime<Utc>)> = Vec::new();
        let mut next = |action: Action, hour: u32| {
            seq += 1;
            (
                Command::new(CommandId::from_name(&format!("demo-{seed}-{seq}")), action),
                time(day0, day, hour),
            )
        };
        for &i in arrivals.get(&day).map(Vec::as_slice).unwrap_or(&[]) {
            let p = &plans[i];
            cmds.push(next(
                Action::Submit {
                    application: p.id,
                    applicant: Arc::new(p.applicant.clone()),
                    request: p.request.clone(),
                },
                9,
            ));
        }
        let state = engine.state();
        for p in &plans {
            let Some(app) = state.application(&p.id) else {
                continue;
            };
            let kind = app.stage().kind();
            let t = track.entry(p.id).or_default();
            if t.stage != Some(kind) {
                *t = Track {
                    stage: Some(kind),
                    since: day,
                    ..*t
                };
            }
            let waited = day - t.since;
            let id = p.id;
            let b = &p.behaviour;
            let days = |d: u16| i64::from(d);
            if kind == StageKind::Awarded && waited == 0 {
                t.accepted = day;
            }
            let live_award = matches!(
                kind,
                StageKind::Awarded
                    | StageKind::ConsultancyEngaged
                    | StageKind::SelfAssessmentSubmitted
                    | StageKind::FeedbackDue
            );
            let withdraw = |why: &str| Action::Withdraw {
                application: id,
                reason: why.to_string(),
            };
            let action = match kind {
                StageKind::Waitlisted
                    if b.waitlist_patience_days.is_some_and(|d| waited == days(d)) =>
                {
                    Some(withdraw("tired of waiting for funds"))
                }
                _ if live_award && b.withdraw_days.is_some_and(|d| day - t.accepted == days(d)) => {
                    Some(withdraw("the business no longer needs certification"))
                }
                StageKind::Offered if waited == days(b.answer_days) => match b.answer {
                    Answer::Accept => Some(Action::Accept { application: id }),
                    Answer::Decline => Some(Action::Decline { application: id }),
                    Answer::Ignore => None,
                },
                StageKind::Awarded if waited == days(b.engage_days) => Some(Action::Milestone {
                    application: id,
                    milestone: Milestone::ConsultancyEngaged,
                }),
                StageKind::ConsultancyEngaged
                    if !b.never_finish && waited == days(b.prepare_days) =>
                {
                    Some(Action::Milestone {
                        application: id,
                        milestone: Milestone::SelfAssessmentSubmitted,
                    })
                }
                StageKind::SelfAssessmentSubmitted if !t.consultancy_claimed && waited == 0 => {
                    t.consultancy_claimed = true;
                    let amount = share(app.payable(Item::Consultancy), p.invoice_share);
                    (!amount.is_zero()).then(|| Action::Claim {
                        application: id,
                        item: Item::Consultancy,
                        invoice_ref: format!("{}-CONS", p.reference),
                        amount,
                    })
                }
                StageKind::SelfAssessmentSubmitted if waited == days(b.marking_days).max(1) => {
                    let second = matches!(app.stage(), grantflow_core::Stage::SelfAssessmentSubmitted { attempt, .. } if attempt >= 2);
                    let pass = if second { b.second_pass } else { b.first_pass };
                    Some(Action::Milestone {
                        application: id,
                        milestone: if pass {
                            Milestone::AssessmentPassed
                        } else {
                            Milestone::AssessmentFailed
                        },
                    })
                }
                StageKind::FeedbackDue if waited == 1 && b.answers_feedback => {
                    Some(Action::Milestone {
                        application: id,
                        milestone: Milestone::SelfAssessmentSubmitted,
                    })
                }
                StageKind::Certified
                    if !t.fee_claimed && waited == days(b.invoice_days).clamp(1, 6) =>
                {
                    t.fee_claimed = true;
                    let amount = app.payable(Item::CertificationFee);
                    (!amount.is_zero()).then(|| Action::Claim {
                        application: id,
                        item: Item::CertificationFee,
                        invoice_ref: format!("{}-FEE", p.reference),
                        amount,
                    })
                }
                StageKind::Certified if waited == 7 => Some(Action::Complete { application: id }),
                StageKind::Completed
                    if p.clawback
                        && !t.clawed
                        && waited == 30
                        && !app.account().paid().is_zero() =>
                {
                    t.clawed = true;
                    let amount = share(app.account().net_paid(), Decimal::new(25, 2));
                    (!amount.is_zero()).then(|| Action::Clawback {
                        application: id,
                        amount,
                        reason: "consultancy invoice overstated the days worked".into(),
                    })
                }
                _ => None,
            };
            if let Some(a) = action {
                cmds.push(next(a, 11));
            }
        }
        cmds.push(next(Action::Tick, 18));
        rejected += exec(&mut engine, &cmds)?;
        day += 1;
        let state = engine.state();
        let live = state.applications().values().any(|a| {
            let k = a.stage().kind();
            !(k.is_final() || k == StageKind::Waitlisted)
                || (k == StageKind::Completed && plans_clawback_pending(&plans, &track, a.id()))
        });
        if (day > last_arrival && !live) || day > 730 {
            break;
        }
    }
    let last_day = day0 + Duration::days(day);
    // Notices: the outbox dispatcher delivers every pending one to a log notifier.
    let events = {
        let programme_id = engine.programme().clone();
        let mut all = Vec::new();
        loop {
            let page = grantflow_core::EventStore::load(
                engine.store_mut(),
                &programme_id,
                all.len() as u64,
                10_000,
            )
            .map_err(|e| CliError::store(db, &e))?;
            let n = page.len();
            all.extend(page);
            if n < 10_000 {
                break all;
            }
        }
    };
    let state = engine.state().clone();
    let store = engine.into_store();
    let mut dispatcher = Dispatcher::new(
        store,
        LogNotifier::new(Vec::new()),
        DispatchConfig::default(),
    )
    .map_err(|e| CliError::usage(format!("cannot start the notice dispatcher: {e}")))?;
    let drained = dispatcher
        .drain()
        .map_err(|e| CliError::usage(format!("database `{db}`: delivering notices failed: {e}")))?;
    let (_, log, _) = dispatcher.into_parts();
    let log = String::from_utf8_lossy(&log.into_inner()).to_string();
    let mut delivered: BTreeMap<String, usize> = BTreeMap::new();
    for line in log.lines() {
        if let Some(t) = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("template="))
        {
            *delivered.entry(t.to_string()).or_default() += 1;
        }
    }
    let samples: Vec<String> = log
        .lines()
        .take(3)
        .map(|l| format!("  {}", l.chars().take(160).collect::<String>()))
        .collect();
    let notices = drained.delivered;
    // The 360Giving file beside the database.
    let state = &state;
    let export_path = export_path(db);
    let package = grantflow_export::package(
        state,
        &events,
        &refs,
        last_day
            .and_hms_opt(18, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or_default(),
    )?;
    if let Some(p) = &export_path {
        std::fs::write(
            p,
            serde_json::to_string_pretty(&package).unwrap_or_default(),
        )
        .map_err(|e| CliError::usage(format!("cannot write `{}`: {e}", p.display())))?;
    }
    let count = |f: &dyn Fn(StageKind) -> bool| {
        state
            .applications()
            .values()
            .filter(|a| f(a.stage().kind()))
            .count()
    };
    let funded_ids = report::funded(&events);
    let funded = funded_ids.len();
    let certified = count(&|k| report::reached_certificate(k));
    let ledger = report::ledger_json(state, &funded_ids);
    let summary = json!({
        "database": db,
        "export_360giving": export_path.as_ref().map(|p| p.display().to_string()),
        "seed": seed,
        "applicants": applicants,
        "period": {"from": day0, "to": last_day},
        "submitted": state.applications().len(),
        "ineligible": count(&|k| k == StageKind::Ineligible),
        "funded": funded,
        "certified": certified,
        "completed": count(&|k| k == StageKind::Completed),
        "failed": count(&|k| k == StageKind::Failed),
        "declined": count(&|k| k == StageKind::Declined),
        "lapsed": count(&|k| k == StageKind::Lapsed),
        "withdrawn": count(&|k| k == StageKind::Withdrawn),
        "waitlist_left": state.waitlist().len(),
        "rejected_commands": rejected,
        "events": state.version(),
        "notices_delivered": notices,
        "notices_by_template": delivered,
        "ledger": ledger,
        "seconds": started.elapsed().as_secs_f64(),
    });
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
        return Ok(());
    }
    let pot = &state.pot();
    let p = &programme;
    outln!(
        "{} — demo run with {} seeded applicants (seed {seed})",
        p.name,
        applicants
    );
    outln!(
        "simulated {} to {}: {} events, {} commands refused by the rules",
        day0,
        last_day,
        state.version(),
        rejected
    );
    outln!();
    outln!(
        "notices delivered to the log: {notices} (by template: {})",
        delivered
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for s in &samples {
        outln!("{s}");
    }
    outln!();
    let mut t = report::table(&["outcome", "firms"]);
    for (k, v) in [
        ("applications received", state.applications().len()),
        ("not eligible", count(&|k| k == StageKind::Ineligible)),
        ("funded (offer accepted)", funded),
        ("certified", certified),
        (
            "completed and closed",
            count(&|k| k == StageKind::Completed),
        ),
        ("failed certification", count(&|k| k == StageKind::Failed)),
        (
            "declined / lapsed offers",
            count(&|k| k == StageKind::Declined || k == StageKind::Lapsed),
        ),
        ("withdrawn", count(&|k| k == StageKind::Withdrawn)),
        ("still on the waitlist", state.waitlist().len()),
    ] {
        t.add_row(vec![k.to_string(), v.to_string()]);
    }
    outln!("{t}");
    let used = pot.net_paid();
    let share_used = if pot.credits().is_zero() {
        Decimal::ZERO
    } else {
        (used.as_decimal() * Decimal::ONE_HUNDRED / pot.credits().as_decimal()).round_dp(1)
    };
    outln!(
        "pot {}: paid {} (gross), recovered {}, net paid {} ({share_used}% of credits), released back {}, still reserved {}, available {}",
        pot.credits().display_pounds(),
        pot.paid().display_pounds(),
        pot.recovered().display_pounds(),
        used.display_pounds(),
        pot.released().display_pounds(),
        pot.reserved().display_pounds(),
        pot.available().display_pounds()
    );
    outln!(
        "{}",
        report::ledger_text(state, &funded_ids)
            .lines()
            .skip_while(|l| !l.starts_with("credits ="))
            .collect::<Vec<_>>()
            .join("\n")
    );
    outln!();
    outln!("database:  {db}  (try: grantflow --db {db} status --state failed)");
    if let Some(p) = &export_path {
        outln!("360Giving: {}", p.display());
    }
    outln!("took {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn plans_clawback_pending(
    plans: &[Plan],
    track: &HashMap<ApplicationId, Track>,
    id: ApplicationId,
) -> bool {
    plans.iter().any(|p| p.id == id && p.clawback)
        && track
            .get(&id)
            .is_some_and(|t| !t.clawed && t.stage == Some(StageKind::Completed))
}

fn export_path(db: &str) -> Option<PathBuf> {
    if db == "memory:" {
        return None;
    }
    let p = Path::new(db);
    let stem = p
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "grantflow-demo".into());
    Some(p.with_file_name(format!("{stem}-360giving.json")))
}

/// Removes a previous demo database and its WAL files.
fn remove_db(path: &Path) -> CliResult<()> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let p = PathBuf::from(format!("{}{suffix}", path.display()));
        if p.is_dir() {
            return Err(CliError::usage(format!(
                "`{}` is a directory: give --db a file path",
                p.display()
            )));
        }
        if p.exists() {
            std::fs::remove_file(&p)
                .map_err(|e| CliError::usage(format!("cannot replace `{}`: {e}", p.display())))?;
        }
    }
    Ok(())
}
