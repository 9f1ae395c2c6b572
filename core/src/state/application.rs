//! One [`Application`] as the state keeps it: who applied, what the award
//! covers, where it stands in its lifecycle and what its [`Account`] holds;
//! and the [`SectorTotals`] the ring-fences count against.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ledger::money::Money;
use crate::ledger::pot::Account;
use crate::messages::ids::ApplicationId;
use crate::rules::applicant::{Applicant, CostRequest};
use crate::rules::coverage::{Coverage, Item};
use crate::state::lifecycle::Stage;

/// One application and its award. Read through its accessors; only
/// [`evolve`](crate::evolve) changes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    pub(crate) id: ApplicationId,
    pub(crate) arrival: u64,
    pub(crate) sector: Option<u16>,
    pub(crate) applicant: Arc<Applicant>,
    pub(crate) request: CostRequest,
    pub(crate) coverage: Option<Coverage>,
    pub(crate) submitted_at: DateTime<Utc>,
    pub(crate) stage: Stage,
    pub(crate) account: Account,
    /// Paid per covered item, indexed by [`Item::index`].
    pub(crate) item_paid: [Money; 3],
    pub(crate) certificate_expires: Option<DateTime<Utc>>,
}

impl Application {
    /// Its id.
    pub fn id(&self) -> ApplicationId {
        self.id
    }

    /// Arrival order within the programme (0-based).
    pub fn arrival(&self) -> u64 {
        self.arrival
    }

    /// Index of the declared sector in the programme's rules, if the rules name it.
    pub fn sector(&self) -> Option<u16> {
        self.sector
    }

    /// Who applied, as submitted.
    pub fn applicant(&self) -> &Applicant {
        &self.applicant
    }

    /// What was asked for.
    pub fn request(&self) -> &CostRequest {
        &self.request
    }

    /// The covered amounts; `None` for an ineligible application.
    pub fn coverage(&self) -> Option<Coverage> {
        self.coverage
    }

    /// When it was submitted.
    pub fn submitted_at(&self) -> DateTime<Utc> {
        self.submitted_at
    }

    /// Where it stands.
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// Its money: reserved, paid, released, recovered.
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// What was paid for `item`, gross.
    pub fn item_paid(&self, item: Item) -> Money {
        self.item_paid[item.index()]
    }

    /// When the certificate expires, once certified.
    pub fn certificate_expires(&self) -> Option<DateTime<Utc>> {
        self.certificate_expires
    }

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
    pub(crate) reserved: Money,
    pub(crate) paid: Money,
    pub(crate) released: Money,
    pub(crate) recovered: Money,
}

impl SectorTotals {
    /// Committed to the sector's awards and not yet paid.
    pub fn reserved(&self) -> Money {
        self.reserved
    }

    /// Paid to the sector's awards, gross.
    pub fn paid(&self) -> Money {
        self.paid
    }

    /// Released back from the sector's awards.
    pub fn released(&self) -> Money {
        self.released
    }

    /// Recovered from the sector's awards.
    pub fn recovered(&self) -> Money {
        self.recovered
    }

    /// What counts against a ring-fence: reserved plus paid, less recovered.
    pub fn committed(&self) -> Money {
        self.reserved
            .checked_add(self.paid)
            .unwrap_or(Money::MAX)
            .saturating_sub(self.recovered)
    }
}
