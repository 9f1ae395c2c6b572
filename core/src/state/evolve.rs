//! [`evolve`]: folds one [`Event`] into the [`State`], one function per
//! event. It never decides: an event that does not fit is a
//! [`ReplayError`] (a corrupt or foreign stream) and changes nothing.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::ledger::money::Money;
use crate::ledger::pot::{Account, LedgerError, Pot};
use crate::messages::event::{Event, EventKind, Reminder};
use crate::messages::ids::ApplicationId;
use crate::rules::applicant::{Applicant, CostRequest};
use crate::rules::coverage::{Coverage, Item};
use crate::rules::programme::Programme;
use crate::state::State;
use crate::state::application::{Application, SectorTotals};
use crate::state::deadlines::{Deadline, DeadlineKind, Deadlines};
use crate::state::invoices::Invoices;
use crate::state::lifecycle::Stage;
use crate::state::waitlist::Waitlist;

/// An event that does not fit the state it is applied to: a corrupt or
/// foreign stream. The state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    #[error("event {version} ({event}) is about unknown application {application}")]
    UnknownApplication {
        version: u64,
        event: &'static str,
        application: ApplicationId,
    },
    #[error("event {version} ({event}) comes before the programme was opened")]
    NotOpened { version: u64, event: &'static str },
    #[error("event {version} ({event}) does not balance the ledger: {error}")]
    Ledger {
        version: u64,
        event: &'static str,
        error: LedgerError,
    },
    #[error("event {version} ({event}) repeats application {application}")]
    Duplicate {
        version: u64,
        event: &'static str,
        application: ApplicationId,
    },
    #[error("event {version} ({event}) opens a programme that is already open")]
    Reopened { version: u64, event: &'static str },
}

/// Applies one event. On error the state is unchanged.
pub fn evolve(state: &mut State, event: &Event) -> Result<(), ReplayError> {
    let version = fold(state, event)?;
    Arc::make_mut(&mut state.commands).record_event(event, version);
    Ok(())
}

/// [`evolve`] without recording the event's command in the command index:
/// for the copy of a state that a command is decided on after its due
/// deadlines, which is thrown away and never asks the index.
pub(crate) fn evolve_scratch(state: &mut State, event: &Event) -> Result<(), ReplayError> {
    fold(state, event).map(|_| ())
}

/// Everything [`evolve`] does but the command index; returns the version.
fn fold(state: &mut State, event: &Event) -> Result<u64, ReplayError> {
    let at = Position {
        version: state.version + 1,
        event: event.kind.name(),
    };
    match &event.kind {
        EventKind::ProgrammeOpened { programme } => programme_opened(state, programme, at)?,
        EventKind::PotToppedUp { amount, .. } => pot_topped_up(state, *amount, at)?,
        EventKind::Submitted {
            application,
            applicant,
            request,
            coverage,
        } => submitted(
            state,
            *application,
            applicant,
            request,
            *coverage,
            event.at,
            at,
        )?,
        kind => application_event(state, kind, at)?,
    }
    state.version = at.version;
    state.last_at = Some(state.last_at.map_or(event.at, |t| t.max(event.at)));
    Ok(at.version)
}

/// Where in the stream an event sits, for its error.
#[derive(Clone, Copy)]
struct Position {
    version: u64,
    event: &'static str,
}

impl Position {
    fn ledger(self, error: LedgerError) -> ReplayError {
        ReplayError::Ledger {
            version: self.version,
            event: self.event,
            error,
        }
    }

    fn overflow(self) -> ReplayError {
        self.ledger(LedgerError::Overflow)
    }
}

fn programme_opened(
    state: &mut State,
    programme: &Programme,
    at: Position,
) -> Result<(), ReplayError> {
    if state.programme.is_some() {
        return Err(ReplayError::Reopened {
            version: at.version,
            event: at.event,
        });
    }
    state.pot = Pot::opened_with(programme.pot.value);
    state.sectors = vec![SectorTotals::default(); programme.sectors.len()];
    state.programme = Some(Box::new(programme.clone()));
    Ok(())
}

fn pot_topped_up(state: &mut State, amount: Money, at: Position) -> Result<(), ReplayError> {
    if state.programme.is_none() {
        return Err(ReplayError::NotOpened {
            version: at.version,
            event: at.event,
        });
    }
    state.pot.top_up(amount).map_err(|e| at.ledger(e))
}

fn submitted(
    state: &mut State,
    id: ApplicationId,
    applicant: &Arc<Applicant>,
    request: &CostRequest,
    coverage: Option<Coverage>,
    now: DateTime<Utc>,
    at: Position,
) -> Result<(), ReplayError> {
    let p = state.programme.as_deref().ok_or(ReplayError::NotOpened {
        version: at.version,
        event: at.event,
    })?;
    let app = Application {
        id,
        arrival: state.applications.len() as u64,
        sector: p
            .sector(&applicant.sector)
            .and_then(|(i, _)| u16::try_from(i).ok()),
        applicant: applicant.clone(),
        request: request.clone(),
        coverage,
        submitted_at: now,
        stage: Stage::Submitted,
        account: Account::default(),
        item_paid: [Money::ZERO; 3],
        certificate_expires: None,
    };
    // A taken id is refused by `push`, and nothing changes.
    state
        .applications
        .push(app)
        .map_err(|application| ReplayError::Duplicate {
            version: at.version,
            event: at.event,
            application,
        })
}

/// The parts of the state one application's event may change, borrowed
/// apart so that each event's function takes them all at once.
struct Parts<'s> {
    p: &'s Programme,
    pot: &'s mut Pot,
    sector: &'s mut SectorTotals,
    waitlist: &'s mut Waitlist,
    deadlines: &'s mut Deadlines,
    invoices: &'s mut Invoices,
    app: &'s mut Application,
    at: Position,
}

fn application_event(state: &mut State, kind: &EventKind, at: Position) -> Result<(), ReplayError> {
    let State {
        programme,
        pot,
        sectors,
        applications,
        waitlist,
        deadlines,
        invoices,
        ..
    } = state;
    let p = programme.as_deref().ok_or(ReplayError::NotOpened {
        version: at.version,
        event: at.event,
    })?;
    let id = kind.application().ok_or(ReplayError::NotOpened {
        version: at.version,
        event: at.event,
    })?;
    let app = applications
        .get_mut(&id)
        .ok_or(ReplayError::UnknownApplication {
            version: at.version,
            event: at.event,
            application: id,
        })?;
    let mut no_sector = SectorTotals::default();
    let sector = match app.sector.and_then(|s| sectors.get_mut(usize::from(s))) {
        Some(s) => s,
        None => &mut no_sector,
    };
    let mut parts = Parts {
        p,
        pot,
        sector,
        waitlist,
        deadlines,
        invoices,
        app,
        at,
    };
    let stage = match kind {
        EventKind::FoundIneligible { .. } => found_ineligible(&mut parts),
        EventKind::Waitlisted { .. } => waitlisted(&mut parts),
        EventKind::Offered {
            amount, expires, ..
        } => offered(&mut parts, *amount, *expires)?,
        EventKind::Accepted { pass_by, .. } => Some(Stage::Awarded { pass_by: *pass_by }),
        EventKind::Declined { .. } => closed(&mut parts, Stage::Declined)?,
        EventKind::Lapsed { .. } => closed(&mut parts, Stage::Lapsed)?,
        EventKind::Withdrawn { .. } => closed(&mut parts, Stage::Withdrawn)?,
        EventKind::CertificationFailed { .. } => closed(&mut parts, Stage::Failed)?,
        EventKind::Completed { .. } => closed(&mut parts, Stage::Completed)?,
        EventKind::ConsultancyEngaged { .. } => consultancy_engaged(&parts),
        EventKind::SelfAssessmentSubmitted { attempt, .. } => {
            self_assessment_submitted(&parts, *attempt)
        }
        EventKind::AssessmentFailed { respond_by, .. } => assessment_failed(&parts, *respond_by),
        EventKind::Certified {
            expires, plus_by, ..
        } => certified(&mut parts, *expires, *plus_by),
        EventKind::PlusAuditBooked { attempt, .. } => plus_audit_booked(&parts, *attempt),
        EventKind::PlusAuditFailed { retest_by, .. } => plus_audit_failed(&parts, *retest_by),
        EventKind::PlusCertified { .. } => Some(Stage::PlusCertified),
        EventKind::PlusNotAchieved { .. } => Some(Stage::PlusNotAchieved),
        EventKind::ClaimPaid {
            item,
            invoice_ref,
            amount,
            ..
        } => claim_paid(&mut parts, *item, invoice_ref, *amount)?,
        EventKind::ClawedBack { amount, .. } => clawed_back(&mut parts, *amount)?,
        EventKind::ReminderDue { reminder, .. } => reminder_due(&mut parts, reminder),
        EventKind::ProgrammeOpened { .. }
        | EventKind::PotToppedUp { .. }
        | EventKind::Submitted { .. } => None,
    };
    if let Some(stage) = stage {
        move_to(&mut parts, stage);
    }
    Ok(())
}

fn found_ineligible(parts: &mut Parts<'_>) -> Option<Stage> {
    parts.app.coverage = None;
    Some(Stage::Ineligible)
}

fn waitlisted(parts: &mut Parts<'_>) -> Option<Stage> {
    let app = &*parts.app;
    parts.waitlist.join(app.arrival, app.id, app.award());
    Some(Stage::Waitlisted)
}

fn offered(
    parts: &mut Parts<'_>,
    amount: Money,
    expires: DateTime<Utc>,
) -> Result<Option<Stage>, ReplayError> {
    let at = parts.at;
    parts
        .pot
        .reserve(&mut parts.app.account, amount)
        .map_err(|e| at.ledger(e))?;
    parts.sector.reserved = parts
        .sector
        .reserved
        .checked_add(amount)
        .map_err(|_| at.overflow())?;
    parts.waitlist.leave(parts.app.arrival, parts.app.award());
    Ok(Some(Stage::Offered { expires }))
}

/// Declined, lapsed, withdrawn, failed or completed: whatever is still
/// reserved goes back to the pot (a waitlisted one just leaves the list).
fn closed(parts: &mut Parts<'_>, stage: Stage) -> Result<Option<Stage>, ReplayError> {
    let at = parts.at;
    let app = &mut *parts.app;
    if app.account.reserved_at_award.is_zero() {
        // Never funded (waitlisted): nothing to release.
        parts.waitlist.leave(app.arrival, app.award());
    } else if !app.account.resolved {
        let released = parts
            .pot
            .release(&mut app.account)
            .map_err(|e| at.ledger(e))?;
        let sector = &mut *parts.sector;
        sector.reserved = sector.reserved.saturating_sub(released);
        sector.released = sector
            .released
            .checked_add(released)
            .map_err(|_| at.overflow())?;
    }
    Ok(Some(stage))
}

fn consultancy_engaged(parts: &Parts<'_>) -> Option<Stage> {
    let pass_by = parts.app.stage.pass_by()?;
    Some(Stage::ConsultancyEngaged { pass_by })
}

fn self_assessment_submitted(parts: &Parts<'_>, attempt: u8) -> Option<Stage> {
    let pass_by = parts.app.stage.pass_by()?;
    Some(Stage::SelfAssessmentSubmitted { pass_by, attempt })
}

fn assessment_failed(parts: &Parts<'_>, respond_by: DateTime<Utc>) -> Option<Stage> {
    let pass_by = parts.app.stage.pass_by()?;
    Some(Stage::FeedbackDue {
        pass_by,
        respond_by,
    })
}

fn certified(
    parts: &mut Parts<'_>,
    expires: DateTime<Utc>,
    plus_by: Option<DateTime<Utc>>,
) -> Option<Stage> {
    parts.app.certificate_expires = Some(expires);
    for d in certificate_deadlines(parts.p, parts.app) {
        parts.deadlines.insert(d);
    }
    Some(Stage::Certified { plus_by })
}

fn plus_audit_booked(parts: &Parts<'_>, attempt: u8) -> Option<Stage> {
    match parts.app.stage {
        Stage::Certified {
            plus_by: Some(plus_by),
        }
        | Stage::PlusRetest { plus_by, .. } => Some(Stage::PlusAuditBooked { plus_by, attempt }),
        _ => None,
    }
}

fn plus_audit_failed(parts: &Parts<'_>, retest_by: DateTime<Utc>) -> Option<Stage> {
    match parts.app.stage {
        Stage::PlusAuditBooked { plus_by, .. } => Some(Stage::PlusRetest { plus_by, retest_by }),
        _ => None,
    }
}

fn claim_paid(
    parts: &mut Parts<'_>,
    item: Item,
    invoice_ref: &str,
    amount: Money,
) -> Result<Option<Stage>, ReplayError> {
    let at = parts.at;
    let app = &mut *parts.app;
    parts
        .pot
        .post(&mut app.account, amount)
        .map_err(|e| at.ledger(e))?;
    let sector = &mut *parts.sector;
    sector.reserved = sector.reserved.saturating_sub(amount);
    sector.paid = sector.paid.checked_add(amount).map_err(|_| at.overflow())?;
    let paid = &mut app.item_paid[item.index()];
    *paid = paid.checked_add(amount).map_err(|_| at.overflow())?;
    parts.invoices.insert(invoice_ref, app.id);
    Ok(None)
}

fn clawed_back(parts: &mut Parts<'_>, amount: Money) -> Result<Option<Stage>, ReplayError> {
    let at = parts.at;
    parts
        .pot
        .recover(&mut parts.app.account, amount)
        .map_err(|e| at.ledger(e))?;
    parts.sector.recovered = parts
        .sector
        .recovered
        .checked_add(amount)
        .map_err(|_| at.overflow())?;
    Ok(None)
}

fn reminder_due(parts: &mut Parts<'_>, reminder: &Reminder) -> Option<Stage> {
    let d = reminder_deadline(parts.p, parts.app, reminder);
    parts.deadlines.remove(&d);
    None
}

/// Moves the application to `stage`, changing only the difference between
/// the two stages' deadlines. A deadline both stages carry stays as it is:
/// in particular a reminder the old stage already fired (so no longer
/// pending) does not come back (Plus audit booked, failed, re-booked: one
/// Plus reminder). Most stage changes keep the deadlines (a consultant
/// engaged, a self-assessment sent, a completion): then there is nothing
/// to diff.
fn move_to(parts: &mut Parts<'_>, stage: Stage) {
    let (p, app) = (parts.p, &mut *parts.app);
    let (old, new) = if stage_deadline_basis(&app.stage) == stage_deadline_basis(&stage) {
        ([None; 3], [None; 3])
    } else {
        (
            stage_deadline_slots(p, app, &app.stage),
            stage_deadline_slots(p, app, &stage),
        )
    };
    for d in old.iter().flatten() {
        if !new.contains(&Some(*d)) {
            parts.deadlines.remove(d);
        }
    }
    if stage == Stage::Withdrawn {
        for d in certificate_deadlines(p, app) {
            parts.deadlines.remove(&d);
        }
    }
    for d in new.iter().flatten() {
        if !old.contains(&Some(*d)) {
            parts.deadlines.insert(*d);
        }
    }
    app.stage = stage;
}

/// The (at most three) deadlines that belong to a stage, without allocating.
fn stage_deadline_slots(p: &Programme, app: &Application, stage: &Stage) -> [Option<Deadline>; 3] {
    let mk = |at: DateTime<Utc>, kind| Deadline {
        at,
        arrival: app.arrival,
        kind,
        application: app.id,
    };
    let w = &p.windows;
    let mut out: [Option<Deadline>; 3] = [None; 3];
    match *stage {
        Stage::Offered { expires } => {
            out[0] = Some(mk(
                expires - Duration::days(i64::from(w.offer_reminder_days.value)),
                DeadlineKind::OfferReminder,
            ));
            out[1] = Some(mk(expires, DeadlineKind::OfferExpiry));
        }
        Stage::Awarded { pass_by }
        | Stage::ConsultancyEngaged { pass_by }
        | Stage::SelfAssessmentSubmitted { pass_by, .. } => {
            out[0] = Some(mk(pass_by, DeadlineKind::PassWindow));
        }
        Stage::FeedbackDue {
            pass_by,
            respond_by,
        } => {
            out[0] = Some(mk(pass_by, DeadlineKind::PassWindow));
            out[1] = Some(mk(
                respond_by - Duration::days(1),
                DeadlineKind::FeedbackReminder,
            ));
            out[2] = Some(mk(respond_by, DeadlineKind::FeedbackClose));
        }
        Stage::Certified {
            plus_by: Some(plus_by),
        }
        | Stage::PlusAuditBooked { plus_by, .. } => {
            out[0] = Some(mk(
                plus_by - Duration::days(i64::from(w.plus_reminder_days.value)),
                DeadlineKind::PlusReminder,
            ));
            out[1] = Some(mk(plus_by, DeadlineKind::PlusWindow));
        }
        Stage::PlusRetest { plus_by, retest_by } => {
            out[0] = Some(mk(
                plus_by - Duration::days(i64::from(w.plus_reminder_days.value)),
                DeadlineKind::PlusReminder,
            ));
            out[1] = Some(mk(plus_by, DeadlineKind::PlusWindow));
            out[2] = Some(mk(retest_by, DeadlineKind::PlusRetest));
        }
        _ => {}
    }
    out
}

/// What [`stage_deadline_slots`] computes a stage's deadlines from: which
/// of its arms the stage takes and that arm's times. Two stages of one
/// application with the same basis carry the same deadlines.
fn stage_deadline_basis(stage: &Stage) -> (u8, Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    match *stage {
        Stage::Offered { expires } => (1, Some(expires), None),
        Stage::Awarded { pass_by }
        | Stage::ConsultancyEngaged { pass_by }
        | Stage::SelfAssessmentSubmitted { pass_by, .. } => (2, Some(pass_by), None),
        Stage::FeedbackDue {
            pass_by,
            respond_by,
        } => (3, Some(pass_by), Some(respond_by)),
        Stage::Certified {
            plus_by: Some(plus_by),
        }
        | Stage::PlusAuditBooked { plus_by, .. } => (4, Some(plus_by), None),
        Stage::PlusRetest { plus_by, retest_by } => (5, Some(plus_by), Some(retest_by)),
        _ => (0, None, None),
    }
}

/// The certificate-expiry reminders of a certified application.
pub(crate) fn certificate_deadlines(
    p: &Programme,
    app: &Application,
) -> impl Iterator<Item = Deadline> {
    let expires = app.certificate_expires;
    let (arrival, id) = (app.arrival, app.id);
    p.windows
        .expiry_reminder_days
        .value
        .iter()
        .filter_map(move |d| {
            expires.map(|e| Deadline {
                at: e - Duration::days(i64::from(*d)),
                arrival,
                kind: DeadlineKind::CertificateReminder(*d),
                application: id,
            })
        })
}

/// The deadline a reminder answers.
pub(crate) fn reminder_deadline(p: &Programme, app: &Application, reminder: &Reminder) -> Deadline {
    let w = &p.windows;
    let (at, kind) = match *reminder {
        Reminder::OfferExpiring { expires } => (
            expires - Duration::days(i64::from(w.offer_reminder_days.value)),
            DeadlineKind::OfferReminder,
        ),
        Reminder::FeedbackClosing { closes } => {
            (closes - Duration::days(1), DeadlineKind::FeedbackReminder)
        }
        Reminder::PlusWindowClosing { closes } => (
            closes - Duration::days(i64::from(w.plus_reminder_days.value)),
            DeadlineKind::PlusReminder,
        ),
        Reminder::CertificateExpiring { expires, days } => (
            expires - Duration::days(i64::from(days)),
            DeadlineKind::CertificateReminder(days),
        ),
    };
    Deadline {
        at,
        arrival: app.arrival,
        kind,
        application: app.id,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::Duration;
    use proptest::prelude::*;

    use super::*;
    use crate::testing::fixtures;

    fn stage(kind: u8, a: i64, b: i64, attempt: u8) -> Stage {
        let base = fixtures::day(0);
        let (a, b) = (base + Duration::days(a), base + Duration::days(b));
        match kind % 19 {
            0 => Stage::Submitted,
            1 => Stage::Ineligible,
            2 => Stage::Waitlisted,
            3 => Stage::Offered { expires: a },
            4 => Stage::Declined,
            5 => Stage::Lapsed,
            6 => Stage::Awarded { pass_by: a },
            7 => Stage::ConsultancyEngaged { pass_by: a },
            8 => Stage::SelfAssessmentSubmitted {
                pass_by: a,
                attempt,
            },
            9 => Stage::FeedbackDue {
                pass_by: a,
                respond_by: b,
            },
            10 => Stage::Failed,
            11 => Stage::Certified { plus_by: Some(a) },
            12 => Stage::Certified { plus_by: None },
            13 => Stage::PlusAuditBooked {
                plus_by: a,
                attempt,
            },
            14 => Stage::PlusRetest {
                plus_by: a,
                retest_by: b,
            },
            15 => Stage::PlusCertified,
            16 => Stage::PlusNotAchieved,
            17 => Stage::Completed,
            _ => Stage::Withdrawn,
        }
    }

    /// A second `submitted` event for a taken id is refused, naming the
    /// id, and leaves the state as it was.
    #[test]
    fn a_taken_id_is_refused_on_replay() {
        use crate::decide::decide;
        use crate::messages::command::{Action, Command};
        use crate::messages::ids::CommandId;
        let at = fixtures::day(0);
        let mut state = State::default();
        let open = Command::new(
            CommandId::new(uuid::Uuid::from_u128(1)),
            Action::Open {
                programme: Box::new(Programme::healthcare_cyber_essentials_2020()),
            },
        );
        for e in decide(&state, &open, at).expect("opens") {
            evolve(&mut state, &e).expect("applies");
        }
        let id = ApplicationId::new(uuid::Uuid::from_u128(7));
        let submit = Command::new(
            CommandId::new(uuid::Uuid::from_u128(2)),
            Action::Submit {
                application: id,
                applicant: Arc::new(fixtures::applicant(7)),
                request: fixtures::request(),
            },
        );
        let events = decide(&state, &submit, at).expect("submits");
        let submitted = events
            .iter()
            .find(|e| matches!(e.kind, crate::messages::event::EventKind::Submitted { .. }))
            .expect("a submitted event")
            .clone();
        for e in &events {
            evolve(&mut state, e).expect("applies");
        }
        let before = state.clone();
        let again = evolve(&mut state, &submitted);
        assert_eq!(
            again,
            Err(ReplayError::Duplicate {
                version: before.version + 1,
                event: submitted.kind.name(),
                application: id,
            })
        );
        assert_eq!(state, before);
    }

    proptest! {
        /// Stages with the same basis carry the same deadlines, so that
        /// `apply` may skip the diff between them.
        #[test]
        fn stages_with_one_basis_carry_the_same_deadlines(
            k1 in 0u8..19, a1 in 0i64..3, b1 in 0i64..3, t1 in 1u8..3,
            k2 in 0u8..19, a2 in 0i64..3, b2 in 0i64..3, t2 in 1u8..3,
        ) {
            let p = Programme::healthcare_cyber_essentials_2020();
            let app = Application {
                id: ApplicationId::new(uuid::Uuid::from_u128(7)),
                arrival: 3,
                sector: None,
                applicant: Arc::new(fixtures::applicant(7)),
                request: fixtures::request(),
                coverage: None,
                submitted_at: fixtures::day(0),
                stage: Stage::Submitted,
                account: Account::default(),
                item_paid: [Money::ZERO; 3],
                certificate_expires: None,
            };
            let (s1, s2) = (stage(k1, a1, b1, t1), stage(k2, a2, b2, t2));
            if stage_deadline_basis(&s1) == stage_deadline_basis(&s2) {
                prop_assert_eq!(
                    stage_deadline_slots(&p, &app, &s1),
                    stage_deadline_slots(&p, &app, &s2)
                );
            }
        }
    }
}
