//! Given/when/then: every row of the lifecycle's transition table.

mod common;

use common::*;
use grantflow_core::*;
use grantflow_core::{TRANSITIONS, Trigger};
use std::sync::Arc;

/// Application 1 is the subject; application 9 fills the pot when needed.
fn reach(stage: Option<StageKind>) -> Given {
    use StageKind as S;
    let mut g = Given::programme(small_programme(3_000));
    let Some(stage) = stage else { return g };
    match stage {
        S::Submitted => {}
        S::Waitlisted => {
            g.submit(9, plus_request()); // £2,500 of £3,000
            g.submit(1, basic_request()); // £1,200 does not fit
        }
        S::Offered => {
            g.submit(1, plus_request());
        }
        _ => {
            g.submit(1, plus_request());
            g.ok(Action::Accept {
                application: app(1),
            });
            let path: &[Milestone] = match stage {
                S::Awarded => &[],
                S::ConsultancyEngaged => &[Milestone::ConsultancyEngaged],
                S::SelfAssessmentSubmitted => &[
                    Milestone::ConsultancyEngaged,
                    Milestone::SelfAssessmentSubmitted,
                ],
                S::FeedbackDue => &[
                    Milestone::ConsultancyEngaged,
                    Milestone::SelfAssessmentSubmitted,
                    Milestone::AssessmentFailed,
                ],
                S::Certified => &[
                    Milestone::ConsultancyEngaged,
                    Milestone::SelfAssessmentSubmitted,
                    Milestone::AssessmentPassed,
                ],
                S::PlusAuditBooked => &[
                    Milestone::ConsultancyEngaged,
                    Milestone::SelfAssessmentSubmitted,
                    Milestone::AssessmentPassed,
                    Milestone::PlusAuditBooked,
                ],
                S::PlusRetest => &[
                    Milestone::ConsultancyEngaged,
                    Milestone::SelfAssessmentSubmitted,
                    Milestone::AssessmentPassed,
                    Milestone::PlusAuditBooked,
                    Milestone::PlusAuditFailed,
                ],
                S::PlusCertified => &[
                    Milestone::ConsultancyEngaged,
                    Milestone::SelfAssessmentSubmitted,
                    Milestone::AssessmentPassed,
                    Milestone::PlusAuditBooked,
                    Milestone::PlusAuditPassed,
                ],
                S::PlusNotAchieved => &[
                    Milestone::ConsultancyEngaged,
                    Milestone::SelfAssessmentSubmitted,
                    Milestone::AssessmentPassed,
                    Milestone::PlusAuditBooked,
                    Milestone::PlusAuditFailed,
                    Milestone::PlusAuditBooked,
                    Milestone::PlusAuditFailed,
                ],
                other => panic!("{other} is final: no row starts there"),
            };
            for m in path {
                g.milestone(1, *m);
            }
        }
    }
    if stage != StageKind::Submitted {
        assert_eq!(g.stage(1), stage, "reached the given stage");
    }
    g
}

/// Fires `trigger` on application 1.
fn fire(g: &mut Given, trigger: Trigger) -> Vec<Event> {
    let a = app(1);
    match trigger {
        Trigger::Submit => g.submit(1, basic_request()),
        Trigger::SubmitIneligible => g.ok(Action::Submit {
            application: a,
            applicant: Arc::new(applicant(1, "gp-practice")),
            request: basic_request(),
        }),
        Trigger::SubmitWaitlisted => {
            g.submit(9, plus_request());
            g.submit(1, basic_request())
        }
        Trigger::SubmitOffered => g.submit(1, basic_request()),
        Trigger::Reoffer => g.ok(Action::Decline {
            application: app(9),
        }),
        Trigger::Accept => g.ok(Action::Accept { application: a }),
        Trigger::Decline => g.ok(Action::Decline { application: a }),
        Trigger::OfferExpired => g.tick_after_days(14),
        Trigger::Withdraw => g.ok(Action::Withdraw {
            application: a,
            reason: "no longer needed".into(),
        }),
        Trigger::Milestone(m) => g.milestone(1, m),
        Trigger::FirstFail => g.milestone(1, Milestone::AssessmentFailed),
        Trigger::SecondFail => {
            g.milestone(1, Milestone::AssessmentFailed);
            g.milestone(1, Milestone::SelfAssessmentSubmitted);
            g.milestone(1, Milestone::AssessmentFailed)
        }
        Trigger::PassWindowEnded => {
            let mut events = Vec::new();
            for _ in 0..7 {
                events = g.tick_after_days(31);
                if g.stage(1) == StageKind::Failed {
                    break;
                }
            }
            events
        }
        Trigger::FeedbackWindowEnded => g.tick_after_days(5),
        Trigger::PlusFirstFail => g.milestone(1, Milestone::PlusAuditFailed),
        Trigger::PlusSecondFail => {
            g.milestone(1, Milestone::PlusAuditFailed);
            g.milestone(1, Milestone::PlusAuditBooked);
            g.milestone(1, Milestone::PlusAuditFailed)
        }
        Trigger::PlusWindowEnded => g.tick_after_days(95),
        Trigger::Complete => g.ok(Action::Complete { application: a }),
        other => panic!("no way to fire {other:?}: add one to `fire`"),
    }
}

#[test]
fn every_transition_in_the_table_happens_as_written() {
    for (from, trigger, to) in TRANSITIONS {
        // Triggers that fire a first step themselves start one stage earlier.
        let start = match (from, trigger) {
            (Some(StageKind::Submitted), _) => None,
            (Some(StageKind::SelfAssessmentSubmitted), Trigger::SecondFail) => {
                Some(StageKind::SelfAssessmentSubmitted)
            }
            _ => *from,
        };
        let mut g = reach(start);
        let events = fire(&mut g, *trigger);
        assert!(
            !events.is_empty(),
            "{from:?} --{trigger:?}--> {to}: no events"
        );
        if *trigger == Trigger::Submit {
            assert_eq!(events[0].kind.name(), "submitted");
            continue;
        }
        assert_eq!(
            g.stage(1),
            *to,
            "{from:?} --{trigger:?}--> expected {to}, events {:?}",
            Given::names(&events)
        );
    }
}

#[test]
fn moves_outside_the_table_are_illegal_transitions() {
    let mut g = reach(Some(StageKind::Offered));
    for m in Milestone::ALL {
        assert_eq!(
            g.rejected(Action::Milestone {
                application: app(1),
                milestone: m
            }),
            RejectionCode::IllegalTransition,
            "{m:?} from offered"
        );
    }
    assert_eq!(
        g.rejected(Action::Complete {
            application: app(1)
        }),
        RejectionCode::IllegalTransition
    );
    let mut g = reach(Some(StageKind::Awarded));
    assert_eq!(
        g.rejected(Action::Accept {
            application: app(1)
        }),
        RejectionCode::IllegalTransition
    );
    assert_eq!(
        g.rejected(Action::Decline {
            application: app(1)
        }),
        RejectionCode::IllegalTransition
    );
    g.ok(Action::Withdraw {
        application: app(1),
        reason: String::new(),
    });
    assert_eq!(
        g.rejected(Action::Withdraw {
            application: app(1),
            reason: String::new()
        }),
        RejectionCode::IllegalTransition
    );
}

#[test]
fn withdrawal_releases_what_is_reserved_and_keeps_what_was_paid() {
    let mut g = reach(Some(StageKind::SelfAssessmentSubmitted));
    g.ok(Action::Claim {
        application: app(1),
        item: Item::Consultancy,
        invoice_ref: "C-1".into(),
        amount: Money::pounds(900),
    });
    let events = g.ok(Action::Withdraw {
        application: app(1),
        reason: "closing down".into(),
    });
    assert!(
        matches!(events[0].kind, EventKind::Withdrawn { released, .. } if released == Money::pounds(1600))
    );
    assert_eq!(g.state.pot().paid(), Money::pounds(900));
    assert_eq!(g.state.pot().available(), Money::pounds(2100));
}

#[test]
fn completion_releases_the_unpaid_remainder_and_clawback_credits_the_pot() {
    let mut g = reach(Some(StageKind::PlusCertified));
    g.ok(Action::Claim {
        application: app(1),
        item: Item::Consultancy,
        invoice_ref: "C-1".into(),
        amount: Money::pounds(900),
    });
    g.ok(Action::Claim {
        application: app(1),
        item: Item::CertificationFee,
        invoice_ref: "F-1".into(),
        amount: Money::pounds(300),
    });
    g.ok(Action::Claim {
        application: app(1),
        item: Item::PlusAudit,
        invoice_ref: "P-1".into(),
        amount: Money::pounds(1000),
    });
    let events = g.ok(Action::Complete {
        application: app(1),
    });
    assert!(
        matches!(events[0].kind, EventKind::Completed { released, .. } if released == Money::pounds(300))
    );
    g.ok(Action::Clawback {
        application: app(1),
        amount: Money::pounds(200),
        reason: "audit overcharged".into(),
    });
    let pot = g.state.pot();
    assert_eq!(
        (pot.credits(), pot.available(), pot.reserved(), pot.paid()),
        (
            Money::pounds(3200),
            Money::pounds(1000),
            Money::ZERO,
            Money::pounds(2200)
        )
    );
}

#[test]
fn feedback_window_counts_working_days() {
    // Friday 2 October 2020: two working days end on Tuesday 6 October.
    let mut g = reach(Some(StageKind::SelfAssessmentSubmitted));
    g.advance_days(1);
    let events = g.milestone(1, Milestone::AssessmentFailed);
    let EventKind::AssessmentFailed { respond_by, .. } = events[0].kind else {
        panic!("expected assessment_failed")
    };
    assert_eq!(respond_by.date_naive().to_string(), "2020-10-06");
    g.advance_days(3);
    let reminder = g.ok(Action::Tick);
    assert_eq!(Given::names(&reminder), ["reminder_due"]);
    g.milestone(1, Milestone::SelfAssessmentSubmitted);
    assert_eq!(g.stage(1), StageKind::SelfAssessmentSubmitted);
}

#[test]
fn offer_reminder_fires_once_before_expiry() {
    let mut g = reach(Some(StageKind::Offered));
    assert!(g.tick_after_days(10).is_empty());
    let events = g.tick_after_days(1);
    assert!(matches!(
        events[0].kind,
        EventKind::ReminderDue {
            reminder: Reminder::OfferExpiring { .. },
            ..
        }
    ));
    assert!(g.tick_after_days(1).is_empty(), "a reminder fires once");
    assert_eq!(Given::names(&g.tick_after_days(2)), ["lapsed"]);
}

#[test]
fn certificate_expiry_reminders_fire_at_30_and_7_days() {
    let mut g = reach(Some(StageKind::Certified));
    g.ok(Action::Complete {
        application: app(1),
    });
    let mut reminders = Vec::new();
    for _ in 0..400 {
        for e in g.tick_after_days(1) {
            if let EventKind::ReminderDue {
                reminder: Reminder::CertificateExpiring { days, .. },
                ..
            } = e.kind
            {
                reminders.push(days);
            }
        }
    }
    assert_eq!(reminders, [30, 7]);
}
