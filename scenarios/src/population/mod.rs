//! The applicant population model: who applies, what they ask for, and how
//! they behave once they have an offer.
//!
//! A [`Population`] holds distributions; [`Population::draw`] turns it and a
//! seeded random number generator into one [`Draw`] per applicant: a compact
//! [`Profile`] (sector, size, eligibility answers and the parts of a plausible
//! name, Companies House number, contact and region), its [`CostRequest`], its
//! arrival time and a pre-drawn [`Behaviour`]. The real
//! [`grantflow_core::Applicant`] is written from the profile only when it is
//! needed ([`Profile::applicant`], or [`Profile::write_applicant`] into a
//! reused one), so drawing allocates no text per applicant. Drawing everything
//! up front keeps two runs of the
//! same draws comparable whatever the rules (common random numbers): the
//! programme decides who is eligible and who is funded, the draws only say what
//! each applicant would do.
//!
//! Every default is an assumption (there is no published data about who
//! applied to the 2020 fund); `examples/scenario-2020.toml` names each one.
//!
//! The parts: `distributions` holds the parameter types a [`Population`] is
//! made of, `preset` its 2020 default and `validation` its checks;
//! `sampling` turns it into [`Draw`]s (defined in `draw`), whose
//! [`Profile`] (in `profile`) writes its applicant from the name lists and
//! joined texts of `names`.
//!
//! [`CostRequest`]: grantflow_core::CostRequest

mod distributions;
mod draw;
mod names;
mod preset;
mod profile;
mod sampling;
mod validation;

pub use distributions::{
    Arrivals, BehaviourModel, DayRange, DaysMix, PoundsRange, Probability, SectorShare, SizeMix,
};
pub use draw::{Answer, Behaviour, Draw};
pub use profile::Profile;
pub use validation::PopulationError;

use serde::{Deserialize, Serialize};

/// An applicant population.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Population {
    /// How many organisations apply.
    pub applicants: u32,
    pub arrivals: Arrivals,
    /// Sector mix; sectors are the programme's ids.
    pub sectors: Vec<SectorShare>,
    pub sizes: SizeMix,
    /// Not based in the UK.
    pub non_uk: Probability,
    /// Already holds a valid Cyber Essentials certificate.
    pub already_certified: Probability,
    /// Asks for Cyber Essentials Plus.
    pub wants_plus: Probability,
    /// Consultancy days quoted.
    pub consultancy_days: DaysMix,
    /// Consultancy day rate quoted, before VAT.
    pub day_rate: PoundsRange,
    /// Plus audit quote, before VAT.
    pub plus_audit_quote: PoundsRange,
    pub behaviour: BehaviourModel,
}
