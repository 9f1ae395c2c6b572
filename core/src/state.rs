//! The programme's state, rebuilt from events: [`State`] holds the rules,
//! the [`Pot`], every [`Application`], the waitlist and the deadline index.
//! [`evolve`] applies one event; it never decides anything.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::applicant::{Applicant, CostRequest};
pub use crate::applications::Applications;
use crate::command::{Action, Command, Origin};
use crate::coverage::{Coverage, Item};
pub use crate::deadlines::{Deadline, DeadlineKind, Deadlines};
use crate::event::{Event, EventKind, Reminder};
use crate::idempotency::CommandIndex;
use crate::ids::ApplicationId;
use crate::invoices::Invoices;
use crate::ledger::{Account, InvariantViolation, LedgerError, Pot};
use crate::lifecycle::Stage;
use crate::money::Money;
use crate::programme::Programme;

/// One application and its award.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    pub id: ApplicationId,
    /// Arrival order within the programme (0-based).
    pub arrival: u64,
    /// Index of the declared sector in the programme's rules, if known.
    pub sector: Option<u16>,
    /// Shared with the `submitted` event it came from.
    pub applicant: Arc<Applicant>,
    pub request: CostRequest,
    /// Covered amounts; absent for an ineligible application.
    pub coverage: Option<Coverage>,
    pub submitted_at: DateTime<Utc>,
    pub stage: Stage,
    pub account: Account,
    /// Paid per covered item, indexed by [`Item::index`].
    pub item_paid: [Money; 3],
    /// When the certificate expires, once certified.
    pub certificate_expires: Option<DateTime<Utc>>,
}

impl Application {
    /// The award amount (zero when ineligible).
    pub fn award(&self) -> Money {
        self.coverage.map_or(Money::ZERO, |c| c.award)
    }

    /// What can still be paid for `item`: its covered amount less what was
    /// paid for it, and never more than the award's outstanding reservation.
    pub fn payable(&self, item: Item) -> Money {
        let covered = self.coverage.map_or(Money::ZERO, |c| c.item(item));
        covered
            .saturating_sub(self.item_paid[item.index()])
            .min(self.account.outstanding)
    }
}

/// Money per sector.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectorTotals {
    pub reserved: Money,
    pub paid: Money,
    pub released: Money,
    pub recovered: Money,
}

impl SectorTotals {
    /// What counts against a ring-fence: reserved plus paid, less recovered.
    pub fn committed(&self) -> Money {
        self.reserved
            .checked_add(self.paid)
            .unwrap_or(Money::MAX)
            .saturating_sub(self.recovered)
    }
}

/// Where a command's events sit in the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRecord {
    /// Version of its first event (1-based).
    pub first_version: u64,
    /// How many events it recorded.
    pub events: u32,
    /// What it asked and when it was recorded, read from its first event;
    /// `None` from a store that reports only where the events sit, or for
    /// events written before origins were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<(Origin, DateTime<Utc>)>,
}

impl CommandRecord {
    /// Where a command's events sit, without what it asked.
    pub fn located(first_version: u64, events: u32) -> CommandRecord {
        CommandRecord {
            first_version,
            events,
            origin: None,
        }
    }
}

/// Everything known about one programme, folded from its events.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The rules, once opened.
    pub programme: Option<Box<Programme>>,
    /// Number of events applied.
    pub version: u64,
    /// The `now` of the newest event.
    pub last_at: Option<DateTime<Utc>>,
    pub pot: Pot,
    /// Money by sector, indexed like the programme's sectors.
    pub sectors: Vec<SectorTotals>,
    pub applications: Applications,
    /// Waitlisted applications by arrival.
    pub waitlist: BTreeMap<u64, ApplicationId>,
    /// How many waitlisted applications ask for each award amount (the
    /// smallest tells the allocator when nothing on the waitlist can fit).
    pub waitlist_awards: BTreeMap<Money, u32>,
    /// Pending deadlines; every entry belongs to its application's current stage.
    pub deadlines: Deadlines,
    /// Commands seen, for idempotency: every command of the events folded
    /// into this value. Not part of a snapshot (it is history, not state):
    /// after loading from one it holds only the commands of the tail, and
    /// the [`Engine`](crate::Engine) asks the store about older ones.
    #[serde(skip)]
    pub commands: CommandIndex,
    /// Supplier invoice references claimed, for uniqueness.
    pub invoices: Invoices,
}

/// An event that does not fit the state it is applied to: a corrupt or
/// foreign stream. The state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
pub fn certificate_deadlines(p: &Programme, app: &Application) -> impl Iterator<Item = Deadline> {
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

impl State {
    /// The rules, if the programme is open.
    pub fn programme(&self) -> Option<&Programme> {
        self.programme.as_deref()
    }

    /// Empties the state, keeping the capacity of its maps: for running many
    /// trials one after another without reallocating.
    pub fn clear(&mut self) {
        let State {
            programme,
            version,
            last_at,
            pot,
            sectors,
            applications,
            waitlist,
            waitlist_awards,
            deadlines,
            commands,
            invoices,
        } = self;
        *programme = None;
        *version = 0;
        *last_at = None;
        *pot = Pot::default();
        sectors.clear();
        applications.clear();
        waitlist.clear();
        waitlist_awards.clear();
        deadlines.clear();
        commands.clear();
        invoices.clear();
    }

    /// Reads, and throws away, what deciding `commands` will look up first:
    /// each command's entry in the idempotency index, its application and
    /// any invoice reference it claims. It changes nothing and returns
    /// nothing; it is a speed hint for a batch of commands against a large
    /// state. The lookups of different commands do not depend on each
    /// other, so the processor overlaps their cache misses here instead of
    /// waiting for each one in turn inside [`decide`](crate::decide()) (the
    /// prefetch phase of a batch, as in TigerBeetle). Worth it when the
    /// state is bigger than the processor's caches: at 50,000 applicants
    /// the core bench decides and evolves about a quarter faster with it
    /// (BENCHMARKS.md); a small state gains nothing.
    pub fn prefetch<'c>(&self, commands: impl IntoIterator<Item = &'c Command>) {
        for command in commands {
            std::hint::black_box(self.commands.get(&command.id));
            if let Some(id) = command.action.application() {
                std::hint::black_box(self.applications.get(&id).map(|a| a.stage));
            }
            if let Action::Claim { invoice_ref, .. } = &command.action {
                std::hint::black_box(self.invoices.contains_key(invoice_ref));
            }
        }
    }

    /// One application.
    pub fn application(&self, id: &ApplicationId) -> Option<&Application> {
        self.applications.get(id)
    }

    /// Checks every ledger invariant; `Err` means a bug.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        self.pot.check()?;
        let mut reserved = Money::ZERO;
        let mut paid = Money::ZERO;
        let mut recovered = Money::ZERO;
        let mut released = Money::ZERO;
        let mut sectors = vec![SectorTotals::default(); self.sectors.len()];
        let add = |a: Money, b: Money| {
            a.checked_add(b)
                .map_err(|e| InvariantViolation(e.to_string()))
        };
        for app in self.applications.values() {
            app.account.check()?;
            reserved = add(reserved, app.account.outstanding)?;
            paid = add(paid, app.account.paid)?;
            recovered = add(recovered, app.account.recovered)?;
            released = add(released, app.account.released)?;
            if app.account.paid > app.award() {
                return Err(InvariantViolation(format!(
                    "application {} paid {} above its award {}",
                    app.id,
                    app.account.paid,
                    app.award()
                )));
            }
            if let Some(s) = app.sector.and_then(|s| sectors.get_mut(usize::from(s))) {
                s.reserved = add(s.reserved, app.account.outstanding)?;
                s.paid = add(s.paid, app.account.paid)?;
                s.recovered = add(s.recovered, app.account.recovered)?;
                s.released = add(s.released, app.account.released)?;
            }
            let item_sum = app
                .item_paid
                .iter()
                .try_fold(Money::ZERO, |s, m| add(s, *m))?;
            if item_sum != app.account.paid {
                return Err(InvariantViolation(format!(
                    "application {} item payments {} != paid {}",
                    app.id, item_sum, app.account.paid
                )));
            }
            let waiting = self.waitlist.get(&app.arrival) == Some(&app.id);
            if waiting != matches!(app.stage, Stage::Waitlisted) {
                return Err(InvariantViolation(format!(
                    "application {} waitlist entry disagrees with its stage",
                    app.id
                )));
            }
        }
        if reserved != self.pot.reserved
            || paid != self.pot.paid
            || recovered != self.pot.recovered
            || released != self.pot.released
        {
            return Err(InvariantViolation(format!(
                "awards sum to reserved {reserved} paid {paid} recovered {recovered} released {released}, the pot says {:?}",
                self.pot
            )));
        }
        if sectors != self.sectors {
            return Err(InvariantViolation(
                "sector totals do not match the awards".into(),
            ));
        }
        if let Some(p) = self.programme() {
            for (i, rf) in p.allocation.ring_fences.iter().enumerate() {
                let used = p
                    .sector(&rf.sector)
                    .and_then(|(s, _)| self.sectors.get(s))
                    .map_or(Money::ZERO, |s| s.committed());
                if used > rf.cap {
                    return Err(InvariantViolation(format!(
                        "ring-fence {i} ({}) holds {used}, above its cap {}",
                        rf.sector, rf.cap
                    )));
                }
            }
        }
        let mut awards: BTreeMap<Money, u32> = BTreeMap::new();
        for id in self.waitlist.values() {
            if let Some(app) = self.applications.get(id) {
                *awards.entry(app.award()).or_default() += 1;
            }
        }
        if awards != self.waitlist_awards {
            return Err(InvariantViolation(
                "waitlist award counts do not match the waitlist".into(),
            ));
        }
        if self.waitlist.len() > self.applications.len() {
            return Err(InvariantViolation(
                "waitlist longer than the applications".into(),
            ));
        }
        Ok(())
    }
}

/// Applies one event. On error the state is unchanged.
pub fn evolve(state: &mut State, event: &Event) -> Result<(), ReplayError> {
    let version = state.version + 1;
    let name = event.kind.name();
    apply(state, event, version, name)?;
    state.version = version;
    state.last_at = Some(state.last_at.map_or(event.at, |t| t.max(event.at)));
    state.commands.record_event(event, version);
    Ok(())
}

fn apply(
    state: &mut State,
    event: &Event,
    version: u64,
    name: &'static str,
) -> Result<(), ReplayError> {
    let ledger = |error| ReplayError::Ledger {
        version,
        event: name,
        error,
    };
    if let EventKind::ProgrammeOpened { programme } = &event.kind {
        if state.programme.is_some() {
            return Err(ReplayError::Reopened {
                version,
                event: name,
            });
        }
        state.pot = Pot::opened_with(programme.pot.value);
        state.sectors = vec![SectorTotals::default(); programme.sectors.len()];
        state.programme = Some(programme.clone());
        return Ok(());
    }
    let State {
        programme,
        pot,
        sectors,
        applications,
        waitlist,
        waitlist_awards,
        deadlines,
        invoices,
        ..
    } = state;
    let p: &Programme = programme.as_deref().ok_or(ReplayError::NotOpened {
        version,
        event: name,
    })?;
    if let EventKind::PotToppedUp { amount, .. } = &event.kind {
        return pot.top_up(*amount).map_err(ledger);
    }
    if let EventKind::Submitted {
        application,
        applicant,
        request,
        coverage,
    } = &event.kind
    {
        // A taken id is refused by `push` with the same error.
        let arrival = applications.len() as u64;
        let app = Application {
            id: *application,
            arrival,
            sector: p
                .sector(&applicant.sector)
                .and_then(|(i, _)| u16::try_from(i).ok()),
            applicant: applicant.clone(),
            request: request.clone(),
            coverage: *coverage,
            submitted_at: event.at,
            stage: Stage::Submitted,
            account: Account::default(),
            item_paid: [Money::ZERO; 3],
            certificate_expires: None,
        };
        return applications
            .push(app)
            .map_err(|application| ReplayError::Duplicate {
                version,
                event: name,
                application,
            });
    }
    let id = event.kind.application().ok_or(ReplayError::NotOpened {
        version,
        event: name,
    })?;
    let app = applications
        .get_mut(&id)
        .ok_or(ReplayError::UnknownApplication {
            version,
            event: name,
            application: id,
        })?;
    let sector = app.sector.and_then(|s| sectors.get_mut(usize::from(s)));
    let mut scratch = SectorTotals::default();
    let sector = sector.unwrap_or(&mut scratch);
    let new_stage = match &event.kind {
        EventKind::FoundIneligible { .. } => {
            app.coverage = None;
            Some(Stage::Ineligible)
        }
        EventKind::Waitlisted { .. } => {
            waitlist.insert(app.arrival, id);
            *waitlist_awards.entry(app.award()).or_default() += 1;
            Some(Stage::Waitlisted)
        }
        EventKind::Offered {
            amount, expires, ..
        } => {
            pot.reserve(&mut app.account, *amount).map_err(ledger)?;
            sector.reserved = sector
                .reserved
                .checked_add(*amount)
                .map_err(|_| ledger(LedgerError::Overflow))?;
            if waitlist.remove(&app.arrival).is_some() {
                leave_waitlist(waitlist_awards, app.award());
            }
            Some(Stage::Offered { expires: *expires })
        }
        EventKind::Accepted { pass_by, .. } => Some(Stage::Awarded { pass_by: *pass_by }),
        EventKind::Declined { .. }
        | EventKind::Lapsed { .. }
        | EventKind::Withdrawn { .. }
        | EventKind::CertificationFailed { .. }
        | EventKind::Completed { .. } => {
            if app.account.reserved_at_award.is_zero() {
                // Never funded (waitlisted): nothing to release.
                if waitlist.remove(&app.arrival).is_some() {
                    leave_waitlist(waitlist_awards, app.award());
                }
            } else if !app.account.resolved {
                let released = pot.release(&mut app.account).map_err(ledger)?;
                sector.reserved = sector.reserved.saturating_sub(released);
                sector.released = sector
                    .released
                    .checked_add(released)
                    .map_err(|_| ledger(LedgerError::Overflow))?;
            }
            Some(match &event.kind {
                EventKind::Declined { .. } => Stage::Declined,
                EventKind::Lapsed { .. } => Stage::Lapsed,
                EventKind::Withdrawn { .. } => Stage::Withdrawn,
                EventKind::CertificationFailed { .. } => Stage::Failed,
                _ => Stage::Completed,
            })
        }
        EventKind::ConsultancyEngaged { .. } => app
            .stage
            .pass_by()
            .map(|pass_by| Stage::ConsultancyEngaged { pass_by }),
        EventKind::SelfAssessmentSubmitted { attempt, .. } => {
            app.stage
                .pass_by()
                .map(|pass_by| Stage::SelfAssessmentSubmitted {
                    pass_by,
                    attempt: *attempt,
                })
        }
        EventKind::AssessmentFailed { respond_by, .. } => {
            app.stage.pass_by().map(|pass_by| Stage::FeedbackDue {
                pass_by,
                respond_by: *respond_by,
            })
        }
        EventKind::Certified {
            expires, plus_by, ..
        } => {
            app.certificate_expires = Some(*expires);
            for d in certificate_deadlines(p, app) {
                deadlines.insert(d);
            }
            Some(Stage::Certified { plus_by: *plus_by })
        }
        EventKind::PlusAuditBooked { attempt, .. } => match app.stage {
            Stage::Certified {
                plus_by: Some(plus_by),
            }
            | Stage::PlusRetest { plus_by, .. } => Some(Stage::PlusAuditBooked {
                plus_by,
                attempt: *attempt,
            }),
            _ => None,
        },
        EventKind::PlusAuditFailed { retest_by, .. } => match app.stage {
            Stage::PlusAuditBooked { plus_by, .. } => Some(Stage::PlusRetest {
                plus_by,
                retest_by: *retest_by,
            }),
            _ => None,
        },
        EventKind::PlusCertified { .. } => Some(Stage::PlusCertified),
        EventKind::PlusNotAchieved { .. } => Some(Stage::PlusNotAchieved),
        EventKind::ClaimPaid {
            item,
            invoice_ref,
            amount,
            ..
        } => {
            pot.post(&mut app.account, *amount).map_err(ledger)?;
            sector.reserved = sector.reserved.saturating_sub(*amount);
            sector.paid = sector
                .paid
                .checked_add(*amount)
                .map_err(|_| ledger(LedgerError::Overflow))?;
            app.item_paid[item.index()] = app.item_paid[item.index()]
                .checked_add(*amount)
                .map_err(|_| ledger(LedgerError::Overflow))?;
            invoices.insert(invoice_ref, id);
            None
        }
        EventKind::ClawedBack { amount, .. } => {
            pot.recover(&mut app.account, *amount).map_err(ledger)?;
            sector.recovered = sector
                .recovered
                .checked_add(*amount)
                .map_err(|_| ledger(LedgerError::Overflow))?;
            None
        }
        EventKind::ReminderDue { reminder, .. } => {
            let d = reminder_deadline(p, app, reminder);
            deadlines.remove(&d);
            None
        }
        EventKind::ProgrammeOpened { .. }
        | EventKind::PotToppedUp { .. }
        | EventKind::Submitted { .. } => None,
    };
    if let Some(stage) = new_stage {
        // Only the difference between the two stages' deadlines touches the
        // index. A deadline both stages carry stays as it is: in particular a
        // reminder the old stage already fired (so no longer pending) does not
        // come back (Plus audit booked, failed, re-booked: one Plus reminder).
        // Most stage changes keep the deadlines (a consultant engaged, a
        // self-assessment sent, a completion): then there is nothing to diff.
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
                deadlines.remove(d);
            }
        }
        if stage == Stage::Withdrawn {
            for d in certificate_deadlines(p, app) {
                deadlines.remove(&d);
            }
        }
        for d in new.iter().flatten() {
            if !old.contains(&Some(*d)) {
                deadlines.insert(*d);
            }
        }
        app.stage = stage;
    }
    Ok(())
}

fn leave_waitlist(awards: &mut BTreeMap<Money, u32>, award: Money) {
    if let Some(n) = awards.get_mut(&award) {
        *n -= 1;
        if *n == 0 {
            awards.remove(&award);
        }
    }
}

/// The deadline a reminder answers.
pub fn reminder_deadline(p: &Programme, app: &Application, reminder: &Reminder) -> Deadline {
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
    use crate::conformance::fixtures;

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
        use crate::command::{Action, Command};
        use crate::decide::decide;
        use crate::ids::CommandId;
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
            .find(|e| matches!(e.kind, crate::event::EventKind::Submitted { .. }))
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
