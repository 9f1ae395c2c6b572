//! The programme's state, rebuilt from events: [`State`] holds the rules,
//! the [`Pot`], every [`Application`] (in [`Applications`]), the
//! [`Waitlist`] and the [`Deadlines`]. [`evolve`] is its only writer: it
//! applies one event and never decides anything. A snapshot of it is
//! written and read through its own versioned format ([`State::to_snapshot`]).

pub(crate) mod application;
pub(crate) mod applications;
pub(crate) mod deadlines;
pub(crate) mod evolve;
pub(crate) mod idempotency;
pub(crate) mod invoices;
pub(crate) mod lifecycle;
pub(crate) mod snapshot;
pub(crate) mod waitlist;

use std::sync::Arc;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::ledger::money::Money;
use crate::ledger::pot::{InvariantViolation, Pot};
use crate::messages::command::{Action, Command};
use crate::messages::ids::ApplicationId;
use crate::rules::programme::Programme;
pub use application::{Application, SectorTotals};
pub use applications::Applications;
pub use deadlines::{Deadline, DeadlineKind, Deadlines};
pub(crate) use evolve::evolve_scratch;
pub use evolve::{ReplayError, evolve};
pub use idempotency::{CommandIndex, CommandRecord};
pub use invoices::Invoices;
pub use lifecycle::Stage;
pub use waitlist::Waitlist;

/// Everything known about one programme, folded from its events. Read
/// through its accessors; [`evolve`] is the only writer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    pub(crate) programme: Option<Box<Programme>>,
    pub(crate) version: u64,
    pub(crate) last_at: Option<DateTime<Utc>>,
    pub(crate) pot: Pot,
    pub(crate) sectors: Vec<SectorTotals>,
    pub(crate) applications: Applications,
    pub(crate) waitlist: Waitlist,
    pub(crate) deadlines: Deadlines,
    /// Shared between a state and its copies: a command's own decision
    /// never reads it, so the copy that [`decide`](crate::decide()) folds due
    /// deadlines into shares it instead of copying every command id.
    pub(crate) commands: Arc<CommandIndex>,
    pub(crate) invoices: Invoices,
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
        deadlines.clear();
        Arc::make_mut(commands).clear();
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

    /// Every application, in arrival order.
    pub fn applications(&self) -> &Applications {
        &self.applications
    }

    /// How many events were applied: the stream's version.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The `now` of the newest event: the programme's clock, which never goes back.
    pub fn last_at(&self) -> Option<DateTime<Utc>> {
        self.last_at
    }

    /// The pot's ledger.
    pub fn pot(&self) -> &Pot {
        &self.pot
    }

    /// Money by sector, indexed like the programme's sectors.
    pub fn sectors(&self) -> &[SectorTotals] {
        &self.sectors
    }

    /// The waitlist, first come first.
    pub fn waitlist(&self) -> &Waitlist {
        &self.waitlist
    }

    /// The pending deadlines; every one belongs to its application's current stage.
    pub fn deadlines(&self) -> &Deadlines {
        &self.deadlines
    }

    /// The commands seen, for idempotency: every command of the events
    /// folded into this value. After opening from a snapshot it holds only
    /// the commands of the tail, and the [`Engine`](crate::Engine) asks the
    /// store about older ones.
    pub fn commands(&self) -> &CommandIndex {
        &self.commands
    }

    /// The supplier invoice references claimed, for uniqueness.
    pub fn invoices(&self) -> &Invoices {
        &self.invoices
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
            let waiting = self.waitlist.holds(app.arrival, app.id);
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
        for (_, id) in self.waitlist.iter() {
            if let Some(app) = self.applications.get(&id) {
                *awards.entry(app.award()).or_default() += 1;
            }
        }
        if &awards != self.waitlist.awards() {
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
