//! Given/when/then: time binds at every command. The deadlines due at a
//! command's `now` fire before it is decided, exactly as a tick at that
//! instant would fire them; a refused command records nothing and names the
//! deadline that passed.

use chrono::{DateTime, Duration, Utc};
use grantflow_core::*;
use grantflow_core::{EventKind, Reminder};
use grantflow_testkit::conformance::fixtures::{self, day};

const TAG: &str = "time-binds";

/// A programme in an engine over an in-memory store, and a counter for
/// fresh command ids. Commands go through the engine, so "records nothing"
/// is checked on the store.
struct Given {
    engine: Engine<InMemoryStore>,
    next: u32,
}

impl Given {
    fn programme(pot_pounds: u32) -> Given {
        let engine = Engine::open(
            InMemoryStore::new(),
            grantflow_testkit::conformance::programme_id(TAG),
        )
        .expect("an engine");
        let mut g = Given { engine, next: 0 };
        g.run(fixtures::open(TAG, fixtures::programme(pot_pounds)), day(0))
            .expect("the programme opens");
        g
    }

    /// Executes `command` at `now`: its recorded events, or its rejection.
    fn run(&mut self, command: Command, now: DateTime<Utc>) -> Result<Vec<Event>, Rejection> {
        match self.engine.execute(&command, now) {
            Ok(outcome) => Ok(outcome.events().iter().map(|r| r.event.clone()).collect()),
            Err(EngineError::Rejected(r)) => Err(r),
            Err(e) => panic!("the store failed: {e}"),
        }
    }

    fn state(&self) -> &State {
        self.engine.state()
    }

    /// The stored log, from the store itself.
    fn log(&mut self) -> Vec<Recorded> {
        let programme = grantflow_testkit::conformance::programme_id(TAG);
        self.engine
            .store_mut()
            .load(&programme, 0, usize::MAX)
            .expect("the log")
    }

    fn act(&mut self, action: Action, now: DateTime<Utc>) -> Result<Vec<Event>, Rejection> {
        self.next += 1;
        let id = CommandId::from_name(&format!("{TAG}/cmd/{}", self.next));
        self.run(Command::new(id, action), now)
    }

    fn submit(&mut self, n: u64, now: DateTime<Utc>) -> Vec<Event> {
        self.run(fixtures::submit(TAG, n), now).expect("submitted")
    }

    fn accept(&mut self, n: u64, now: DateTime<Utc>) -> Result<Vec<Event>, Rejection> {
        self.run(fixtures::accept(TAG, n), now)
    }

    fn milestone(
        &mut self,
        n: u64,
        m: Milestone,
        now: DateTime<Utc>,
    ) -> Result<Vec<Event>, Rejection> {
        self.act(
            Action::Milestone {
                application: fixtures::application(TAG, n),
                milestone: m,
            },
            now,
        )
    }

    fn stage(&self, n: u64) -> StageKind {
        self.state()
            .applications()
            .get(&fixtures::application(TAG, n))
            .expect("the application exists")
            .stage()
            .kind()
    }
}

fn names(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(|e| e.kind.name()).collect()
}

/// Application 1's self-assessment submitted on day 10 (offered day 0,
/// accepted day 1: six months to pass).
fn self_assessed() -> Given {
    let mut g = Given::programme(10_000);
    g.submit(1, day(0));
    g.accept(1, day(1)).unwrap();
    g.milestone(1, Milestone::ConsultancyEngaged, day(2))
        .unwrap();
    g.milestone(1, Milestone::SelfAssessmentSubmitted, day(10))
        .unwrap();
    g
}

/// Application 1 certified on day 20.
fn certified() -> Given {
    let mut g = self_assessed();
    g.milestone(1, Milestone::AssessmentPassed, day(20))
        .unwrap();
    assert_eq!(g.stage(1), StageKind::Certified);
    g
}

#[test]
fn a_late_accept_is_refused_naming_the_lapse_and_records_nothing() {
    // Given an offer made on day 0 (14 days to accept) and no tick since
    let mut g = Given::programme(10_000);
    g.submit(1, day(0));
    let before = g.log();
    // When the applicant accepts on day 20
    let refused = g.accept(1, day(20)).unwrap_err();
    // Then the accept is refused because the offer lapsed, and nothing changed
    assert_eq!(refused.code, RejectionCode::IllegalTransition);
    assert!(
        refused
            .message
            .contains("lapsed at 2020-09-15 09:00:00 UTC"),
        "{}",
        refused.message
    );
    assert_eq!(g.log(), before);
    // And the same command id may be retried: it was not recorded
    assert!(
        !g.state()
            .commands()
            .contains_key(&fixtures::accept(TAG, 1).id)
    );
}

#[test]
fn an_accept_inside_the_window_is_taken() {
    let mut g = Given::programme(10_000);
    g.submit(1, day(0));
    let events = g
        .accept(1, day(0) + Duration::days(14) - Duration::seconds(1))
        .unwrap();
    // The reminder three days before expiry was due: it rides along first.
    assert_eq!(names(&events), ["reminder_due", "accepted"]);
    assert_eq!(g.stage(1), StageKind::Awarded);
}

#[test]
fn an_accepted_command_records_the_deadlines_due_before_its_own_events() {
    // Given a pot of £1,200: application 1 is offered all of it, 2 waits
    let mut g = Given::programme(1_200);
    g.submit(1, day(0));
    g.submit(2, day(1));
    assert_eq!(g.stage(2), StageKind::Waitlisted);
    // When application 3 is submitted on day 15, after 1's offer expired, with no tick between
    let events = g.submit(3, day(15));
    // Then 1 lapses (its reminder, for a time now past, is not sent), 2 is
    // re-offered in the same step, and 3 joins the waitlist behind
    assert_eq!(
        names(&events),
        ["lapsed", "offered", "submitted", "waitlisted"]
    );
    assert_eq!(g.stage(1), StageKind::Lapsed);
    assert_eq!(g.stage(2), StageKind::Offered);
    assert_eq!(g.stage(3), StageKind::Waitlisted);
    // And every event carries the submission's command id and its time
    let id = fixtures::submit(TAG, 3).id;
    assert!(events.iter().all(|e| e.command == id && e.at == day(15)));
}

#[test]
fn a_deadline_fires_the_same_whether_a_tick_or_another_command_carries_it() {
    let run = |tick_first: bool| {
        let mut g = Given::programme(1_200);
        g.submit(1, day(0));
        g.submit(2, day(1));
        if tick_first {
            g.act(Action::Tick, day(15)).unwrap();
        }
        g.submit(3, day(15));
        (*g.state().pot(), [1, 2, 3].map(|n| g.stage(n)))
    };
    assert_eq!(run(true), run(false));
}

#[test]
fn a_pass_recorded_after_the_pass_window_closed_is_refused() {
    // Given a self-assessment submitted on day 10 (six months to pass from acceptance on day 1)
    let mut g = self_assessed();
    let before = g.log();
    // When the assessor records a pass three months after the window closed, with no tick between
    let refused = g
        .milestone(1, Milestone::AssessmentPassed, day(1 + 182 + 90))
        .unwrap_err();
    // Then it is refused, naming the pass window, and nothing is recorded
    assert_eq!(refused.code, RejectionCode::IllegalTransition);
    assert!(
        refused.message.contains("pass window")
            && refused
                .message
                .contains("closed at 2021-03-02 09:00:00 UTC"),
        "{}",
        refused.message
    );
    assert_eq!(g.log(), before);
    // And a tick at that time fails the application and releases its award
    let events = g.act(Action::Tick, day(1 + 182 + 90)).unwrap();
    assert_eq!(names(&events), ["certification_failed"]);
    assert_eq!(g.stage(1), StageKind::Failed);
}

#[test]
fn a_resubmission_after_the_feedback_window_is_refused_naming_it() {
    let mut g = self_assessed();
    g.milestone(1, Milestone::AssessmentFailed, day(11))
        .unwrap();
    assert_eq!(g.stage(1), StageKind::FeedbackDue);
    let refused = g
        .milestone(1, Milestone::SelfAssessmentSubmitted, day(30))
        .unwrap_err();
    assert_eq!(refused.code, RejectionCode::IllegalTransition);
    assert!(
        refused.message.contains("feedback window"),
        "{}",
        refused.message
    );
    assert_eq!(g.stage(1), StageKind::FeedbackDue);
}

#[test]
fn a_tick_long_after_expiry_sends_no_reminder_for_a_past_date() {
    // Given a certificate issued on day 20 (valid 12 months)
    let mut g = certified();
    // When nothing happens until years later
    let events = g.act(Action::Tick, day(20 + 3 * 365)).unwrap();
    // Then no expiry reminder names a date already past
    for e in &events {
        if let EventKind::ReminderDue {
            reminder: Reminder::CertificateExpiring { expires, .. },
            ..
        } = &e.kind
        {
            panic!("a reminder for {expires}, long past, was sent");
        }
    }
}

#[test]
fn an_expiry_reminder_is_sent_while_its_date_is_ahead() {
    let mut g = certified();
    // 30 days before expiry (day 20 + 12 months)
    let events = g.act(Action::Tick, day(20 + 365 - 29)).unwrap();
    assert!(
        events.iter().any(|e| matches!(
            e.kind,
            EventKind::ReminderDue {
                reminder: Reminder::CertificateExpiring { days: 30, .. },
                ..
            }
        )),
        "{:?}",
        names(&events)
    );
}
