//! The certification milestones: which transition each one triggers in
//! the application's stage, the events it records, and the rejection of a
//! transition the stage does not allow.

use super::*;

pub(super) fn milestone_events(
    d: &mut Draft<'_>,
    app: &Application,
    m: Milestone,
) -> Result<(), Rejection> {
    let p = d.p;
    let now = d.now;
    let id = app.id;
    let trig = match (m, app.stage) {
        (Milestone::AssessmentFailed, Stage::SelfAssessmentSubmitted { attempt, .. })
            if attempt >= 2 =>
        {
            Trigger::SecondFail
        }
        (Milestone::AssessmentFailed, _) => Trigger::FirstFail,
        (Milestone::PlusAuditFailed, Stage::PlusAuditBooked { attempt, .. }) if attempt >= 2 => {
            Trigger::PlusSecondFail
        }
        (Milestone::PlusAuditFailed, _) => Trigger::PlusFirstFail,
        (m, _) => Trigger::Milestone(m),
    };
    match (m, app.stage) {
        (Milestone::ConsultancyEngaged, Stage::Awarded { .. }) => {
            d.emit(EventKind::ConsultancyEngaged { application: id })
        }
        (Milestone::SelfAssessmentSubmitted, Stage::ConsultancyEngaged { .. }) => {
            d.emit(EventKind::SelfAssessmentSubmitted {
                application: id,
                attempt: 1,
            });
        }
        (Milestone::SelfAssessmentSubmitted, Stage::FeedbackDue { .. }) => {
            d.emit(EventKind::SelfAssessmentSubmitted {
                application: id,
                attempt: 2,
            });
        }
        (Milestone::AssessmentPassed, Stage::SelfAssessmentSubmitted { .. }) => {
            let expires = add_months(now, p.windows.validity_months.value);
            let plus = app
                .coverage
                .is_some_and(|c| !c.item(Item::PlusAudit).is_zero());
            let plus_by = plus.then(|| add_months(now, p.windows.plus_months.value));
            d.emit(EventKind::Certified {
                application: id,
                expires,
                plus_by,
            });
        }
        (Milestone::AssessmentFailed, Stage::SelfAssessmentSubmitted { attempt, .. }) => {
            if attempt >= 2 {
                let released = d.release(app);
                d.emit(EventKind::CertificationFailed {
                    application: id,
                    reason: FailureReason::SecondFail,
                    released,
                });
                d.offer_waitlist();
            } else {
                let today = now.date_naive();
                let days = (add_working_days(today, p.windows.feedback_working_days.value) - today)
                    .num_days();
                d.emit(EventKind::AssessmentFailed {
                    application: id,
                    respond_by: now + Duration::days(days),
                });
            }
        }
        (
            Milestone::PlusAuditBooked | Milestone::PlusAuditPassed | Milestone::PlusAuditFailed,
            Stage::Certified { plus_by: None },
        ) => {
            return Err(Rejection::new(
                Code::PlusNotFunded,
                format!("application {id} has no funded Cyber Essentials Plus audit"),
                "plus_funded",
            ));
        }
        (Milestone::PlusAuditBooked, Stage::Certified { plus_by: Some(_) }) => {
            d.emit(EventKind::PlusAuditBooked {
                application: id,
                attempt: 1,
            })
        }
        (Milestone::PlusAuditBooked, Stage::PlusRetest { .. }) => {
            d.emit(EventKind::PlusAuditBooked {
                application: id,
                attempt: 2,
            });
        }
        (Milestone::PlusAuditPassed, Stage::PlusAuditBooked { .. }) => {
            d.emit(EventKind::PlusCertified { application: id })
        }
        (Milestone::PlusAuditFailed, Stage::PlusAuditBooked { attempt, plus_by }) => {
            if attempt >= 2 {
                d.emit(EventKind::PlusNotAchieved {
                    application: id,
                    reason: PlusEnd::SecondFail,
                });
            } else {
                let retest_by = (now + Duration::days(i64::from(p.windows.plus_retest_days.value)))
                    .min(plus_by);
                d.emit(EventKind::PlusAuditFailed {
                    application: id,
                    retest_by,
                });
            }
        }
        _ => return Err(illegal(app, trig)),
    }
    Ok(())
}

/// Adds calendar months to an instant, keeping the time of day.
pub(super) fn add_months(t: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    t.checked_add_months(Months::new(months))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

pub(super) fn illegal(app: &Application, trigger: Trigger) -> Rejection {
    let kind = app.stage.kind();
    let allowed: Vec<&str> = TRANSITIONS
        .iter()
        .filter(|(_, t, _)| *t == trigger)
        .filter_map(|(f, _, _)| f.map(|k| k.as_str()))
        .collect();
    let what = match trigger {
        Trigger::Milestone(m) => format!(
            "milestone {}",
            serde_json::to_value(m)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        ),
        Trigger::FirstFail | Trigger::SecondFail => "milestone assessment_failed".to_string(),
        Trigger::PlusFirstFail | Trigger::PlusSecondFail => {
            "milestone plus_audit_failed".to_string()
        }
        other => serde_json::to_value(other)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
    };
    Rejection::new(
        Code::IllegalTransition,
        format!(
            "application {} is {kind}: {what} is allowed only when it is {}",
            app.id,
            if allowed.is_empty() {
                "never".to_string()
            } else {
                allowed.join(" or ")
            }
        ),
        kind.as_str(),
    )
}
