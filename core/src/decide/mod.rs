//! Command handling: [`decide`] turns a [`Command`] and the [`State`] into
//! the events to record, or a [`Rejection`]. It is pure: no I/O, no clock
//! (time is the `now` argument), and the state is only read.
//!
//! The allocation policy lives here: submissions are judged in arrival
//! order; an eligible application is offered its award when
//! `available - contingency >= amount` and its sector's ring-fence has room,
//! otherwise it is waitlisted; every release re-offers the waitlist in
//! arrival order (`skip_ahead` passes over what does not fit, `strict`
//! stops there).
//!
//! Here: [`decide`] itself (ids, time, the deadlines due first) and the
//! dispatch to one function per command. `commands` holds those functions
//! for the commands that move money or end an award, `milestones` the
//! certification milestones and their transitions, `draft` the scratch
//! copy of the pot they write into, and `tick` the deadlines that fire.

use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, Months, Utc};

mod commands;
mod draft;
mod milestones;
mod tick;

use commands::{accept, claim, clawback, complete, decline, open, submit, top_up, withdraw};
use draft::Draft;
use milestones::{add_months, illegal, milestone_events};
use tick::tick;

use crate::ledger::money::Money;
use crate::messages::command::{Action, Command, Origin};
use crate::messages::event::{Event, EventKind, FailureReason, PlusEnd};
use crate::messages::ids::{ApplicationId, CommandId};
use crate::messages::rejection::{Rejection, RejectionCode as Code};
use crate::rules::applicant::{Applicant, CostRequest, FieldProblem};
use crate::rules::coverage::{self, Item};
use crate::rules::eligibility;
use crate::rules::programme::{Programme, WaitlistPolicy, add_working_days};
use crate::state::lifecycle::{Milestone, Stage, StageKind, TRANSITIONS, Trigger};
use crate::state::{Application, State, evolve_scratch};

/// Decides what `command` does to `state` at `now`.
///
/// Time binds at every command: the deadlines due at `now` fire first,
/// exactly as a [`Action::Tick`] at `now` would fire them (same order, same
/// re-offers), and the command is then decided on the state they leave. When
/// the command is accepted, the deadline events come first in the result
/// and the command's own follow; when it is refused, nothing is recorded and
/// the rejection names the deadline that passed, if one did.
///
/// A command whose id is in [`State::commands`] returns no events (it was
/// applied already; the record says where). A state folded from the first
/// event holds every command id; one loaded from a snapshot holds only the
/// tail's, and the [`Engine`](crate::Engine) asks its store about older ids
/// before deciding. A rejection leaves nothing to record.
pub fn decide(
    state: &State,
    command: &Command,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, Rejection> {
    decide_with(state, command, now, Vec::new())
}

/// The rejection of a command sent under an id first recorded with
/// `origin` (what it asked, and when) for another command; `None` when it
/// is the same command or the origin is unknown.
pub fn reused_id(command: &Command, origin: Option<(Origin, DateTime<Utc>)>) -> Option<Rejection> {
    let (first, at) = origin?;
    let asked = command.action.kind();
    let same = first.command == asked && first.digest.matches(&command.action);
    (!same).then(|| {
        let again = if first.command == asked {
            format!("another `{}` with different details", asked.as_str())
        } else {
            format!("a `{}`", asked.as_str())
        };
        Rejection::new(
            Code::CommandIdReused,
            format!(
                "command id {} was recorded at {at} for a `{}` command, and this is {again}: give this command a new id (sending the first command again under its id returns its first outcome)",
                command.id,
                first.command.as_str()
            ),
            "command_id",
        )
    })
}

/// [`decide`] into a buffer the caller keeps: `events` is cleared and then
/// holds the events to record (none on a rejection). A loop that decides
/// command after command reuses one buffer instead of allocating per command.
pub fn decide_into(
    state: &State,
    command: &Command,
    now: DateTime<Utc>,
    events: &mut Vec<Event>,
) -> Result<(), Rejection> {
    let mut buffer = std::mem::take(events);
    buffer.clear();
    *events = decide_with(state, command, now, buffer)?;
    Ok(())
}

/// [`decide`], filling `buffer` (empty on entry).
fn decide_with(
    state: &State,
    command: &Command,
    now: DateTime<Utc>,
    buffer: Vec<Event>,
) -> Result<Vec<Event>, Rejection> {
    if let Some(record) = state.commands.get(&command.id) {
        return match reused_id(command, record.origin) {
            Some(rejection) => Err(rejection),
            None => Ok(buffer),
        };
    }
    let mut events = decide_new(state, command, now, buffer)?;
    if let Some(first) = events.first_mut() {
        first.origin = Some(command.action.origin());
    }
    Ok(events)
}

/// [`decide`] for a command id not seen before.
fn decide_new(
    state: &State,
    command: &Command,
    now: DateTime<Utc>,
    mut buffer: Vec<Event>,
) -> Result<Vec<Event>, Rejection> {
    check_time(state, now)?;
    if let Action::Open { programme } = &command.action {
        open(state, command.id, programme, now, &mut buffer)?;
        return Ok(buffer);
    }
    let Some(p) = state.programme() else {
        return Err(Rejection::new(
            Code::NotOpened,
            "the programme is not open: send an `open` command with its rules first",
            "open",
        ));
    };
    if !state.deadlines.any_due(now) {
        // Nothing is due: the command is decided on the state as it is (a
        // tick records nothing).
        return decide_action(state, p, command, now, buffer);
    }
    let mut d = Draft::new(state, p, command.id, now, buffer);
    tick(&mut d);
    let mut events = d.events;
    if events.is_empty() {
        return decide_action(state, p, command, now, events);
    }
    if matches!(command.action, Action::Tick) {
        return Ok(events);
    }
    // The deadlines changed the state: decide the command on what they
    // leave (a copy that shares the command index, which is not asked again).
    let mut after = state.clone();
    for event in &events {
        evolve_scratch(&mut after, event).map_err(|e| {
            Rejection::new(
                Code::InconsistentState,
                format!(
                    "the deadlines due at {now} do not apply to the programme's state ({e}): the state is damaged, a defect to report with the programme's event log; nothing was recorded"
                ),
                "deadlines",
            )
        })?;
    }
    let p = after.programme().unwrap_or(p);
    match decide_action(&after, p, command, now, Vec::new()) {
        Ok(own) => {
            events.extend(own);
            Ok(events)
        }
        Err(mut rejection) => {
            if let Some(passed) = command
                .action
                .application()
                .and_then(|id| deadline_passed(state, &events, id))
            {
                rejection.message = format!("{passed}, before this command: {}", rejection.message);
            }
            Err(rejection)
        }
    }
}

/// Refuses a `now` outside the supported years or before the last event.
fn check_time(state: &State, now: DateTime<Utc>) -> Result<(), Rejection> {
    if !(1900..=9999).contains(&now.year()) {
        return Err(Rejection::new(
            Code::TimeOutOfRange,
            format!(
                "`now` {now} is outside the years 1900 to 9999: give the real time of the command"
            ),
            "now",
        ));
    }
    // chrono holds a leap second (23:59:60) as a nanosecond of 10^9 or more.
    if chrono::Timelike::nanosecond(&now) >= 1_000_000_000 {
        return Err(Rejection::new(
            Code::TimeOutOfRange,
            format!(
                "`now` {now} falls in a leap second: leap seconds are not accepted; give the next second (00 of the next minute)"
            ),
            "now",
        ));
    }
    if let Some(last) = state.last_at {
        if now < last {
            return Err(Rejection::new(
                Code::ClockWentBackwards,
                format!(
                    "`now` {now} is earlier than the last recorded event at {last}: commands must not go back in time"
                ),
                "now",
            ));
        }
    }
    Ok(())
}

/// The sentence naming the deadline that ended `application`'s stage among
/// the deadline `events` that fired before a command, read against the
/// `state` they fired on.
fn deadline_passed(state: &State, events: &[Event], application: ApplicationId) -> Option<String> {
    let stage = state.applications.get(&application)?.stage;
    events.iter().find_map(|e| match (&e.kind, stage) {
        (EventKind::Lapsed { application: a, .. }, Stage::Offered { expires })
            if *a == application =>
        {
            Some(format!("the offer to {application} lapsed at {expires}"))
        }
        (
            EventKind::CertificationFailed {
                application: a,
                reason,
                ..
            },
            _,
        ) if *a == application => Some(match (reason, stage) {
            (FailureReason::FeedbackWindowEnded, Stage::FeedbackDue { respond_by, .. }) => {
                format!("the feedback window of {application} closed at {respond_by}")
            }
            (FailureReason::PassWindowEnded, stage) => match stage.pass_by() {
                Some(by) => format!("the pass window of {application} closed at {by}"),
                None => format!("the pass window of {application} closed"),
            },
            _ => format!("application {application} failed certification"),
        }),
        (EventKind::PlusNotAchieved { application: a, .. }, stage) if *a == application => {
            Some(match stage {
                Stage::PlusRetest { retest_by, .. } => {
                    format!("the Plus re-test window of {application} closed at {retest_by}")
                }
                Stage::Certified { plus_by: Some(by) }
                | Stage::PlusAuditBooked { plus_by: by, .. } => {
                    format!("the Cyber Essentials Plus window of {application} closed at {by}")
                }
                _ => format!("the Cyber Essentials Plus window of {application} closed"),
            })
        }
        _ => None,
    })
}

fn decide_action(
    state: &State,
    p: &Programme,
    command: &Command,
    now: DateTime<Utc>,
    buffer: Vec<Event>,
) -> Result<Vec<Event>, Rejection> {
    let mut d = Draft::new(state, p, command.id, now, buffer);
    match &command.action {
        Action::Open { .. } => {} // decided before any deadline
        Action::TopUp { amount, note } => top_up(&mut d, *amount, note)?,
        Action::Submit {
            application,
            applicant,
            request,
        } => submit(&mut d, *application, applicant, request)?,
        Action::Accept { application } => accept(&mut d, *application)?,
        Action::Decline { application } => decline(&mut d, *application)?,
        Action::Withdraw {
            application,
            reason,
        } => withdraw(&mut d, *application, reason)?,
        Action::Milestone {
            application,
            milestone,
        } => {
            let app = d.app(application)?;
            milestone_events(&mut d, app, *milestone)?;
        }
        Action::Claim {
            application,
            item,
            invoice_ref,
            amount,
        } => claim(&mut d, *application, *item, invoice_ref, *amount)?,
        Action::Complete { application } => complete(&mut d, *application)?,
        Action::Clawback {
            application,
            amount,
            reason,
        } => clawback(&mut d, *application, *amount, reason)?,
        Action::Tick => tick(&mut d),
    }
    Ok(d.events)
}

#[cfg(test)]
mod tests {
    mod ticks {
        use std::sync::Arc;

        use chrono::{DateTime, Duration, Utc};
        use proptest::prelude::*;

        use crate::decide::{Draft, decide, tick};
        use crate::messages::command::{Action, Command};
        use crate::messages::event::Event;
        use crate::messages::ids::{ApplicationId, CommandId};
        use crate::state::lifecycle::Milestone;
        use crate::state::{State, evolve};
        use crate::testing::fixtures;

        fn app_id(n: u8) -> ApplicationId {
            ApplicationId::new(uuid::Uuid::from_u128(u128::from(n) + 1))
        }

        /// A tick the general way: every due deadline looked at.
        fn tick_the_long_way(state: &State, command: &Command, now: DateTime<Utc>) -> Vec<Event> {
            let p = state.programme().expect("open");
            let mut d = Draft::new(state, p, command.id, now, Vec::new());
            tick(&mut d);
            let mut events = d.events;
            if let Some(first) = events.first_mut() {
                first.origin = Some(command.action.origin());
            }
            events
        }

        #[derive(Clone, Debug)]
        enum Step {
            Wait(u32),
            Submit(u8),
            Accept(u8),
            Milestone(u8, u8),
            Tick,
        }

        fn step() -> impl Strategy<Value = Step> {
            prop_oneof![
                3 => prop_oneof![1u32..48, 24u32 * 5..24 * 40].prop_map(Step::Wait),
                2 => (0u8..8).prop_map(Step::Submit),
                2 => (0u8..8).prop_map(Step::Accept),
                2 => (0u8..8, 0u8..5).prop_map(|(a, m)| Step::Milestone(a, m)),
                3 => Just(Step::Tick),
            ]
        }

        proptest! {
            /// A tick with nothing due (answered early) and any other tick
            /// record what looking at every due deadline records.
            #[test]
            fn ticks_record_what_the_general_path_records(steps in proptest::collection::vec(step(), 0..80)) {
                let programme = fixtures::programme(5_000);
                let mut now = fixtures::day(0);
                let mut state = State::default();
                let mut next = 0u128;
                let mut run = |state: &mut State, action: Action, now: DateTime<Utc>| {
                    next += 1;
                    let c = Command::new(CommandId::new(uuid::Uuid::from_u128(next)), action);
                    if matches!(c.action, Action::Tick) {
                        let long = tick_the_long_way(state, &c, now);
                        prop_assert_eq!(decide(state, &c, now), Ok(long));
                    }
                    if let Ok(events) = decide(state, &c, now) {
                        for e in &events {
                            evolve(state, e).expect("applies");
                        }
                    }
                    Ok(())
                };
                run(&mut state, Action::Open { programme: Box::new(programme) }, now)?;
                for s in steps {
                    let action = match s {
                        Step::Wait(hours) => {
                            now += Duration::hours(i64::from(hours));
                            continue;
                        }
                        Step::Submit(a) => Action::Submit {
                            application: app_id(a),
                            applicant: Arc::new(fixtures::applicant(u64::from(a))),
                            request: fixtures::request(),
                        },
                        Step::Accept(a) => Action::Accept { application: app_id(a) },
                        Step::Milestone(a, m) => Action::Milestone {
                            application: app_id(a),
                            milestone: [
                                Milestone::ConsultancyEngaged,
                                Milestone::SelfAssessmentSubmitted,
                                Milestone::AssessmentFailed,
                                Milestone::AssessmentPassed,
                                Milestone::PlusAuditBooked,
                            ][usize::from(m)],
                        },
                        Step::Tick => Action::Tick,
                    };
                    run(&mut state, action, now)?;
                }
            }
        }
    }

    mod damaged {
        use std::sync::Arc;

        use chrono::Duration;

        use crate::decide::decide;
        use crate::messages::command::{Action, Command};
        use crate::messages::ids::{ApplicationId, CommandId};
        use crate::messages::rejection::RejectionCode;
        use crate::state::lifecycle::StageKind;
        use crate::state::{State, evolve};
        use crate::testing::fixtures;

        fn run(state: &mut State, n: u128, action: Action, at: chrono::DateTime<chrono::Utc>) {
            let c = Command::new(CommandId::new(uuid::Uuid::from_u128(n)), action);
            for e in decide(state, &c, at).expect("accepted") {
                evolve(state, &e).expect("applies");
            }
        }

        /// Given a damaged pot (nothing reserved, though an offer holds a
        /// reservation, so the lapse's release cannot be taken from it) with
        /// the offer's lapse queued, when a command arrives after the lapse is due, then
        /// it is refused `inconsistent_state`, not blamed on the rules, and
        /// nothing is recorded.
        #[test]
        fn deadline_events_that_do_not_apply_are_refused_as_inconsistent_state() {
            let mut state = State::default();
            let start = fixtures::day(0);
            let programme = Box::new(fixtures::programme(5_000));
            run(&mut state, 1, Action::Open { programme }, start);
            let id = ApplicationId::new(uuid::Uuid::from_u128(7));
            let submit = Action::Submit {
                application: id,
                applicant: Arc::new(fixtures::applicant(7)),
                request: fixtures::request(),
            };
            run(&mut state, 2, submit, start);
            assert_eq!(
                state.application(&id).map(|a| a.stage().kind()),
                Some(StageKind::Offered)
            );
            state.pot.reserved = crate::ledger::money::Money::ZERO;
            let version = state.version();

            let late = start + Duration::days(400);
            let accept = Command::new(
                CommandId::new(uuid::Uuid::from_u128(3)),
                Action::Accept { application: id },
            );
            let refused = decide(&state, &accept, late).expect_err("damaged");
            assert_eq!(refused.code, RejectionCode::InconsistentState);
            assert!(refused.message.contains("damaged"), "{}", refused.message);
            assert_eq!(state.version(), version);
        }
    }
}
