//! The model-based check: the core and a deliberately plain reference
//! [`Model`] run side by side over a history of [`Step`]s and are compared
//! after every command ([`check_history`]).
//!
//! What is compared: the same commands accepted and the same refused (by
//! rejection code), the same offers in the same order with the same amounts
//! and windows, the same lapses, the same pot figures, and the same
//! applications (covered items, award, stage and its deadlines, account)
//! and waitlist.
//!
//! ```
//! use grantflow_testkit::model::check_history;
//! use grantflow_testkit::strategies::history;
//! use proptest::test_runner::TestRunner;
//!
//! let mut runner = TestRunner::default();
//! runner
//!     .run(&history(4, 20), |(programme, steps)| {
//!         check_history(programme, &steps).map(|_| ())
//!     })
//!     .unwrap();
//! ```

mod reference;

pub use reference::{App, Model, Offer, Outcome, Pot, Stage as ModelStage};

use chrono::{DateTime, Utc};
use grantflow_core::{
    ApplicationId, Event, EventKind, Item, Money, Programme, Rejection, RejectionCode, Stage, State,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::invariants::assert_invariants;
use crate::strategies::{Run, Step};

/// A core stage's name and its times, as the model describes its own.
fn described(stage: Stage) -> (&'static str, Vec<DateTime<Utc>>) {
    let times = match stage {
        Stage::Offered { expires } => vec![expires],
        Stage::Awarded { pass_by }
        | Stage::ConsultancyEngaged { pass_by }
        | Stage::SelfAssessmentSubmitted { pass_by, .. } => vec![pass_by],
        Stage::PlusAuditBooked { plus_by, .. } => vec![plus_by],
        Stage::FeedbackDue {
            pass_by,
            respond_by,
        } => vec![pass_by, respond_by],
        Stage::Certified { plus_by } => plus_by.into_iter().collect(),
        Stage::PlusRetest { plus_by, retest_by } => vec![plus_by, retest_by],
        _ => vec![],
    };
    (stage.kind().as_str(), times)
}

/// The offers and lapses among a command's events.
fn outcome_of(events: &[Event]) -> Outcome {
    let mut out = Outcome::default();
    for e in events {
        match &e.kind {
            EventKind::Offered {
                application,
                amount,
                expires,
            } => out.offers.push(Offer {
                application: *application,
                amount: amount.pence(),
                at: e.at,
                expires: *expires,
            }),
            EventKind::Lapsed {
                application,
                released,
            } => out.lapses.push((*application, released.pence())),
            _ => {}
        }
    }
    out
}

/// The core's state and answer against the model's, after one command.
fn compare(
    what: &str,
    core: &Result<Vec<Event>, Rejection>,
    state: &State,
    ours: &Result<Outcome, RejectionCode>,
    model: &Model,
) -> Result<(), TestCaseError> {
    let verdict = core.as_ref().map(|_| ()).map_err(|r| r.code);
    prop_assert_eq!(
        verdict,
        ours.as_ref().map(|_| ()).map_err(|c| *c),
        "{}: accepted or refused (core: {:?})",
        what,
        core.as_ref().err()
    );
    if let (Ok(events), Ok(outcome)) = (core, ours) {
        let theirs = outcome_of(events);
        prop_assert_eq!(&theirs.offers, &outcome.offers, "{}: offers", what);
        prop_assert_eq!(&theirs.lapses, &outcome.lapses, "{}: lapses", what);
    }
    let pot = state.pot();
    let figures = Pot {
        credits: pot.credits().pence(),
        available: pot.available().pence(),
        reserved: pot.reserved().pence(),
        paid: pot.paid().pence(),
        released: pot.released().pence(),
        recovered: pot.recovered().pence(),
    };
    prop_assert_eq!(figures, model.pot, "{}: the pot", what);
    prop_assert_eq!(
        state.applications().len(),
        model.apps.len(),
        "{}: applications",
        what
    );
    for (app, ours) in state.applications().values().zip(&model.apps) {
        prop_assert_eq!(app.id(), ours.id, "{}: arrival order", what);
        let items = app.coverage().map(|c| Item::ALL.map(|i| c.item(i).pence()));
        prop_assert_eq!(items, ours.items, "{}: covered items of {}", what, ours.id);
        prop_assert_eq!(
            app.award().pence(),
            ours.award,
            "{}: award of {}",
            what,
            ours.id
        );
        prop_assert_eq!(
            described(app.stage()),
            ours.stage.described(),
            "{}: stage of {}",
            what,
            ours.id
        );
        let a = app.account();
        prop_assert_eq!(
            [
                a.reserved_at_award(),
                a.outstanding(),
                a.paid(),
                a.recovered(),
                a.released()
            ]
            .map(Money::pence),
            [
                ours.reserved_at_award,
                ours.outstanding,
                ours.paid,
                ours.recovered,
                ours.released
            ],
            "{}: account of {}",
            what,
            ours.id
        );
    }
    let waiting: Vec<ApplicationId> = state.waitlist().iter().map(|(_, id)| id).collect();
    let ours: Vec<ApplicationId> = model.waitlist.iter().map(|i| model.apps[*i].id).collect();
    prop_assert_eq!(waiting, ours, "{}: the waitlist", what);
    Ok(())
}

/// Runs one history through the core and the model, comparing after every
/// command and checking the ledger's invariants; returns how many commands
/// were compared. A disagreement is a [`TestCaseError`] naming the step,
/// its instant, its command and the figure that differs.
pub fn check_history(programme: Programme, steps: &[Step]) -> Result<u64, TestCaseError> {
    let mut commands = 0;
    let mut model = Model::open(&programme);
    let mut run = Run::open(programme);
    for (n, step) in steps.iter().enumerate() {
        let Some(command) = run.command(step) else {
            continue;
        };
        let core = run.execute(command.clone());
        let ours = model.decide(&command, run.now);
        let what = format!("step {n} at {} ({:?})", run.now, command.action);
        compare(&what, &core, &run.state, &ours, &model)?;
        assert_invariants(&run.state);
        commands += 1;
    }
    Ok(commands)
}
