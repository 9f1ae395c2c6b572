//! Deadlines firing: [`tick`] emits what every deadline due at the draft's
//! `now` causes, in time order, with the re-offers the releases allow.

use crate::messages::event::{EventKind, FailureReason, PlusEnd, Reminder};
use crate::state::DeadlineKind;
use crate::state::lifecycle::Stage;

use super::draft::Draft;

pub(super) fn tick(d: &mut Draft<'_>) {
    let state = d.state;
    let now = d.now;
    let due: Vec<_> = state.deadlines.due(now).collect();
    for dl in due {
        let Some(app) = state
            .applications
            .by_arrival(dl.arrival)
            .filter(|a| a.id == dl.application)
        else {
            continue;
        };
        let cert_reminder = matches!(dl.kind, DeadlineKind::CertificateReminder(_));
        if d.touched.contains(&app.id) && !cert_reminder {
            // Its stage changed earlier in this tick: the deadline belonged to the old stage.
            continue;
        }
        let id = app.id;
        match (dl.kind, app.stage) {
            (DeadlineKind::OfferReminder, Stage::Offered { expires }) if expires > now => {
                d.emit(EventKind::ReminderDue {
                    application: id,
                    reminder: Reminder::OfferExpiring { expires },
                });
            }
            (DeadlineKind::OfferExpiry, Stage::Offered { .. }) => {
                let released = d.release(app);
                d.emit(EventKind::Lapsed {
                    application: id,
                    released,
                });
                d.offer_waitlist();
            }
            (DeadlineKind::FeedbackReminder, Stage::FeedbackDue { respond_by, .. })
                if respond_by > now =>
            {
                d.emit(EventKind::ReminderDue {
                    application: id,
                    reminder: Reminder::FeedbackClosing { closes: respond_by },
                });
            }
            (DeadlineKind::FeedbackClose | DeadlineKind::PassWindow, _) => {
                let reason = if dl.kind == DeadlineKind::PassWindow {
                    FailureReason::PassWindowEnded
                } else {
                    FailureReason::FeedbackWindowEnded
                };
                let released = d.release(app);
                d.emit(EventKind::CertificationFailed {
                    application: id,
                    reason,
                    released,
                });
                d.offer_waitlist();
            }
            (
                DeadlineKind::PlusReminder,
                Stage::Certified {
                    plus_by: Some(plus_by),
                }
                | Stage::PlusAuditBooked { plus_by, .. }
                | Stage::PlusRetest { plus_by, .. },
            ) if plus_by > now => {
                d.emit(EventKind::ReminderDue {
                    application: id,
                    reminder: Reminder::PlusWindowClosing { closes: plus_by },
                });
            }
            (DeadlineKind::PlusWindow | DeadlineKind::PlusRetest, _) => {
                d.touched.insert(id);
                d.emit(EventKind::PlusNotAchieved {
                    application: id,
                    reason: PlusEnd::WindowEnded,
                });
            }
            (DeadlineKind::CertificateReminder(days), _) => {
                // Sent only while the expiry is still ahead.
                if let Some(expires) = app.certificate_expires.filter(|e| *e > now) {
                    d.emit(EventKind::ReminderDue {
                        application: id,
                        reminder: Reminder::CertificateExpiring { expires, days },
                    });
                }
            }
            // A reminder whose target time has passed: the target's own deadline fires in this tick.
            _ => {}
        }
    }
}
