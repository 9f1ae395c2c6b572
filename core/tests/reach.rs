//! How far the generated histories reach: the paths a history generator
//! must take for the property and model tests to mean something, counted
//! over 1,000 histories of [`strategies::history`], and the rejection codes
//! the refusals on those paths carry.
//!
//! The table is printed on every run; `cargo test -p grantflow-core
//! --all-features --test reach -- --nocapture` shows it when the test
//! passes (it is also written to stderr, which `cargo test` shows when it
//! fails).

use std::collections::BTreeSet;

use grantflow_core::*;
use grantflow_testkit::strategies::{Run, Step, history};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// Applications submitted at the opening of each history.
const APPS: usize = 8;
/// Steps after the opening, at most.
const LEN: usize = 60;
/// Histories counted.
const HISTORIES: usize = 1_000;
/// The least share of histories each path must be reached in, in percent.
const LEAST_PERCENT: usize = 5;

/// A path through the rules that a history may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Path {
    /// An eligible application under a fresh id, after the opening, into a
    /// pot with money reserved or paid.
    LateSubmission,
    /// A clawback accepted on a completed award.
    ClawbackAfterCompletion,
    /// A claim refused as a duplicate: its invoice was paid before.
    DuplicateInvoice,
    /// A first Plus audit failed.
    PlusAuditFailed,
    /// A Plus audit booked again after the first failed.
    PlusRetest,
    /// The second Plus audit failed.
    PlusSecondFailure,
    /// A self-assessment submitted again after a failed assessment.
    Resubmission,
    /// An application waitlisted on arrival because its sector's ring-fence
    /// is full, while the pot (less the contingency) had room for it.
    FullRingFence,
    /// An application waitlisted on arrival because the contingency binds:
    /// the pot holds its award, but not beside the contingency.
    BindingContingency,
    /// A top-up that offered waitlisted applications.
    ReofferAfterTopUp,
}

impl Path {
    const ALL: [Path; 10] = [
        Path::LateSubmission,
        Path::ClawbackAfterCompletion,
        Path::DuplicateInvoice,
        Path::PlusAuditFailed,
        Path::PlusRetest,
        Path::PlusSecondFailure,
        Path::Resubmission,
        Path::FullRingFence,
        Path::BindingContingency,
        Path::ReofferAfterTopUp,
    ];

    fn describe(self) -> &'static str {
        match self {
            Path::LateSubmission => "late submission into a part-spent pot",
            Path::ClawbackAfterCompletion => "clawback after completion",
            Path::DuplicateInvoice => "duplicate invoice after an accepted claim",
            Path::PlusAuditFailed => "Plus audit failure",
            Path::PlusRetest => "Plus re-test",
            Path::PlusSecondFailure => "second Plus failure",
            Path::Resubmission => "resubmission after a failed assessment",
            Path::FullRingFence => "full ring-fence",
            Path::BindingContingency => "binding contingency",
            Path::ReofferAfterTopUp => "re-offer after a top-up",
        }
    }
}

/// Whether the application waitlisted in `after` waits for its
/// ring-fence (`fence`) or for the contingency (otherwise).
fn waits_for(after: &State, application: &ApplicationId, fence: bool) -> bool {
    let (Some(p), Some(app)) = (after.programme(), after.application(application)) else {
        return false;
    };
    let award = app.award().pence();
    let available = after.pot().available().pence();
    let keep = p.allocation.contingency.value.pence();
    if !fence {
        return available >= award && available - keep < award;
    }
    let cap = app.sector().and_then(|s| {
        let id = &p.sectors.get(usize::from(s))?.id;
        let rf = p
            .allocation
            .ring_fences
            .iter()
            .find(|rf| &rf.sector == id)?;
        let used = after.sectors().get(usize::from(s))?.committed().pence();
        Some((used, rf.cap.pence()))
    });
    cap.is_some_and(|(used, cap)| used + award > cap && available - keep >= award)
}

/// Adds the paths one command reached to `out`: `late` when it comes after
/// the opening submissions, `before` the state it was decided on, `after`
/// the state it left.
fn reached(
    late: bool,
    before: &State,
    command: &Command,
    outcome: &Result<Vec<Event>, Rejection>,
    after: &State,
    out: &mut BTreeSet<Path>,
) {
    let events = match outcome {
        Ok(events) => events.as_slice(),
        Err(r) => {
            if r.code == RejectionCode::DuplicateInvoice {
                out.insert(Path::DuplicateInvoice);
            }
            return;
        }
    };
    for e in events {
        match &e.kind {
            EventKind::PlusAuditFailed { .. } => {
                out.insert(Path::PlusAuditFailed);
            }
            EventKind::PlusAuditBooked { attempt: 2, .. } => {
                out.insert(Path::PlusRetest);
            }
            EventKind::PlusNotAchieved {
                reason: PlusEnd::SecondFail,
                ..
            } => {
                out.insert(Path::PlusSecondFailure);
            }
            EventKind::SelfAssessmentSubmitted { attempt: 2, .. } => {
                out.insert(Path::Resubmission);
            }
            _ => {}
        }
    }
    let pot = before.pot();
    match &command.action {
        Action::Submit { application, .. } if before.application(application).is_none() => {
            let judged = events.iter().any(|e| {
                matches!(e.kind, EventKind::Offered { application: a, .. } | EventKind::Waitlisted { application: a } if a == *application)
            });
            if late && judged && !(pot.reserved().is_zero() && pot.paid().is_zero()) {
                out.insert(Path::LateSubmission);
            }
            let waitlisted = events.iter().any(
                |e| matches!(e.kind, EventKind::Waitlisted { application: a } if a == *application),
            );
            if waitlisted && waits_for(after, application, true) {
                out.insert(Path::FullRingFence);
            }
            if waitlisted && waits_for(after, application, false) {
                out.insert(Path::BindingContingency);
            }
        }
        Action::Clawback { application, .. }
            if before
                .application(application)
                .is_some_and(|a| a.stage().kind() == StageKind::Completed)
                && !events.is_empty() =>
        {
            out.insert(Path::ClawbackAfterCompletion);
        }
        Action::TopUp { .. }
            if events
                .iter()
                .any(|e| matches!(e.kind, EventKind::Offered { .. })) =>
        {
            out.insert(Path::ReofferAfterTopUp);
        }
        _ => {}
    }
}

/// The paths one history reaches.
fn paths_of(programme: Programme, steps: &[Step]) -> BTreeSet<Path> {
    let mut run = Run::open(programme);
    let mut out = BTreeSet::new();
    for (i, step) in steps.iter().enumerate() {
        let before = run.state.clone();
        let Some(command) = run.command(step) else {
            continue;
        };
        let outcome = run.execute(command.clone());
        reached(i >= APPS, &before, &command, &outcome, &run.state, &mut out);
    }
    out
}

/// Given 1,000 histories drawn from a fixed seed, when each is run through
/// the core, then every path is reached in at least 5% of them (the table
/// of counts is printed either way).
#[test]
fn every_path_is_reached_in_at_least_one_history_in_twenty() {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let strategy = history(APPS, LEN);
    let mut counts = [0usize; Path::ALL.len()];
    for _ in 0..HISTORIES {
        let (programme, steps) = strategy
            .new_tree(&mut runner)
            .expect("a history is drawn")
            .current();
        for path in paths_of(programme, &steps) {
            // `Path::ALL` lists the paths in declaration order.
            counts[path as usize] += 1;
        }
    }
    let mut table = format!("{:<44} {:>9} {:>7}\n", "path", "histories", "share");
    let mut short = Vec::new();
    for (path, count) in Path::ALL.iter().zip(counts) {
        table.push_str(&format!(
            "{:<44} {:>9} {:>6.1}%\n",
            path.describe(),
            count,
            count as f64 * 100.0 / HISTORIES as f64
        ));
        if count * 100 < LEAST_PERCENT * HISTORIES {
            short.push(path.describe());
        }
    }
    println!("paths reached over {HISTORIES} histories:\n{table}");
    eprintln!("paths reached over {HISTORIES} histories:\n{table}");
    assert!(
        short.is_empty(),
        "reached in fewer than {LEAST_PERCENT}% of the histories: {}\n{table}",
        short.join(", ")
    );
}

/// The code a command must be refused with on `before`, where the rule
/// that refuses it is plain from the state: an application id taken, an
/// unknown application, a paid invoice claimed again, a clawback before
/// closing or above the net paid, a Plus milestone with no funded Plus
/// audit, an offer answered when none is open, a completion before
/// certification.
fn expected_refusal(before: &State, command: &Command) -> Option<RejectionCode> {
    use RejectionCode as Code;
    let id = command.action.application()?;
    let Some(app) = before.application(&id) else {
        let submit = matches!(command.action, Action::Submit { .. });
        return (!submit).then_some(Code::UnknownApplication);
    };
    let kind = app.stage().kind();
    let closed = matches!(
        kind,
        StageKind::Completed | StageKind::Failed | StageKind::Withdrawn
    );
    match &command.action {
        Action::Submit { .. } => Some(Code::DuplicateApplication),
        Action::Claim {
            invoice_ref, item, ..
        } if before.invoices().contains_key(invoice_ref)
            && kind.is_funded()
            && kind != StageKind::Completed
            && !app.item_paid(*item).is_zero() =>
        {
            // A live award that was paid for this item reached the item's
            // milestone (stages only move on), so the invoice is what refuses it.
            Some(Code::DuplicateInvoice)
        }
        Action::Clawback { .. } if !closed => Some(Code::NotCompleted),
        Action::Clawback { amount, .. } if *amount > app.account().net_paid() => {
            Some(Code::ClawbackExceedsPaid)
        }
        Action::Milestone {
            milestone:
                Milestone::PlusAuditBooked | Milestone::PlusAuditPassed | Milestone::PlusAuditFailed,
            ..
        } if app.stage() == Stage::Certified { plus_by: None } => Some(Code::PlusNotFunded),
        Action::Accept { .. } | Action::Decline { .. } if kind != StageKind::Offered => {
            Some(Code::IllegalTransition)
        }
        Action::Complete { .. }
            if !matches!(
                kind,
                StageKind::Certified | StageKind::PlusCertified | StageKind::PlusNotAchieved
            ) =>
        {
            Some(Code::IllegalTransition)
        }
        _ => None,
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Given a generated history, when each step is decided, then every
    /// command the state plainly refuses (see `expected_refusal`) is refused
    /// with that code, and a paid invoice claimed again is refused as a
    /// duplicate whenever its award is still live.
    #[test]
    fn refusals_on_the_paths_carry_the_expected_codes((programme, steps) in history(APPS, LEN)) {
        let mut run = Run::open(programme);
        for step in &steps {
            let before = run.state.clone();
            let Some(command) = run.command(step) else { continue };
            let outcome = run.execute(command.clone());
            if before.commands().contains_key(&command.id) {
                // A repeat: answered with the first outcome.
                continue;
            }
            if let Some(code) = expected_refusal(&before, &command) {
                prop_assert_eq!(
                    outcome.as_ref().err().map(|r| r.code),
                    Some(code),
                    "{:?} on {:?}",
                    command.action,
                    before.application(&command.action.application().expect("an application")).map(|a| a.stage())
                );
            }
        }
    }
}
