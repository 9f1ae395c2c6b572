//! An application's history in plain words, for its applicant and for
//! staff: each of its events as a sentence, with when it happened, read
//! from the programme's events.

use grantflow_core::{ApplicationId, EventKind, FailureReason, PlusEnd, ProgrammeId, Reminder};

use crate::AppState;
use crate::problem::Problem;

/// The most pages of events read (each holds 10,000).
const MAX_PAGES: usize = 1_000;

/// A date and time as people write it: 1 September 2020 at 09:00 UTC.
pub(super) fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%-d %B %Y at %H:%M UTC").to_string()
}

/// `(when, what happened)` for each event of `application`, oldest first.
pub(super) async fn of(
    state: &AppState,
    programme: &ProgrammeId,
    application: ApplicationId,
) -> Result<Vec<(String, String)>, Problem> {
    let p = programme.clone();
    state
        .blocking(move |programmes| {
            let mut lines = Vec::new();
            let mut after = 0;
            for _ in 0..MAX_PAGES {
                let page = programmes.events(&p, after, 10_000)?;
                let Some(last) = page.last() else { break };
                after = last.version;
                for r in &page {
                    if r.event.kind.application() != Some(application) {
                        continue;
                    }
                    if let Some(what) = words(&r.event.kind) {
                        lines.push((when(r.event.at), what));
                    }
                }
            }
            Ok(lines)
        })
        .await
}

/// What an event means, in a sentence (`None` for those about no one
/// application).
fn words(kind: &EventKind) -> Option<String> {
    Some(match kind {
        EventKind::Submitted { .. } => "The application was received.".into(),
        EventKind::FoundIneligible { failed, .. } => format!(
            "It was found not eligible: {} of the rules were not met.",
            failed.len()
        ),
        EventKind::Waitlisted { .. } => {
            "It joined the waiting list: the pot was spoken for.".into()
        }
        EventKind::Offered {
            amount, expires, ..
        } => format!(
            "{} was offered, to be accepted by {}.",
            amount.display_pounds(),
            when(*expires)
        ),
        EventKind::Accepted { pass_by, .. } => format!(
            "The offer was accepted. Certification is due by {}.",
            when(*pass_by)
        ),
        EventKind::Declined { .. } => {
            "The offer was declined; the money went back to the pot.".into()
        }
        EventKind::Lapsed { .. } => {
            "The offer lapsed without an answer; the money went back to the pot.".into()
        }
        EventKind::Withdrawn { reason, .. } => format!("The application was withdrawn: {reason}."),
        EventKind::ConsultancyEngaged { .. } => "The consultant started work.".into(),
        EventKind::SelfAssessmentSubmitted { attempt, .. } => {
            format!("Self-assessment number {attempt} was sent to the certification body.")
        }
        EventKind::AssessmentFailed { respond_by, .. } => format!(
            "The self-assessment did not pass. The feedback can be answered until {}.",
            when(*respond_by)
        ),
        EventKind::CertificationFailed { reason, .. } => match reason {
            FailureReason::SecondFail => {
                "Certification ended: the second self-assessment did not pass.".into()
            }
            FailureReason::FeedbackWindowEnded => {
                "Certification ended: the feedback was not answered in time.".into()
            }
            FailureReason::PassWindowEnded => {
                "Certification ended: it did not pass in time.".into()
            }
        },
        EventKind::Certified { expires, .. } => {
            format!("Certified to Cyber Essentials, until {}.", when(*expires))
        }
        EventKind::PlusAuditBooked { attempt, .. } => {
            format!("Plus audit number {attempt} was booked.")
        }
        EventKind::PlusAuditFailed { retest_by, .. } => format!(
            "The Plus audit did not pass. A re-test is due by {}.",
            when(*retest_by)
        ),
        EventKind::PlusCertified { .. } => "Certified to Cyber Essentials Plus.".into(),
        EventKind::PlusNotAchieved { reason, .. } => match reason {
            PlusEnd::SecondFail => "Plus was not achieved: the re-test did not pass.".into(),
            PlusEnd::WindowEnded => "Plus was not achieved in time.".into(),
        },
        EventKind::ClaimPaid {
            item,
            invoice_ref,
            amount,
            ..
        } => format!(
            "{} was paid for {} (invoice {invoice_ref}).",
            amount.display_pounds(),
            item.as_str().replace('_', " ")
        ),
        EventKind::Completed { released, .. } => format!(
            "The award was closed; {} left of it went back to the pot.",
            released.display_pounds()
        ),
        EventKind::ClawedBack { amount, reason, .. } => {
            format!("{} was recovered: {reason}.", amount.display_pounds())
        }
        EventKind::ReminderDue { reminder, .. } => match reminder {
            Reminder::OfferExpiring { expires } => {
                format!("A reminder was sent: the offer lapses {}.", when(*expires))
            }
            Reminder::FeedbackClosing { closes } => format!(
                "A reminder was sent: the feedback window closes {}.",
                when(*closes)
            ),
            Reminder::PlusWindowClosing { closes } => format!(
                "A reminder was sent: the Plus window closes {}.",
                when(*closes)
            ),
            _ => "A reminder was sent.".into(),
        },
        _ => return None,
    })
}
