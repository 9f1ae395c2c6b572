//! Taking in the core's events: the pot, each applicant's outcome, and the
//! steps each event plans next.

use chrono::{DateTime, Utc};
use grantflow_core::{Event, EventKind, Item, Money, StageKind};

use super::Driver;
use super::clock::DAY;
use super::pot::{add, minus, plus};
use super::queue::Act;
use crate::population::Draw;

impl Driver {
    fn release(&mut self, i: usize, released: Money, stage: StageKind) {
        self.pot.reserved = minus(self.pot.reserved, released);
        self.pot.available = plus(self.pot.available, released);
        self.pot.released = plus(self.pot.released, released);
        if let Some(a) = self.apps.get_mut(i) {
            if a.out.stage == StageKind::Waitlisted {
                self.waitlisted = self.waitlisted.saturating_sub(1);
            }
            a.out.released = add(a.out.released, released);
            a.out.stage = stage;
        }
    }

    /// Takes in the events of a command run at `now` (an instant and its Unix time).
    pub(super) fn observe(&mut self, events: &[Event], draws: &[Draw], now: (DateTime<Utc>, i64)) {
        for e in events {
            // A command's events carry its `now`: its Unix time is known.
            let at = if e.at == now.0 {
                now.1
            } else {
                e.at.timestamp()
            };
            self.on_event(e, at, draws);
        }
        // Only a reservation lowers what is available.
        if std::mem::take(&mut self.reserved_since_min) {
            self.week_min = self.week_min.min(self.pot.available);
        }
    }

    /// Takes in one event that happened at Unix time `at`.
    fn on_event(&mut self, e: &Event, at: i64, draws: &[Draw]) {
        let days = |n: u16| at + i64::from(n) * DAY;
        let Some(i) = e.kind.application().and_then(|id| self.index(id)) else {
            // Only the programme's own events are about no application.
            match &e.kind {
                EventKind::ProgrammeOpened { programme } => {
                    self.pot.credits = plus(self.pot.credits, programme.pot.value);
                    self.pot.available = plus(self.pot.available, programme.pot.value);
                }
                EventKind::PotToppedUp { amount, .. } => {
                    self.pot.credits = plus(self.pot.credits, *amount);
                    self.pot.available = plus(self.pot.available, *amount);
                }
                _ => {}
            }
            return;
        };
        let (Some(draw), Some(a)) = (draws.get(i), self.apps.get_mut(i)) else {
            return;
        };
        let b = &draw.behaviour;
        match &e.kind {
            EventKind::Submitted { coverage, .. } => {
                a.coverage = *coverage;
                a.out.eligible = coverage.is_some();
                a.out.award = coverage.map_or(Money::ZERO, |c| c.award);
            }
            EventKind::FoundIneligible { .. } => {
                a.out.eligible = false;
                a.out.award = Money::ZERO;
                a.out.stage = StageKind::Ineligible;
            }
            EventKind::Waitlisted { .. } => {
                a.out.stage = StageKind::Waitlisted;
                self.waitlisted += 1;
                if let Some(p) = b.waitlist_patience_days {
                    self.push(days(p), i, Act::LeaveWaitlist);
                }
            }
            EventKind::Offered { amount, .. } => {
                if a.out.stage == StageKind::Waitlisted {
                    self.waitlisted = self.waitlisted.saturating_sub(1);
                }
                a.out.stage = StageKind::Offered;
                a.out.offered = true;
                self.offered += 1;
                self.pot.reserved = plus(self.pot.reserved, *amount);
                self.pot.available = minus(self.pot.available, *amount);
                self.reserved_since_min = true;
                self.push(days(b.answer_days), i, Act::Answer);
            }
            EventKind::Accepted { .. } => {
                a.out.stage = StageKind::Awarded;
                a.out.awarded = true;
                self.push(days(b.engage_days), i, Act::Engage);
                if let Some(w) = b.withdraw_days {
                    self.push(days(w), i, Act::Withdraw);
                }
            }
            EventKind::Declined { released, .. } => self.release(i, *released, StageKind::Declined),
            EventKind::Lapsed { released, .. } => self.release(i, *released, StageKind::Lapsed),
            EventKind::Withdrawn { released, .. } => {
                self.release(i, *released, StageKind::Withdrawn)
            }
            EventKind::CertificationFailed { released, .. } => {
                self.release(i, *released, StageKind::Failed)
            }
            EventKind::Completed { released, .. } => {
                self.release(i, *released, StageKind::Completed)
            }
            EventKind::ConsultancyEngaged { .. } => {
                a.out.stage = StageKind::ConsultancyEngaged;
                if !b.never_finish {
                    self.push(days(b.prepare_days), i, Act::SubmitAssessment);
                }
            }
            EventKind::SelfAssessmentSubmitted { attempt, .. } => {
                a.out.stage = StageKind::SelfAssessmentSubmitted;
                let consultancy = a
                    .coverage
                    .map_or(Money::ZERO, |c| c.item(Item::Consultancy));
                let first = *attempt <= 1;
                if first && !consultancy.is_zero() {
                    a.claims_pending += 1;
                }
                self.push(days(b.marking_days), i, Act::Verdict(*attempt));
                if first && !consultancy.is_zero() {
                    self.push(days(b.invoice_days), i, Act::Claim(Item::Consultancy));
                }
            }
            EventKind::AssessmentFailed { respond_by, .. } => {
                a.out.stage = StageKind::FeedbackDue;
                if b.answers_feedback {
                    self.push((at + DAY).min(respond_by.timestamp()), i, Act::Resubmit);
                }
            }
            EventKind::Certified { plus_by, .. } => {
                a.out.stage = StageKind::Certified;
                a.out.certified = true;
                let fee = a
                    .coverage
                    .map_or(Money::ZERO, |c| c.item(Item::CertificationFee));
                if !fee.is_zero() {
                    a.claims_pending += 1;
                }
                if plus_by.is_none() {
                    a.ready = true;
                }
                if !fee.is_zero() {
                    self.push(days(b.invoice_days), i, Act::Claim(Item::CertificationFee));
                }
                if plus_by.is_some() {
                    self.push(days(b.plus_booking_days), i, Act::BookPlus);
                }
                self.maybe_complete(at, i);
            }
            EventKind::PlusAuditBooked { attempt, .. } => {
                a.out.stage = StageKind::PlusAuditBooked;
                self.push(days(b.marking_days), i, Act::PlusVerdict(*attempt));
            }
            EventKind::PlusAuditFailed { .. } => {
                a.out.stage = StageKind::PlusRetest;
                self.push(days(b.plus_retest_days), i, Act::BookPlus);
            }
            EventKind::PlusCertified { .. } => {
                a.out.stage = StageKind::PlusCertified;
                a.out.plus_certified = true;
                a.ready = true;
                let plus = a.coverage.map_or(Money::ZERO, |c| c.item(Item::PlusAudit));
                if !plus.is_zero() {
                    a.claims_pending += 1;
                    self.push(days(b.invoice_days), i, Act::Claim(Item::PlusAudit));
                }
                self.maybe_complete(at, i);
            }
            EventKind::PlusNotAchieved { .. } => {
                a.out.stage = StageKind::PlusNotAchieved;
                a.ready = true;
                self.maybe_complete(at, i);
            }
            EventKind::ClaimPaid { amount, .. } => {
                a.out.paid = add(a.out.paid, *amount);
                self.pot.reserved = minus(self.pot.reserved, *amount);
                self.pot.paid = plus(self.pot.paid, *amount);
            }
            EventKind::ClawedBack { amount, .. } => {
                self.pot.credits = plus(self.pot.credits, *amount);
                self.pot.available = plus(self.pot.available, *amount);
            }
            // Reminders, the opening, top-ups, and any event a newer core
            // adds: nothing the driver tracks changes.
            _ => {}
        }
    }
}
