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

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use grantflow_core::{Applicant, Contact, CostRequest, Level, Money, Organisation};
use rand::Rng;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A share of applicants with some property: a probability from 0 to 1.
pub type Probability = f64;

/// Whole days, drawn uniformly from `min` to `max` inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayRange {
    pub min: u16,
    pub max: u16,
}

impl DayRange {
    /// A range from `min` to `max` days.
    pub const fn new(min: u16, max: u16) -> DayRange {
        DayRange { min, max }
    }

    fn draw(&self, rng: &mut impl Rng) -> u16 {
        if self.max <= self.min {
            self.min
        } else {
            rng.random_range(self.min..=self.max)
        }
    }
}

/// An amount in whole pounds from a triangular distribution (`min`, `mode`,
/// `max`), rounded to the nearest `step` pounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoundsRange {
    pub min: u32,
    pub mode: u32,
    pub max: u32,
    #[serde(default = "one")]
    pub step: u32,
}

fn one() -> u32 {
    1
}

impl PoundsRange {
    fn draw(&self, rng: &mut impl Rng) -> Money {
        let (a, c, b) = (
            f64::from(self.min),
            f64::from(self.mode),
            f64::from(self.max),
        );
        let x = if b <= a {
            a
        } else {
            let u: f64 = rng.random();
            let f = (c - a) / (b - a);
            if u < f {
                a + ((b - a) * (c - a) * u).sqrt()
            } else {
                b - ((b - a) * (b - c) * (1.0 - u)).sqrt()
            }
        };
        let step = f64::from(self.step.max(1));
        let pounds = ((x / step).round() * step).clamp(a, b.max(a));
        // In range of u32 by the clamp; whole pounds keep the amount exact.
        Money::pounds(pounds as u32)
    }
}

/// A sector's share of applicants.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectorShare {
    /// A sector id of the programme, e.g. `gp-practice`.
    pub sector: String,
    /// Relative weight (the weights need not add up to 1).
    pub weight: f64,
    /// Share of this sector's applicants that are VAT-registered.
    pub vat_registered: Probability,
}

/// Staff counts by size band: relative weights; the count is uniform within the band.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizeMix {
    /// 1 to 9 staff.
    pub micro: f64,
    /// 10 to 49 staff.
    pub small: f64,
    /// 50 to 249 staff.
    pub medium: f64,
    /// 250 to 1,000 staff (not an SME: ineligible under the 2020 rules).
    pub large: f64,
}

/// Consultancy days quoted: a discrete distribution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaysMix {
    /// Days, at most two decimals (e.g. 1.5).
    pub days: Vec<f64>,
    /// Relative weights, one per entry of `days`.
    pub weights: Vec<f64>,
}

/// When applications arrive.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arrivals {
    /// Weeks from the opening day over which applications arrive.
    pub weeks: u16,
    /// Each week's share of arrivals is this times the week before's
    /// (1 = even; below 1 = front-loaded, as after an announcement).
    pub weekly_decay: f64,
}

/// How applicants behave after they apply. Probabilities are per applicant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BehaviourModel {
    /// Declines an offer.
    pub decline_offer: Probability,
    /// Never answers an offer, which lapses.
    pub ignore_offer: Probability,
    /// Days from an offer to the answer.
    pub answer_days: DayRange,
    /// Gives up waiting on the waitlist (withdraws from it).
    pub leave_waitlist: Probability,
    /// Days on the waitlist before giving up.
    pub waitlist_patience_days: DayRange,
    /// Withdraws after accepting, before finishing.
    pub withdraw_after_award: Probability,
    /// Days from acceptance to the withdrawal.
    pub withdraw_days: DayRange,
    /// Engages a consultant and then never finishes within the pass window.
    pub never_finish: Probability,
    /// Days from acceptance to engaging a consultant.
    pub engage_days: DayRange,
    /// Days of readiness work before the self-assessment is submitted.
    pub prepare_days: DayRange,
    /// Days the assessor takes to mark.
    pub marking_days: DayRange,
    /// Passes the self-assessment at the first attempt.
    pub first_pass: Probability,
    /// Answers the assessor's feedback within the feedback window after a first fail.
    pub answer_feedback: Probability,
    /// Passes at the second attempt.
    pub second_pass: Probability,
    /// Days from the basic certificate to the Plus audit.
    pub plus_booking_days: DayRange,
    /// Passes the Plus audit at the first attempt.
    pub plus_first_pass: Probability,
    /// Days from a failed Plus audit to the re-test.
    pub plus_retest_days: DayRange,
    /// Passes the Plus re-test.
    pub plus_retest_pass: Probability,
    /// Days from a milestone to the supplier's invoice being claimed.
    pub invoice_days: DayRange,
}

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

impl Default for Population {
    fn default() -> Self {
        Population::default_2020()
    }
}

impl Default for BehaviourModel {
    fn default() -> Self {
        Population::default_2020().behaviour
    }
}

/// What an applicant does with an offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Accept,
    Decline,
    /// Lets it lapse.
    Ignore,
}

/// One applicant's pre-drawn behaviour. Days are counted from the event named.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Behaviour {
    pub answer: Answer,
    /// Offer to answer.
    pub answer_days: u16,
    /// Waitlisted to withdrawal, if the applicant gives up waiting.
    pub waitlist_patience_days: Option<u16>,
    /// Acceptance to withdrawal, if the applicant withdraws.
    pub withdraw_days: Option<u16>,
    /// Engages a consultant but never submits.
    pub never_finish: bool,
    /// Acceptance to consultancy engaged.
    pub engage_days: u16,
    /// Consultancy engaged to self-assessment submitted.
    pub prepare_days: u16,
    /// Submission to the assessor's verdict (each attempt).
    pub marking_days: u16,
    pub first_pass: bool,
    pub answers_feedback: bool,
    pub second_pass: bool,
    /// Certified to Plus audit.
    pub plus_booking_days: u16,
    pub plus_first_pass: bool,
    /// Failed Plus audit to re-test.
    pub plus_retest_days: u16,
    pub plus_retest_pass: bool,
    /// Milestone to invoice claimed.
    pub invoice_days: u16,
}

/// Who one simulated applicant is: what the core judges (sector, size, the
/// eligibility answers) and the drawn parts of its name, number, contact and
/// region, from which [`Profile::applicant`] writes the real [`Applicant`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// A sector id of the programme (shared by every draw of the sector).
    pub sector: Arc<str>,
    /// Staff count.
    pub employees: u32,
    pub uk_based: bool,
    pub already_certified: bool,
    pub vat_registered: bool,
    /// Companies House number, written with eight digits.
    pub company_number: u32,
    /// The draw's number in drawing order, from 1: keeps e-mail addresses distinct.
    pub serial: u32,
    /// Indexes into the name lists.
    names: NameParts,
}

/// Which entry of each name list a profile drew.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct NameParts {
    place: u8,
    /// The list of trades (by sector) and the entry in it.
    trades: u8,
    trade: u8,
    suffix: u8,
    given: u8,
    family: u8,
    region: u8,
}

impl NameParts {
    fn place(&self) -> &'static str {
        entry(FIRST, self.place)
    }
    fn trade(&self) -> &'static str {
        TRADES
            .get(usize::from(self.trades))
            .map_or("", |list| entry(list, self.trade))
    }
    fn given(&self) -> &'static str {
        entry(GIVEN, self.given)
    }
    fn family(&self) -> &'static str {
        entry(FAMILY, self.family)
    }
}

/// The most decimal digits of a `u32`.
const DIGITS: usize = 10;

/// What every e-mail address ends with.
const DOMAIN: &str = ".example.co.uk";

/// Empties `s`, keeping its allocation, with room for `len` bytes: rounded
/// up, so that a reused text rarely needs to grow for a longer one.
fn room(s: &mut String, len: usize) -> &mut String {
    s.clear();
    s.reserve(len.div_ceil(32) * 32);
    s
}

/// [`room`] in an optional text.
fn cleared(slot: &mut Option<String>, len: usize) -> &mut String {
    room(slot.get_or_insert_with(String::new), len)
}

impl Profile {
    /// The applicant as the core sees it, e.g. "Kestrel Pharmacy Ltd",
    /// contact "Priya Patel", `priya.patel@kestrel-17.example.co.uk`.
    pub fn applicant(&self) -> Applicant {
        let mut a = Applicant {
            organisation: Organisation {
                name: String::new(),
                company_number: None,
                charity_number: None,
                ods_code: None,
                region: None,
            },
            contact: Contact {
                name: String::new(),
                email: String::new(),
            },
            sector: String::new(),
            employees: 0,
            uk_based: false,
            already_certified: false,
            vat_registered: false,
        };
        self.write_applicant(&mut a);
        a
    }

    /// Overwrites `out` with [`Profile::applicant`], reusing its text buffers
    /// (each grows at most once per text, before it is written). The texts
    /// are copied in a few whole pieces from tables of name parts built once.
    pub fn write_applicant(&self, out: &mut Applicant) {
        let n = &self.names;
        let region = entry(REGIONS, n.region);
        let org = &mut out.organisation;
        let contact = &mut out.contact;
        match NameTexts::get().pieces(n) {
            Some([place, trade, person, user, host]) => {
                room(&mut org.name, place.len() + trade.len()).push_str(place);
                org.name.push_str(trade);
                room(&mut contact.name, person.len()).push_str(person);
                let email = room(
                    &mut contact.email,
                    user.len() + host.len() + DIGITS + DOMAIN.len(),
                );
                email.push_str(user);
                email.push_str(host);
            }
            None => self.write_words(org, contact),
        }
        // Writing to a `String` cannot fail.
        let _ = write!(contact.email, "{}{DOMAIN}", self.serial);
        let number = cleared(&mut org.company_number, 8);
        let _ = write!(number, "{:08}", self.company_number);
        org.charity_number = None;
        org.ods_code = None;
        cleared(&mut org.region, region.len()).push_str(region);

        room(&mut out.sector, self.sector.len()).push_str(&self.sector);
        out.employees = self.employees;
        out.uk_based = self.uk_based;
        out.already_certified = self.already_certified;
        out.vat_registered = self.vat_registered;
    }

    /// The organisation's name, the contact's name and the e-mail address up
    /// to the serial, joined word by word: for a profile whose name parts are
    /// outside the lists (read from a file; drawing never makes one), where a
    /// missing word is empty.
    fn write_words(&self, org: &mut Organisation, contact: &mut Contact) {
        let n = &self.names;
        let (place, trade, suffix) = (n.place(), n.trade(), entry(SUFFIX, n.suffix));
        let (given, family) = (n.given(), n.family());
        let name = room(&mut org.name, place.len() + trade.len() + suffix.len() + 2);
        name.push_str(place);
        name.push(' ');
        name.push_str(trade);
        name.push(' ');
        name.push_str(suffix);
        let name = room(&mut contact.name, given.len() + family.len() + 1);
        name.push_str(given);
        name.push(' ');
        name.push_str(family);
        let email = room(
            &mut contact.email,
            given.len() + family.len() + place.len() + 3 + DIGITS + DOMAIN.len(),
        );
        email.push_str(given);
        email.push('.');
        email.push_str(family);
        email.push('@');
        email.push_str(place);
        email.make_ascii_lowercase();
        email.push('-');
    }
}

/// The pieces of the applicants' texts, joined from the name lists once per
/// process: writing an applicant then copies a few whole pieces instead of
/// joining (and lower-casing) a dozen words each time.
///
/// An organisation's name is `place` + `trade_suffix` ("Kestrel " +
/// "Pharmacy Ltd"), its contact is `contact` ("Priya Patel") and the e-mail
/// address is `email_user` + `email_host` + serial + domain
/// ("priya.patel@" + "kestrel-" + "17" + ".example.co.uk").
struct NameTexts {
    /// "Place " by place.
    place: Vec<String>,
    /// "Trade Suffix" by list of trades, then by `trade * SUFFIX.len() + suffix`.
    trade_suffix: Vec<Vec<String>>,
    /// "Given Family" by `given * FAMILY.len() + family`.
    contact: Vec<String>,
    /// "given.family@" in lower case, by `given * FAMILY.len() + family`.
    email_user: Vec<String>,
    /// "place-" in lower case, by place.
    email_host: Vec<String>,
}

impl NameTexts {
    fn get() -> &'static NameTexts {
        static TEXTS: OnceLock<NameTexts> = OnceLock::new();
        TEXTS.get_or_init(NameTexts::new)
    }

    fn new() -> NameTexts {
        let people = |f: &dyn Fn(&str, &str) -> String| -> Vec<String> {
            GIVEN
                .iter()
                .flat_map(|g| FAMILY.iter().map(move |s| (g, s)))
                .map(|(g, s)| f(g, s))
                .collect()
        };
        NameTexts {
            place: FIRST.iter().map(|p| format!("{p} ")).collect(),
            trade_suffix: TRADES
                .iter()
                .map(|list| {
                    list.iter()
                        .flat_map(|t| SUFFIX.iter().map(move |s| format!("{t} {s}")))
                        .collect()
                })
                .collect(),
            contact: people(&|g, s| format!("{g} {s}")),
            email_user: people(&|g, s| format!("{g}.{s}@").to_ascii_lowercase()),
            email_host: FIRST
                .iter()
                .map(|p| format!("{p}-").to_ascii_lowercase())
                .collect(),
        }
    }

    /// The organisation's name, split as `place` + `trade_suffix`, the
    /// contact's name, and the e-mail address's `email_user` + `email_host`;
    /// `None` if a name part is outside its list.
    fn pieces(&self, n: &NameParts) -> Option<[&str; 5]> {
        let trade = usize::from(n.trade);
        let suffix = usize::from(n.suffix);
        let (given, family) = (usize::from(n.given), usize::from(n.family));
        let list = TRADES.get(usize::from(n.trades))?;
        if trade >= list.len() || suffix >= SUFFIX.len() || family >= FAMILY.len() {
            return None;
        }
        let person = given * FAMILY.len() + family;
        Some([
            self.place.get(usize::from(n.place))?,
            self.trade_suffix
                .get(usize::from(n.trades))?
                .get(trade * SUFFIX.len() + suffix)?,
            self.contact.get(person)?,
            self.email_user.get(person)?,
            self.email_host.get(usize::from(n.place))?,
        ])
    }
}

impl Draw {
    /// The applicant as the core sees it (see [`Profile::applicant`]).
    pub fn applicant(&self) -> Applicant {
        self.profile.applicant()
    }
}

/// One simulated applicant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Draw {
    pub profile: Profile,
    pub request: CostRequest,
    /// Minutes after 00:00 UTC on the programme's opening day.
    pub arrival_minutes: u32,
    pub behaviour: Behaviour,
}

/// A population parameter that cannot be used; `key` is its path in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {problem}")]
pub struct PopulationError {
    pub key: String,
    pub problem: String,
}

fn bad(key: impl Into<String>, problem: impl Into<String>) -> PopulationError {
    PopulationError {
        key: key.into(),
        problem: problem.into(),
    }
}

impl Population {
    /// The documented default for the 2020 healthcare programme (all assumed;
    /// see `examples/scenario-2020.toml`).
    pub fn default_2020() -> Population {
        Population {
            applicants: 1_000,
            arrivals: Arrivals {
                weeks: 30,
                weekly_decay: 0.93,
            },
            sectors: vec![
                SectorShare {
                    sector: "medical-supplier".into(),
                    weight: 0.45,
                    vat_registered: 0.85,
                },
                SectorShare {
                    sector: "primary-care".into(),
                    weight: 0.33,
                    vat_registered: 0.35,
                },
                SectorShare {
                    sector: "gp-practice".into(),
                    weight: 0.14,
                    vat_registered: 0.10,
                },
                SectorShare {
                    sector: "other".into(),
                    weight: 0.08,
                    vat_registered: 0.70,
                },
            ],
            sizes: SizeMix {
                micro: 0.55,
                small: 0.30,
                medium: 0.12,
                large: 0.03,
            },
            non_uk: 0.01,
            already_certified: 0.04,
            wants_plus: 0.15,
            consultancy_days: DaysMix {
                days: vec![0.0, 1.0, 1.5, 2.0, 3.0, 4.0],
                weights: vec![0.10, 0.30, 0.20, 0.25, 0.10, 0.05],
            },
            day_rate: PoundsRange {
                min: 350,
                mode: 500,
                max: 850,
                step: 25,
            },
            plus_audit_quote: PoundsRange {
                min: 1_400,
                mode: 1_600,
                max: 3_500,
                step: 50,
            },
            behaviour: BehaviourModel {
                decline_offer: 0.05,
                ignore_offer: 0.03,
                answer_days: DayRange::new(1, 10),
                leave_waitlist: 0.25,
                waitlist_patience_days: DayRange::new(14, 90),
                withdraw_after_award: 0.04,
                withdraw_days: DayRange::new(7, 120),
                never_finish: 0.06,
                engage_days: DayRange::new(3, 21),
                prepare_days: DayRange::new(7, 45),
                marking_days: DayRange::new(1, 7),
                first_pass: 0.80,
                answer_feedback: 0.90,
                second_pass: 0.85,
                plus_booking_days: DayRange::new(7, 40),
                plus_first_pass: 0.70,
                plus_retest_days: DayRange::new(7, 25),
                plus_retest_pass: 0.80,
                invoice_days: DayRange::new(0, 30),
            },
        }
    }

    /// Checks every parameter; the error names the key under `prefix` (e.g. `population`).
    pub fn validate(&self, prefix: &str) -> Result<(), PopulationError> {
        let k = |name: &str| format!("{prefix}.{name}");
        let prob = |name: &str, p: f64| {
            if p.is_finite() && (0.0..=1.0).contains(&p) {
                Ok(())
            } else {
                Err(bad(
                    k(name),
                    format!("{p} is not a probability between 0 and 1"),
                ))
            }
        };
        let weight = |name: String, w: f64| {
            if w.is_finite() && w >= 0.0 {
                Ok(())
            } else {
                Err(bad(
                    name,
                    format!("{w} is not a weight (a number of at least 0)"),
                ))
            }
        };
        let days = |name: &str, r: &DayRange| {
            if r.min > r.max {
                Err(bad(
                    k(name),
                    format!("min {} is above max {}", r.min, r.max),
                ))
            } else {
                Ok(())
            }
        };
        if self.applicants == 0 || self.applicants > 1_000_000 {
            return Err(bad(
                k("applicants"),
                format!("{} is not between 1 and 1,000,000", self.applicants),
            ));
        }
        if self.arrivals.weeks == 0 || self.arrivals.weeks > 520 {
            return Err(bad(
                k("arrivals.weeks"),
                format!("{} is not between 1 and 520", self.arrivals.weeks),
            ));
        }
        let d = self.arrivals.weekly_decay;
        if !(d.is_finite() && d > 0.0 && d <= 10.0) {
            return Err(bad(
                k("arrivals.weekly_decay"),
                format!("{d} is not a ratio above 0 (and at most 10)"),
            ));
        }
        if self.sectors.is_empty() {
            return Err(bad(k("sectors"), "give at least one sector share"));
        }
        for (i, s) in self.sectors.iter().enumerate() {
            if s.sector.trim().is_empty() {
                return Err(bad(k(&format!("sectors[{i}].sector")), "must not be empty"));
            }
            weight(k(&format!("sectors[{i}].weight")), s.weight)?;
            prob(&format!("sectors[{i}].vat_registered"), s.vat_registered)?;
        }
        if self.sectors.iter().map(|s| s.weight).sum::<f64>() <= 0.0 {
            return Err(bad(k("sectors"), "the sector weights add up to zero"));
        }
        let z = &self.sizes;
        for (name, w) in [
            ("micro", z.micro),
            ("small", z.small),
            ("medium", z.medium),
            ("large", z.large),
        ] {
            weight(k(&format!("sizes.{name}")), w)?;
        }
        if z.micro + z.small + z.medium + z.large <= 0.0 {
            return Err(bad(k("sizes"), "the size weights add up to zero"));
        }
        prob("non_uk", self.non_uk)?;
        prob("already_certified", self.already_certified)?;
        prob("wants_plus", self.wants_plus)?;
        let c = &self.consultancy_days;
        if c.days.is_empty() || c.days.len() != c.weights.len() {
            return Err(bad(
                k("consultancy_days"),
                format!(
                    "give as many weights ({}) as days ({}), at least one",
                    c.weights.len(),
                    c.days.len()
                ),
            ));
        }
        for (i, (d, w)) in c.days.iter().zip(&c.weights).enumerate() {
            if !(d.is_finite() && (0.0..=365.0).contains(d))
                || ((d * 100.0).round() - d * 100.0).abs() > 1e-9
            {
                return Err(bad(
                    k(&format!("consultancy_days.days[{i}]")),
                    format!("{d} is not a number of days from 0 to 365 with at most 2 decimals"),
                ));
            }
            weight(k(&format!("consultancy_days.weights[{i}]")), *w)?;
        }
        if c.weights.iter().sum::<f64>() <= 0.0 {
            return Err(bad(
                k("consultancy_days.weights"),
                "the weights add up to zero",
            ));
        }
        for (name, r) in [
            ("day_rate", &self.day_rate),
            ("plus_audit_quote", &self.plus_audit_quote),
        ] {
            if !(r.min <= r.mode && r.mode <= r.max) {
                return Err(bad(
                    k(name),
                    format!(
                        "need min <= mode <= max, got {} / {} / {}",
                        r.min, r.mode, r.max
                    ),
                ));
            }
            if r.max > 1_000_000 {
                return Err(bad(
                    k(&format!("{name}.max")),
                    format!("£{} is more than £1,000,000", r.max),
                ));
            }
            if r.step == 0 {
                return Err(bad(k(&format!("{name}.step")), "must be at least 1 pound"));
            }
        }
        let b = &self.behaviour;
        for (name, p) in [
            ("decline_offer", b.decline_offer),
            ("ignore_offer", b.ignore_offer),
            ("leave_waitlist", b.leave_waitlist),
            ("withdraw_after_award", b.withdraw_after_award),
            ("never_finish", b.never_finish),
            ("first_pass", b.first_pass),
            ("answer_feedback", b.answer_feedback),
            ("second_pass", b.second_pass),
            ("plus_first_pass", b.plus_first_pass),
            ("plus_retest_pass", b.plus_retest_pass),
        ] {
            prob(&format!("behaviour.{name}"), p)?;
        }
        if b.decline_offer + b.ignore_offer > 1.0 + 1e-12 {
            return Err(bad(
                k("behaviour.ignore_offer"),
                "decline_offer + ignore_offer is more than 1",
            ));
        }
        for (name, r) in [
            ("answer_days", &b.answer_days),
            ("waitlist_patience_days", &b.waitlist_patience_days),
            ("withdraw_days", &b.withdraw_days),
            ("engage_days", &b.engage_days),
            ("prepare_days", &b.prepare_days),
            ("marking_days", &b.marking_days),
            ("plus_booking_days", &b.plus_booking_days),
            ("plus_retest_days", &b.plus_retest_days),
            ("invoice_days", &b.invoice_days),
        ] {
            days(&format!("behaviour.{name}"), r)?;
        }
        Ok(())
    }

    /// Draws `n` applicants in arrival order.
    pub fn draw(&self, rng: &mut impl Rng, n: usize) -> Vec<Draw> {
        let mut out = Vec::with_capacity(n);
        self.draw_into(rng, n, &mut out);
        out
    }

    /// Draws `n` applicants in arrival order into `out` (cleared first), reusing its allocation.
    pub fn draw_into(&self, rng: &mut impl Rng, n: usize, out: &mut Vec<Draw>) {
        out.clear();
        out.reserve(n);
        let sampler = Sampler::new(self);
        for i in 0..n {
            out.push(sampler.one(self, rng, i));
        }
        arrival_order(out);
    }
}

/// Sorts `draws` by arrival minute, equal minutes in drawing order, moving
/// each draw once: sorting the small keys is much cheaper than sorting draws.
fn arrival_order(draws: &mut [Draw]) {
    // Key: arrival minute above, drawing index below (unique, so an unstable sort is stable).
    let mut keys: Vec<u64> = draws
        .iter()
        .enumerate()
        .map(|(i, d)| (u64::from(d.arrival_minutes) << 32) | (i as u64 & 0xFFFF_FFFF))
        .collect();
    if keys.windows(2).all(|w| w[0] <= w[1]) {
        return;
    }
    keys.sort_unstable();
    // `from[j]`: where the draw that belongs at `j` is now.
    let mut from: Vec<usize> = keys.iter().map(|k| (k & 0xFFFF_FFFF) as usize).collect();
    // Follow each cycle of the permutation, marking places done with `from[j] = j`.
    for start in 0..from.len() {
        let mut j = start;
        while let Some(k) = from.get_mut(j).map(|f| std::mem::replace(f, j)) {
            if k == start || k == j || k >= draws.len() {
                break;
            }
            draws.swap(j, k);
            j = k;
        }
    }
}

/// Cumulative weights, built once per draw call.
struct Sampler {
    sectors: Vec<f64>,
    /// Per sector of the population: its id, shared by its draws, and its list of trades.
    names: Vec<(Arc<str>, u8)>,
    /// The sector of a draw when the population has none.
    other: Arc<str>,
    sizes: [f64; 4],
    days: Vec<f64>,
    /// The consultancy days of each entry, as quoted.
    day_values: Vec<Decimal>,
    weeks: Vec<f64>,
}

fn quoted_days(days: f64) -> Decimal {
    Decimal::new((days * 100.0).round() as i64, 2).normalize()
}

fn cumulative(weights: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut acc = 0.0;
    weights
        .map(|w| {
            acc += w.max(0.0);
            acc
        })
        .collect()
}

fn pick(cum: &[f64], rng: &mut impl Rng) -> usize {
    let total = cum.last().copied().unwrap_or(0.0);
    if total <= 0.0 {
        return 0;
    }
    let x = rng.random::<f64>() * total;
    cum.iter()
        .position(|c| x < *c)
        .unwrap_or(cum.len().saturating_sub(1))
}

const FIRST: &[&str] = &[
    "Albion",
    "Beacon",
    "Castle",
    "Dale",
    "Elm",
    "Fenwick",
    "Granite",
    "Harbour",
    "Iris",
    "Juniper",
    "Kestrel",
    "Linden",
    "Meadow",
    "Northgate",
    "Oakwood",
    "Pennine",
    "Quay",
    "Riverside",
    "Severn",
    "Thames",
    "Upland",
    "Vale",
    "Westfield",
    "Yarrow",
    "Ashby",
    "Bramley",
    "Chiltern",
    "Derwent",
    "Eden",
    "Fairfield",
    "Greenway",
    "Highfield",
    "Kingsley",
    "Lakeside",
    "Mersey",
    "Newbridge",
    "Orchard",
    "Parkside",
    "Redwood",
    "Stirling",
    "Tyne",
    "Wessex",
];
const SUPPLIER: &[&str] = &[
    "Medical",
    "Surgical Supplies",
    "Healthcare",
    "Diagnostics",
    "Medical Devices",
    "Orthotics",
    "Lab Services",
    "Mobility",
];
const PRIMARY: &[&str] = &[
    "Pharmacy",
    "Dental Practice",
    "Opticians",
    "Physiotherapy",
    "Chemists",
    "Hearing Care",
    "Podiatry",
    "Dental Care",
];
const GP: &[&str] = &[
    "Medical Centre",
    "Surgery",
    "Health Centre",
    "Family Practice",
];
const OTHER: &[&str] = &[
    "Care Homes",
    "Logistics",
    "Cleaning Services",
    "Software",
    "Catering",
];
const SUFFIX: &[&str] = &["Ltd", "Limited", "Ltd", "LLP", "Group Ltd"];
const GIVEN: &[&str] = &[
    "Amira", "Ben", "Chloe", "David", "Emma", "Farid", "Grace", "Harry", "Isla", "James", "Kavya",
    "Liam", "Mia", "Noah", "Olivia", "Priya", "Rhys", "Sophie", "Tom", "Zara",
];
const FAMILY: &[&str] = &[
    "Ahmed", "Baker", "Clarke", "Davies", "Evans", "Fraser", "Green", "Hughes", "Jones", "Khan",
    "Lewis", "Morgan", "Patel", "Roberts", "Smith", "Taylor", "Walker", "Wilson", "Wright",
    "Young",
];
const REGIONS: &[&str] = &[
    "North East",
    "North West",
    "Yorkshire and The Humber",
    "East Midlands",
    "West Midlands",
    "East of England",
    "London",
    "South East",
    "South West",
    "Wales",
    "Scotland",
    "Northern Ireland",
];

/// Trades by sector: suppliers, primary care, GP practices, anything else.
const TRADES: [&[&str]; 4] = [SUPPLIER, PRIMARY, GP, OTHER];
const OTHER_TRADES: u8 = 3;

fn trades_of(sector: &str) -> u8 {
    match sector {
        "medical-supplier" => 0,
        "primary-care" => 1,
        "gp-practice" => 2,
        _ => OTHER_TRADES,
    }
}

/// Draws an entry of `list` (every list has fewer than 256 entries).
///
/// The range is a `u32` one: rand samples a `usize` range that fits in a
/// `u32` as that `u32` range, so the draw is the same as from
/// `0..list.len()`, and the `u32` sampling is the one the other draws use.
fn index_of(list: &[&str], rng: &mut impl Rng) -> u8 {
    let len = u32::try_from(list.len().max(1)).unwrap_or(u32::MAX);
    u8::try_from(rng.random_range(0..len)).unwrap_or(0)
}

fn entry(list: &[&'static str], i: u8) -> &'static str {
    list.get(usize::from(i)).copied().unwrap_or("")
}

fn chance(rng: &mut impl Rng, p: f64) -> bool {
    // Always draw, so later draws do not shift with a probability's value.
    rng.random::<f64>() < p
}

impl Sampler {
    fn new(p: &Population) -> Sampler {
        let decay = p.arrivals.weekly_decay;
        Sampler {
            sectors: cumulative(p.sectors.iter().map(|s| s.weight)),
            names: p
                .sectors
                .iter()
                .map(|s| (Arc::from(s.sector.as_str()), trades_of(&s.sector)))
                .collect(),
            other: Arc::from("other"),
            sizes: {
                let z = &p.sizes;
                [
                    z.micro,
                    z.micro + z.small,
                    z.micro + z.small + z.medium,
                    z.micro + z.small + z.medium + z.large,
                ]
            },
            days: cumulative(p.consultancy_days.weights.iter().copied()),
            day_values: p
                .consultancy_days
                .days
                .iter()
                .map(|d| quoted_days(*d))
                .collect(),
            weeks: cumulative((0..p.arrivals.weeks.max(1)).map(|w| decay.powi(i32::from(w)))),
        }
    }

    fn one(&self, p: &Population, rng: &mut impl Rng, index: usize) -> Draw {
        let si = pick(&self.sectors, rng);
        let share = p.sectors.get(si);
        let (sector, trades) = self.names.get(si).map_or_else(
            || (self.other.clone(), OTHER_TRADES),
            |(s, t)| (s.clone(), *t),
        );
        let employees = match pick(&self.sizes, rng) {
            0 => rng.random_range(1..=9),
            1 => rng.random_range(10..=49),
            2 => rng.random_range(50..=249),
            _ => rng.random_range(250..=1000),
        };
        let vat_registered = chance(rng, share.map_or(0.5, |s| s.vat_registered));
        let uk_based = !chance(rng, p.non_uk);
        let already_certified = chance(rng, p.already_certified);
        let plus = chance(rng, p.wants_plus);
        let consultancy_days = self
            .day_values
            .get(pick(&self.days, rng))
            .copied()
            .unwrap_or_else(|| quoted_days(0.0));
        let day_rate = p.day_rate.draw(rng);
        let quote = p.plus_audit_quote.draw(rng);

        let names = NameParts {
            place: index_of(FIRST, rng),
            trades,
            trade: index_of(
                TRADES.get(usize::from(trades)).copied().unwrap_or(OTHER),
                rng,
            ),
            suffix: index_of(SUFFIX, rng),
            given: index_of(GIVEN, rng),
            family: index_of(FAMILY, rng),
            region: index_of(REGIONS, rng),
        };
        let company_number: u32 = rng.random_range(1_000_000..14_000_000);

        let week = pick(&self.weeks, rng) as u32;
        let minute_in_week: u32 = rng.random_range(0..7 * 24 * 60);
        let arrival_minutes = week * 7 * 24 * 60 + minute_in_week;

        let b = &p.behaviour;
        let u: f64 = rng.random();
        let answer = if u < b.decline_offer {
            Answer::Decline
        } else if u < b.decline_offer + b.ignore_offer {
            Answer::Ignore
        } else {
            Answer::Accept
        };
        let answer_days = b.answer_days.draw(rng);
        let leaves = chance(rng, b.leave_waitlist);
        let patience = b.waitlist_patience_days.draw(rng);
        let withdraws = chance(rng, b.withdraw_after_award);
        let withdraw_days = b.withdraw_days.draw(rng);
        let behaviour = Behaviour {
            answer,
            answer_days,
            waitlist_patience_days: leaves.then_some(patience),
            withdraw_days: withdraws.then_some(withdraw_days),
            never_finish: chance(rng, b.never_finish),
            engage_days: b.engage_days.draw(rng),
            prepare_days: b.prepare_days.draw(rng),
            marking_days: b.marking_days.draw(rng),
            first_pass: chance(rng, b.first_pass),
            answers_feedback: chance(rng, b.answer_feedback),
            second_pass: chance(rng, b.second_pass),
            plus_booking_days: b.plus_booking_days.draw(rng),
            plus_first_pass: chance(rng, b.plus_first_pass),
            plus_retest_days: b.plus_retest_days.draw(rng),
            plus_retest_pass: chance(rng, b.plus_retest_pass),
            invoice_days: b.invoice_days.draw(rng),
        };
        Draw {
            profile: Profile {
                sector,
                employees,
                uk_based,
                already_certified,
                vat_registered,
                company_number,
                serial: u32::try_from(index).map_or(u32::MAX, |i| i.saturating_add(1)),
                names,
            },
            request: CostRequest {
                level: if plus { Level::Plus } else { Level::Basic },
                consultancy_days,
                day_rate,
                plus_audit_quote: plus.then_some(quote),
            },
            arrival_minutes,
            behaviour,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn default_is_valid_and_draws_are_reproducible_and_valid() {
        let p = Population::default_2020();
        p.validate("population").unwrap();
        let a = p.draw(&mut ChaCha8Rng::seed_from_u64(7), 500);
        let b = p.draw(&mut ChaCha8Rng::seed_from_u64(7), 500);
        assert_eq!(a, b);
        assert_eq!(a.len(), 500);
        assert!(
            a.windows(2)
                .all(|w| w[0].arrival_minutes <= w[1].arrival_minutes)
        );
        for d in &a {
            d.applicant().check().unwrap();
            d.request.check().unwrap();
        }
        let gp = a
            .iter()
            .filter(|d| &*d.profile.sector == "gp-practice")
            .count();
        assert!((30..120).contains(&gp), "{gp} GP practices of 500");
        let c = p.draw(&mut ChaCha8Rng::seed_from_u64(8), 500);
        assert_ne!(a, c);
    }

    #[test]
    fn the_written_applicant_is_the_drawn_one_and_reuses_buffers() {
        let p = Population::default_2020();
        let draws = p.draw(&mut ChaCha8Rng::seed_from_u64(3), 300);
        // A reused applicant with every optional field set and long texts.
        let mut reused = draws[0].applicant();
        reused.organisation.charity_number = Some("1234567".into());
        reused.organisation.ods_code = Some("A81001".into());
        reused.contact.email = "x".repeat(300);
        for d in &draws {
            let f = &d.profile;
            let n = &f.names;
            let lower = |s: &str| s.to_ascii_lowercase();
            let expected = Applicant {
                organisation: Organisation {
                    name: format!("{} {} {}", n.place(), n.trade(), entry(SUFFIX, n.suffix)),
                    company_number: Some(format!("{:08}", f.company_number)),
                    charity_number: None,
                    ods_code: None,
                    region: Some(entry(REGIONS, n.region).to_string()),
                },
                contact: Contact {
                    name: format!("{} {}", n.given(), n.family()),
                    email: format!(
                        "{}.{}@{}-{}.example.co.uk",
                        lower(n.given()),
                        lower(n.family()),
                        lower(n.place()),
                        f.serial
                    ),
                },
                sector: f.sector.to_string(),
                employees: f.employees,
                uk_based: f.uk_based,
                already_certified: f.already_certified,
                vat_registered: f.vat_registered,
            };
            assert_eq!(d.applicant(), expected);
            f.write_applicant(&mut reused);
            assert_eq!(reused, expected);
            assert!(!n.trade().is_empty() && !n.place().is_empty());
        }
        let mut serials: Vec<u32> = draws.iter().map(|d| d.profile.serial).collect();
        serials.sort_unstable();
        assert_eq!(serials, (1..=300).collect::<Vec<u32>>());
    }

    /// Whole pieces or word by word (for name parts outside the lists, where
    /// a missing word is empty), the texts are those of the words joined.
    #[test]
    fn the_applicant_texts_join_the_words_even_outside_the_lists() {
        let p = Population::default_2020();
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut profile = p.draw(&mut rng, 1).remove(0).profile;
        let mut reused = profile.applicant();
        for k in 0..3_000 {
            // Mostly in range; now and then one part a little outside its list.
            let part = |rng: &mut ChaCha8Rng, len: usize| {
                let over = if k % 3 == 0 { 3 } else { 0 };
                u8::try_from(rng.random_range(0..len + over)).unwrap()
            };
            let trades = part(&mut rng, TRADES.len());
            let list = TRADES.get(usize::from(trades)).map_or(0, |l| l.len());
            profile.names = NameParts {
                place: part(&mut rng, FIRST.len()),
                trades,
                trade: part(&mut rng, list.max(1)),
                suffix: part(&mut rng, SUFFIX.len()),
                given: part(&mut rng, GIVEN.len()),
                family: part(&mut rng, FAMILY.len()),
                region: part(&mut rng, REGIONS.len()),
            };
            profile.serial = k;
            let n = &profile.names;
            let expected_name = format!("{} {} {}", n.place(), n.trade(), entry(SUFFIX, n.suffix));
            let expected_email = format!(
                "{}.{}@{}-{}.example.co.uk",
                n.given(),
                n.family(),
                n.place(),
                k
            )
            .to_ascii_lowercase();
            profile.write_applicant(&mut reused);
            assert_eq!(reused.organisation.name, expected_name);
            assert_eq!(reused.contact.name, format!("{} {}", n.given(), n.family()));
            assert_eq!(reused.contact.email, expected_email);
            assert_eq!(reused, profile.applicant());
        }
    }

    /// What [`index_of`] relies on: a `usize` range within `u32` draws as
    /// the same `u32` range.
    #[test]
    fn small_usize_and_u32_ranges_draw_alike() {
        let mut a = ChaCha8Rng::seed_from_u64(6);
        let mut b = a.clone();
        for len in (1..300).chain([70_000, 5_000_000, u32::MAX as usize]) {
            for _ in 0..20 {
                let x: usize = a.random_range(0..len);
                let y: u32 = b.random_range(0..u32::try_from(len).unwrap());
                assert_eq!(x, y as usize);
            }
        }
    }

    #[test]
    fn arrival_order_is_a_stable_sort_by_arrival() {
        let p = Population::default_2020();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for n in [0, 1, 2, 50, 400] {
            let mut draws: Vec<Draw> = (0..n)
                .map(|i| {
                    let mut d = Sampler::new(&p).one(&p, &mut rng, i);
                    // Few distinct minutes, so ties are common.
                    d.arrival_minutes = rng.random_range(0..20);
                    d
                })
                .collect();
            let mut expected = draws.clone();
            expected.sort_by_key(|d| d.arrival_minutes);
            arrival_order(&mut draws);
            assert_eq!(draws, expected);
        }
    }

    #[test]
    fn bad_probability_names_its_key() {
        let mut p = Population::default_2020();
        p.behaviour.first_pass = 1.2;
        let e = p.validate("population").unwrap_err();
        assert_eq!(e.key, "population.behaviour.first_pass");
        let mut p = Population::default_2020();
        p.consultancy_days.days[1] = 1.234;
        assert_eq!(
            p.validate("population").unwrap_err().key,
            "population.consultancy_days.days[1]"
        );
    }
}
