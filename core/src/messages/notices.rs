//! Notices: who must be told what. [`notices`] is a pure function from
//! recorded events to [`Notice`]s (recipient [`Role`], template id, data);
//! delivering them is an adapter's job. Each notice's [`NoticeId`] is derived
//! from the command and the event's position, so a retried delivery carries
//! the same id and receivers can drop duplicates.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ledger::money::Money;
use crate::messages::event::{Event, EventKind, FailureReason, Reminder};
use crate::messages::ids::{ApplicationId, NAMESPACE, NoticeId};
use crate::state::State;

/// Who a notice is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The applicant's contact.
    Applicant,
    /// The programme's finance officers.
    Finance,
    /// The assessors.
    Assessor,
}

/// A message to deliver.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Stable id: the idempotency key for receivers.
    pub id: NoticeId,
    /// The template to render, e.g. `offer_made`.
    pub template: String,
    pub recipient: Role,
    /// The applicant's email for applicant notices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<ApplicationId>,
    /// Values for the template: programme, organisation, amounts, dates.
    pub data: BTreeMap<String, String>,
}

/// Every template id a notice can carry.
pub const TEMPLATES: &[&str] = &[
    "application_ineligible",
    "application_waitlisted",
    "offer_made",
    "offer_expiring",
    "offer_lapsed",
    "award_accepted",
    "assessment_failed",
    "feedback_closing",
    "certification_failed",
    "certified",
    "plus_window_closing",
    "plus_certified",
    "claim_paid",
    "award_completed",
    "clawback_recorded",
    "certificate_expiring",
    "pot_topped_up",
    "application_withdrawn",
];

fn date(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// The notices that `events` (about to be recorded on top of `state`) call for.
pub fn notices(state: &State, events: &[Event]) -> Vec<Notice> {
    let programme_name = state
        .programme()
        .map(|p| p.name.clone())
        .or_else(|| {
            events.iter().find_map(|e| match &e.kind {
                EventKind::ProgrammeOpened { programme } => Some(programme.name.clone()),
                _ => None,
            })
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    for (index, event) in events.iter().enumerate() {
        let app = event.kind.application();
        let (org, email) = match app {
            Some(id) => contact(state, events, id),
            None => (String::new(), None),
        };
        let mut push = |template: &str, recipient: Role, extra: &[(&str, String)]| {
            let mut data = BTreeMap::new();
            data.insert("programme".to_string(), programme_name.clone());
            if app.is_some() {
                data.insert("organisation".to_string(), org.clone());
            }
            data.insert("date".to_string(), date(event.at));
            for (k, v) in extra {
                data.insert((*k).to_string(), v.clone());
            }
            let key = format!("{}:{index}:{template}:{recipient:?}", event.command);
            out.push(Notice {
                id: NoticeId(Uuid::new_v5(&NAMESPACE, key.as_bytes())),
                template: template.to_string(),
                recipient,
                to: if recipient == Role::Applicant {
                    email.clone()
                } else {
                    None
                },
                application: app,
                data,
            });
        };
        let money = |m: &Money| m.to_string();
        match &event.kind {
            EventKind::FoundIneligible { failed, .. } => {
                let reasons = failed
                    .iter()
                    .map(|c| c.sentence.clone())
                    .collect::<Vec<_>>()
                    .join("; ");
                push(
                    "application_ineligible",
                    Role::Applicant,
                    &[("reasons", reasons)],
                );
            }
            EventKind::Waitlisted { .. } => push("application_waitlisted", Role::Applicant, &[]),
            EventKind::Offered {
                amount, expires, ..
            } => push(
                "offer_made",
                Role::Applicant,
                &[("amount", money(amount)), ("expires", date(*expires))],
            ),
            EventKind::Accepted { pass_by, .. } => {
                push(
                    "award_accepted",
                    Role::Applicant,
                    &[("pass_by", date(*pass_by))],
                );
                push(
                    "award_accepted",
                    Role::Finance,
                    &[("pass_by", date(*pass_by))],
                );
            }
            EventKind::Lapsed { released, .. } => push(
                "offer_lapsed",
                Role::Applicant,
                &[("released", money(released))],
            ),
            EventKind::Withdrawn { released, .. } => push(
                "application_withdrawn",
                Role::Finance,
                &[("released", money(released))],
            ),
            EventKind::AssessmentFailed { respond_by, .. } => push(
                "assessment_failed",
                Role::Applicant,
                &[("respond_by", date(*respond_by))],
            ),
            EventKind::CertificationFailed {
                reason, released, ..
            } => {
                let why = match reason {
                    FailureReason::SecondFail => "the self-assessment failed a second time",
                    FailureReason::FeedbackWindowEnded => {
                        "the feedback window closed without a resubmission"
                    }
                    FailureReason::PassWindowEnded => {
                        "the certification window ended without a pass"
                    }
                };
                push(
                    "certification_failed",
                    Role::Applicant,
                    &[("reason", why.to_string())],
                );
                push(
                    "certification_failed",
                    Role::Finance,
                    &[("reason", why.to_string()), ("released", money(released))],
                );
            }
            EventKind::Certified { expires, .. } => {
                push("certified", Role::Applicant, &[("expires", date(*expires))]);
                push("certified", Role::Assessor, &[("expires", date(*expires))]);
            }
            EventKind::PlusCertified { .. } => push("plus_certified", Role::Applicant, &[]),
            EventKind::ClaimPaid {
                item,
                invoice_ref,
                amount,
                ..
            } => {
                let extra = [
                    ("item", item.as_str().to_string()),
                    ("invoice_ref", invoice_ref.clone()),
                    ("amount", money(amount)),
                ];
                push("claim_paid", Role::Applicant, &extra);
                push("claim_paid", Role::Finance, &extra);
            }
            EventKind::Completed { released, .. } => push(
                "award_completed",
                Role::Finance,
                &[("released", money(released))],
            ),
            EventKind::ClawedBack { amount, reason, .. } => push(
                "clawback_recorded",
                Role::Finance,
                &[("amount", money(amount)), ("reason", reason.clone())],
            ),
            EventKind::PotToppedUp { amount, note } => push(
                "pot_topped_up",
                Role::Finance,
                &[("amount", money(amount)), ("note", note.clone())],
            ),
            EventKind::ReminderDue { reminder, .. } => match reminder {
                Reminder::OfferExpiring { expires } => push(
                    "offer_expiring",
                    Role::Applicant,
                    &[("expires", date(*expires))],
                ),
                Reminder::FeedbackClosing { closes } => push(
                    "feedback_closing",
                    Role::Applicant,
                    &[("closes", date(*closes))],
                ),
                Reminder::PlusWindowClosing { closes } => push(
                    "plus_window_closing",
                    Role::Applicant,
                    &[("closes", date(*closes))],
                ),
                Reminder::CertificateExpiring { expires, days } => {
                    push(
                        "certificate_expiring",
                        Role::Applicant,
                        &[("expires", date(*expires)), ("days", days.to_string())],
                    );
                }
            },
            _ => {}
        }
    }
    out
}

fn contact(state: &State, events: &[Event], id: ApplicationId) -> (String, Option<String>) {
    if let Some(app) = state.applications.get(&id) {
        return (
            app.applicant.organisation.name.clone(),
            Some(app.applicant.contact.email.clone()),
        );
    }
    events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Submitted {
                application,
                applicant,
                ..
            } if *application == id => Some((
                applicant.organisation.name.clone(),
                Some(applicant.contact.email.clone()),
            )),
            _ => None,
        })
        .unwrap_or_default()
}
