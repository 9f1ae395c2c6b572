//! [`Draft`]: a command's working view of the state, the pot's figures and
//! the applications it changed so far, and the allocation rules applied to it.

use chrono::{DateTime, Duration, Utc};
use rustc_hash::FxHashSet;

use crate::ledger::money::Money;
use crate::messages::event::{Event, EventKind};
use crate::messages::ids::{ApplicationId, CommandId};
use crate::messages::rejection::{Rejection, RejectionCode as Code};
use crate::rules::programme::{Programme, WaitlistPolicy};
use crate::state::{Application, State};

/// A command's working view: the state plus what this command changed so far.
pub(super) struct Draft<'a> {
    pub(super) state: &'a State,
    pub(super) p: &'a Programme,
    pub(super) command: CommandId,
    pub(super) now: DateTime<Utc>,
    pub(super) events: Vec<Event>,
    pub(super) available: Money,
    /// Committed money per sector; only kept when the programme has ring-fences.
    pub(super) sector_committed: Option<Vec<Money>>,
    /// Applications whose stage this command changed.
    pub(super) touched: IdSet,
    /// Waitlisted applications that left the waitlist in this command.
    pub(super) left_waitlist: IdSet,
}

/// A set of application ids that is nearly always tiny (one command touches
/// one application, a busy tick a few hundred): the first few live inline,
/// without allocating; the rest go to a hash set.
#[derive(Default)]
pub(super) struct IdSet {
    inline: [Option<ApplicationId>; IdSet::INLINE],
    more: FxHashSet<ApplicationId>,
}

impl IdSet {
    const INLINE: usize = 4;

    pub(super) fn contains(&self, id: &ApplicationId) -> bool {
        self.inline.iter().any(|i| i.as_ref() == Some(id))
            || (!self.more.is_empty() && self.more.contains(id))
    }

    pub(super) fn insert(&mut self, id: ApplicationId) {
        if self.contains(&id) {
            return;
        }
        match self.inline.iter_mut().find(|i| i.is_none()) {
            Some(slot) => *slot = Some(id),
            None => {
                self.more.insert(id);
            }
        }
    }
}

impl<'a> Draft<'a> {
    pub(super) fn new(
        state: &'a State,
        p: &'a Programme,
        command: CommandId,
        now: DateTime<Utc>,
        events: Vec<Event>,
    ) -> Self {
        let sector_committed = (!p.allocation.ring_fences.is_empty())
            .then(|| state.sectors.iter().map(|s| s.committed()).collect());
        Draft {
            state,
            p,
            command,
            now,
            events,
            available: state.pot.available,
            sector_committed,
            touched: IdSet::default(),
            left_waitlist: IdSet::default(),
        }
    }

    pub(super) fn emit(&mut self, kind: EventKind) {
        self.events.push(Event::new(self.command, self.now, kind));
    }

    pub(super) fn app(&self, id: &ApplicationId) -> Result<&'a Application, Rejection> {
        self.state.applications.get(id).ok_or_else(|| {
            Rejection::new(
                Code::UnknownApplication,
                format!(
                    "no application has id {id}: check the id, or submit the application first"
                ),
                "application",
            )
        })
    }

    pub(super) fn ring_fence_cap(&self, sector: Option<u16>) -> Option<Money> {
        let s = usize::from(sector?);
        let id = &self.p.sectors.get(s)?.id;
        self.p
            .allocation
            .ring_fences
            .iter()
            .find(|rf| &rf.sector == id)
            .map(|rf| rf.cap)
    }

    pub(super) fn fits(&self, sector: Option<u16>, amount: Money) -> bool {
        let keep = self.p.allocation.contingency.value;
        let free = self.available.saturating_sub(keep);
        if self.available < keep || free < amount {
            return false;
        }
        match (self.ring_fence_cap(sector), &self.sector_committed, sector) {
            (Some(cap), Some(used), Some(s)) => used
                .get(usize::from(s))
                .and_then(|u| u.checked_add(amount).ok())
                .is_some_and(|t| t <= cap),
            _ => true,
        }
    }

    pub(super) fn adjust_sector(&mut self, sector: Option<u16>, amount: Money, up: bool) {
        if let (Some(used), Some(s)) = (&mut self.sector_committed, sector) {
            if let Some(u) = used.get_mut(usize::from(s)) {
                *u = if up {
                    u.checked_add(amount).unwrap_or(Money::MAX)
                } else {
                    u.saturating_sub(amount)
                };
            }
        }
    }

    pub(super) fn offer(&mut self, id: ApplicationId, sector: Option<u16>, amount: Money) {
        let expires = self.now + Duration::days(i64::from(self.p.windows.offer_days.value));
        self.emit(EventKind::Offered {
            application: id,
            amount,
            expires,
        });
        self.available = self.available.saturating_sub(amount);
        self.adjust_sector(sector, amount, true);
        self.touched.insert(id);
        self.left_waitlist.insert(id);
    }

    /// Releases the application's outstanding reservation in the draft; returns the amount.
    pub(super) fn release(&mut self, app: &Application) -> Money {
        let amount = if app.account.resolved {
            Money::ZERO
        } else {
            app.account.outstanding
        };
        self.available = self.available.checked_add(amount).unwrap_or(Money::MAX);
        self.adjust_sector(app.sector, amount, false);
        self.touched.insert(app.id);
        amount
    }

    /// Offers the waitlist in arrival order under the programme's policy.
    pub(super) fn offer_waitlist(&mut self) {
        let strict = self.p.allocation.policy.value == WaitlistPolicy::Strict;
        let state = self.state;
        let keep = self.p.allocation.contingency.value;
        // Nothing on the waitlist asks for less than this: below it, no scan can offer anything.
        let Some(smallest) = state.waitlist.smallest_award() else {
            return;
        };
        for (arrival, id) in state.waitlist.iter() {
            if self.available.saturating_sub(keep) < smallest || self.available < keep {
                break;
            }
            if self.left_waitlist.contains(&id) {
                continue;
            }
            let Some(app) = state
                .applications
                .by_arrival(arrival)
                .filter(|a| a.id == id)
            else {
                continue;
            };
            let amount = app.award();
            if self.fits(app.sector, amount) {
                self.offer(id, app.sector, amount);
            } else if strict {
                break;
            }
        }
    }
}
