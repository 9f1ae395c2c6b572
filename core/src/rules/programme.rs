//! Programme rules as data: [`Programme`], its parameters ([`Param`]) and dated
//! parameters ([`Dated`]), loading from TOML or JSON, and validation.
//!
//! Every parameter can say where it comes from: a `reference` (a source a
//! reader can check) or an `assumed` note (a guess someone must own). The
//! preset [`Programme::healthcare_cyber_essentials_2020`] marks every one.

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ledger::money::Money;

/// A programme parameter: its value and where the value comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Param<T> {
    /// The value in force.
    pub value: T,
    /// The public source of the value, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Why the value was assumed, when no source exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assumed: Option<String>,
}

impl<T> Param<T> {
    /// A value backed by a public source.
    pub fn sourced(value: T, reference: &str) -> Self {
        Param {
            value,
            reference: Some(reference.to_string()),
            assumed: None,
        }
    }

    /// A value that is an assumption.
    pub fn assumed(value: T, note: &str) -> Self {
        Param {
            value,
            reference: None,
            assumed: Some(note.to_string()),
        }
    }

    /// The reference, or the assumption note prefixed with "assumed:".
    pub fn provenance(&self) -> Option<String> {
        match (&self.reference, &self.assumed) {
            (Some(r), _) => Some(r.clone()),
            (None, Some(a)) => Some(format!("assumed: {a}")),
            (None, None) => None,
        }
    }
}

/// A value in force over a range of dates (`from` to `until`, both inclusive).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dated<T> {
    /// The first day the value applies.
    pub from: NaiveDate,
    /// The last day the value applies; open-ended when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<NaiveDate>,
    /// The value.
    pub value: T,
    /// The public source of the value, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Why the value was assumed, when no source exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assumed: Option<String>,
}

/// The entry of `entries` in force on `date`, if any.
pub fn in_force<T>(entries: &[Dated<T>], date: NaiveDate) -> Option<&Dated<T>> {
    entries
        .iter()
        .find(|e| e.from <= date && e.until.is_none_or(|u| date <= u))
}

/// Organisation size bands by staff count, as used by the Cyber Essentials fee table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SizeBand {
    /// 0 to 9 staff.
    Micro,
    /// 10 to 49 staff.
    Small,
    /// 50 to 249 staff.
    Medium,
    /// 250 staff or more.
    Large,
}

impl SizeBand {
    /// The band for a staff count.
    pub fn of(employees: u32) -> SizeBand {
        match employees {
            0..=9 => SizeBand::Micro,
            10..=49 => SizeBand::Small,
            50..=249 => SizeBand::Medium,
            _ => SizeBand::Large,
        }
    }
}

/// Assessment fee by size band, before VAT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeTable {
    pub micro: Money,
    pub small: Money,
    pub medium: Money,
    pub large: Money,
}

impl FeeTable {
    /// The same fee for every size.
    pub fn flat(fee: Money) -> FeeTable {
        FeeTable {
            micro: fee,
            small: fee,
            medium: fee,
            large: fee,
        }
    }

    /// The fee for a band.
    pub fn fee(&self, band: SizeBand) -> Money {
        match band {
            SizeBand::Micro => self.micro,
            SizeBand::Small => self.small,
            SizeBand::Medium => self.medium,
            SizeBand::Large => self.large,
        }
    }
}

/// When the programme pays the VAT on covered costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VatPolicy {
    /// VAT is never covered.
    Never,
    /// VAT is always covered.
    Always,
    /// VAT is covered only for applicants who cannot reclaim it (not VAT-registered).
    UnlessRegistered,
}

/// How the waitlist is offered when money comes back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitlistPolicy {
    /// An application that does not fit is passed over for the next that does.
    #[default]
    SkipAhead,
    /// Nobody jumps the queue: offers stop at the first application that does not fit.
    Strict,
}

/// The certification an application asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Cyber Essentials (self-assessment, externally marked).
    Basic,
    /// Cyber Essentials Plus (basic, then an audit).
    Plus,
}

/// The funding organisation, as named in published grant data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Funder {
    /// Organisation identifier, e.g. `GB-GOR-PB1` (org-id.guide form).
    pub id: String,
    /// Organisation name.
    pub name: String,
    /// The public source of the identifier, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Why the identifier was assumed, when no source exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assumed: Option<String>,
}

/// A sector an applicant can declare, and whether it is eligible.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectorRule {
    /// Stable id, e.g. `medical-supplier`.
    pub id: String,
    /// Name for people.
    pub name: String,
    /// Whether applicants of this sector may be funded.
    pub eligible: bool,
    /// The sentence that explains the rule.
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assumed: Option<String>,
}

/// Who may apply, beyond the sector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EligibilityRules {
    /// Applicants must have fewer staff than this.
    pub max_employees_exclusive: Param<u32>,
    /// Applicants must be based in the UK.
    pub uk_only: Param<bool>,
    /// Applicants already holding a valid certificate at the funded level are excluded.
    pub exclude_already_certified: Param<bool>,
}

/// What the programme pays for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageRules {
    /// The assessment fee table, dated.
    pub certification_fee: Vec<Dated<FeeTable>>,
    /// Whether a Cyber Essentials Plus audit is funded. Default: not funded.
    #[serde(default = "defaults::plus_funded")]
    pub plus_funded: Param<bool>,
    /// Largest covered Plus audit cost, before VAT. Default: £0 (used only
    /// when Plus is funded).
    #[serde(default = "defaults::plus_audit_cap")]
    pub plus_audit_cap: Param<Money>,
    /// Largest covered consultancy day rate, before VAT.
    pub consultancy_day_rate_cap: Param<Money>,
    /// Largest number of consultancy days covered.
    pub consultancy_days_cap: Param<Decimal>,
    /// When VAT is covered. Default: unless the applicant is VAT-registered.
    #[serde(default = "defaults::vat")]
    pub vat: Param<VatPolicy>,
    /// The VAT rate, e.g. 0.20. Default: 0.20, the UK standard rate.
    #[serde(default = "defaults::vat_rate")]
    pub vat_rate: Param<Decimal>,
    /// Largest award to one applicant. Default: no cap (£1,000,000,000,000).
    #[serde(default = "defaults::award_cap")]
    pub award_cap: Param<Money>,
}

/// A cap on one sector's committed money: reserved plus paid, less what
/// was clawed back (a recovery makes room again).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RingFence {
    /// The sector id.
    pub sector: String,
    /// The most that sector may have committed (reserved plus paid, less
    /// recovered) at any time.
    pub cap: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assumed: Option<String>,
}

/// How the pot is shared out. A rules file may leave out the whole table
/// or any part of it (see [`AllocationRules::default`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AllocationRules {
    /// Waitlist policy. Default: `skip_ahead`.
    pub policy: Param<WaitlistPolicy>,
    /// An amount kept inside `available` that offers may not touch. Default: £0.
    pub contingency: Param<Money>,
    /// Optional per-sector caps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ring_fences: Vec<RingFence>,
}

/// Every time window of the lifecycle. A rules file may leave out the
/// whole table or any window; each takes its value from
/// [`Windows::default`] (the IASME assessment process and grantflow's
/// reminder defaults).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Windows {
    /// Days an offer stays open.
    pub offer_days: Param<u32>,
    /// Days before an offer expires that the applicant is reminded.
    pub offer_reminder_days: Param<u32>,
    /// Working days to answer feedback after a failed assessment.
    pub feedback_working_days: Param<u32>,
    /// Months from award to pass, else the application is archived.
    pub pass_months: Param<u32>,
    /// Months a certificate is valid.
    pub validity_months: Param<u32>,
    /// Days before certificate expiry that reminders go out.
    pub expiry_reminder_days: Param<Vec<u32>>,
    /// Months after the basic certificate within which the Plus audit must pass.
    pub plus_months: Param<u32>,
    /// Days to fix and re-test after a failed Plus audit.
    pub plus_retest_days: Param<u32>,
    /// Days before the Plus window closes that the applicant is reminded.
    pub plus_reminder_days: Param<u32>,
}

/// The rules of one grant programme.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Programme {
    /// Stable id, also the stream name.
    pub id: String,
    /// Name for people.
    pub name: String,
    /// What the programme funds.
    pub description: String,
    /// ISO 4217 code; grantflow handles pounds sterling.
    pub currency: String,
    /// 360Giving identifier prefix, e.g. `360G-grantflow`.
    pub grant_id_prefix: String,
    /// The funder.
    pub funder: Funder,
    /// The pot at opening.
    pub pot: Param<Money>,
    /// First day applications are taken.
    pub opens: Param<NaiveDate>,
    /// Last day applications are taken.
    pub closes: Param<NaiveDate>,
    /// The sectors applicants may declare.
    pub sectors: Vec<SectorRule>,
    pub eligibility: EligibilityRules,
    pub coverage: CoverageRules,
    /// Default: [`AllocationRules::default`].
    #[serde(default)]
    pub allocation: AllocationRules,
    /// Default: [`Windows::default`].
    #[serde(default)]
    pub windows: Windows,
}

/// The values of the parts a rules file may leave out. Each is marked
/// `assumed`, saying it is grantflow's default, so `grantflow init --print`
/// shows where it came from.
mod defaults {
    use super::{Decimal, Money, Param, VatPolicy};

    /// The note of a default: grantflow's, and what it means.
    pub(super) fn note(what: &str) -> String {
        format!("grantflow's default (left out of the rules file): {what}")
    }
    /// A window of the IASME Cyber Essentials assessment process.
    pub(super) fn iasme<T>(value: T) -> Param<T> {
        Param::assumed(
            value,
            &note("the IASME Cyber Essentials assessment process"),
        )
    }
    pub(super) fn plus_funded() -> Param<bool> {
        Param::assumed(false, &note("Cyber Essentials Plus is not funded"))
    }
    pub(super) fn plus_audit_cap() -> Param<Money> {
        Param::assumed(Money::ZERO, &note("no Plus audit is covered"))
    }
    pub(super) fn vat() -> Param<VatPolicy> {
        Param::assumed(
            VatPolicy::UnlessRegistered,
            &note("VAT covered only where the applicant cannot reclaim it"),
        )
    }
    pub(super) fn vat_rate() -> Param<Decimal> {
        Param::assumed(
            Decimal::new(20, 2),
            &note("the UK standard rate of VAT, 20%"),
        )
    }
    pub(super) fn award_cap() -> Param<Money> {
        Param::assumed(Money::MAX, &note("no cap on one award"))
    }
}

impl Default for AllocationRules {
    /// `skip_ahead`, no contingency, no ring fences.
    fn default() -> Self {
        AllocationRules {
            policy: Param::assumed(
                WaitlistPolicy::SkipAhead,
                &defaults::note("no money sits idle while a smaller award fits"),
            ),
            contingency: Param::assumed(Money::ZERO, &defaults::note("no contingency")),
            ring_fences: Vec::new(),
        }
    }
}

impl Default for Windows {
    /// Offers open 14 days with a reminder 3 days before they expire; 2
    /// working days to answer assessment feedback; 6 months to pass; a
    /// certificate valid 12 months, with reminders 30 and 7 days before it
    /// expires; 3 months for the Plus audit, 30 days to re-test, a reminder
    /// 14 days before the Plus window closes.
    fn default() -> Self {
        Windows {
            offer_days: Param::assumed(14, &defaults::note("two weeks to accept an offer")),
            offer_reminder_days: Param::assumed(
                3,
                &defaults::note("a reminder 3 days before an offer expires"),
            ),
            feedback_working_days: defaults::iasme(2),
            pass_months: defaults::iasme(6),
            validity_months: defaults::iasme(12),
            expiry_reminder_days: defaults::iasme(vec![30, 7]),
            plus_months: defaults::iasme(3),
            plus_retest_days: defaults::iasme(30),
            plus_reminder_days: Param::assumed(
                14,
                &defaults::note("two weeks' notice before the Plus window closes"),
            ),
        }
    }
}

/// A rules file that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RulesError {
    /// The file is not valid TOML for a programme.
    #[error("rules file is not valid TOML: {message}")]
    Toml { message: String },
    /// The file is not valid JSON for a programme.
    #[error("rules file is not valid JSON: {message}")]
    Json { message: String },
    /// A field holds a value the rules cannot use.
    #[error("rules field `{field}`: {problem}")]
    Invalid { field: String, problem: String },
}

/// The longest id, name or prefix of a rules file, in characters.
const MAX_TEXT: usize = 200;

fn invalid(field: impl Into<String>, problem: impl Into<String>) -> RulesError {
    RulesError::Invalid {
        field: field.into(),
        problem: problem.into(),
    }
}

impl Programme {
    /// Reads and validates rules written in TOML.
    pub fn from_toml(text: &str) -> Result<Programme, RulesError> {
        let p: Programme = toml::from_str(text).map_err(|e| RulesError::Toml {
            message: e.to_string().trim().replace('\n', " "),
        })?;
        p.validate()?;
        Ok(p)
    }

    /// Reads and validates rules written in JSON.
    pub fn from_json(text: &str) -> Result<Programme, RulesError> {
        let p: Programme = serde_json::from_str(text).map_err(|e| RulesError::Json {
            message: e.to_string(),
        })?;
        p.validate()?;
        Ok(p)
    }

    /// Writes the rules as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// The sector rule with this id and its index.
    pub fn sector(&self, id: &str) -> Option<(usize, &SectorRule)> {
        self.sectors.iter().enumerate().find(|(_, s)| s.id == id)
    }

    /// Checks every field; the first problem found is returned. Ids, names
    /// and the grant id prefix are checked with [`text::check`](crate::rules::text::check):
    /// 1 to 200 characters, no control characters.
    pub fn validate(&self) -> Result<(), RulesError> {
        let text = |field: &str, v: &str| {
            crate::rules::text::check(v, 1, MAX_TEXT).map_err(|p| invalid(field, p.to_string()))
        };
        text("id", &self.id)?;
        if !self
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
            || self.id.chars().count() > 64
        {
            return Err(invalid(
                "id",
                "use at most 64 letters, digits, '-', '_' or '.'",
            ));
        }
        text("name", &self.name)?;
        text("grant_id_prefix", &self.grant_id_prefix)?;
        if !self.grant_id_prefix.starts_with("360G-") {
            return Err(invalid(
                "grant_id_prefix",
                "a 360Giving prefix starts with `360G-`",
            ));
        }
        if self.currency != "GBP" {
            return Err(invalid(
                "currency",
                format!(
                    "`{}` is not supported: grantflow handles GBP",
                    self.currency
                ),
            ));
        }
        text("funder.id", &self.funder.id)?;
        text("funder.name", &self.funder.name)?;
        if let Some(r) = &self.funder.reference {
            text("funder.reference", r)?;
        }
        if let Some(a) = &self.funder.assumed {
            text("funder.assumed", a)?;
        }
        if self.pot.value.is_zero() {
            return Err(invalid("pot", "the pot must be more than zero"));
        }
        if self.closes.value < self.opens.value {
            return Err(invalid(
                "closes",
                format!(
                    "closes {} before it opens {}",
                    self.closes.value, self.opens.value
                ),
            ));
        }
        if self.sectors.is_empty() {
            return Err(invalid("sectors", "declare at least one sector"));
        }
        for (i, s) in self.sectors.iter().enumerate() {
            text(&format!("sectors[{i}].id"), &s.id)?;
            if self.sectors[..i].iter().any(|o| o.id == s.id) {
                return Err(invalid(
                    format!("sectors[{i}].id"),
                    format!("sector `{}` is declared twice", s.id),
                ));
            }
        }
        if self.eligibility.max_employees_exclusive.value == 0 {
            return Err(invalid(
                "eligibility.max_employees_exclusive",
                "must be at least 1",
            ));
        }
        let fees = &self.coverage.certification_fee;
        if fees.is_empty() {
            return Err(invalid(
                "coverage.certification_fee",
                "give at least one dated fee table",
            ));
        }
        for (i, f) in fees.iter().enumerate() {
            if let Some(u) = f.until {
                if u < f.from {
                    return Err(invalid(
                        format!("coverage.certification_fee[{i}].until"),
                        format!("{u} is before `from` {}", f.from),
                    ));
                }
            }
            for (j, g) in fees.iter().enumerate().skip(i + 1) {
                let a_end = f.until.unwrap_or(NaiveDate::MAX);
                let b_end = g.until.unwrap_or(NaiveDate::MAX);
                if f.from <= b_end && g.from <= a_end {
                    return Err(invalid(
                        format!("coverage.certification_fee[{j}]"),
                        format!(
                            "dates overlap entry {i} ({} to {}): each day must have one fee table",
                            f.from,
                            f.until.map_or("open".to_string(), |d| d.to_string())
                        ),
                    ));
                }
            }
        }
        let vat = self.coverage.vat_rate.value;
        if vat < Decimal::ZERO || vat > Decimal::ONE {
            return Err(invalid(
                "coverage.vat_rate",
                format!("{vat} is not a rate between 0 and 1"),
            ));
        }
        let days = self.coverage.consultancy_days_cap.value;
        if days < Decimal::ZERO || days > Decimal::from(365) {
            return Err(invalid(
                "coverage.consultancy_days_cap",
                format!("{days} is not between 0 and 365 days"),
            ));
        }
        if self.coverage.award_cap.value.is_zero() {
            return Err(invalid(
                "coverage.award_cap",
                "the award cap must be more than zero",
            ));
        }
        if self.allocation.contingency.value >= self.pot.value {
            return Err(invalid(
                "allocation.contingency",
                "the contingency must be less than the pot",
            ));
        }
        for (i, rf) in self.allocation.ring_fences.iter().enumerate() {
            if self.sector(&rf.sector).is_none() {
                return Err(invalid(
                    format!("allocation.ring_fences[{i}].sector"),
                    format!("`{}` is not a declared sector", rf.sector),
                ));
            }
            if self.allocation.ring_fences[..i]
                .iter()
                .any(|o| o.sector == rf.sector)
            {
                return Err(invalid(
                    format!("allocation.ring_fences[{i}].sector"),
                    format!("`{}` has two ring-fences", rf.sector),
                ));
            }
        }
        let w = &self.windows;
        for (field, v, max) in [
            ("windows.offer_days", w.offer_days.value, 366),
            (
                "windows.feedback_working_days",
                w.feedback_working_days.value,
                60,
            ),
            ("windows.pass_months", w.pass_months.value, 60),
            ("windows.validity_months", w.validity_months.value, 60),
            ("windows.plus_months", w.plus_months.value, 60),
            ("windows.plus_retest_days", w.plus_retest_days.value, 366),
        ] {
            if v == 0 || v > max {
                return Err(invalid(field, format!("{v} is not between 1 and {max}")));
            }
        }
        if w.offer_reminder_days.value >= w.offer_days.value {
            return Err(invalid(
                "windows.offer_reminder_days",
                "the reminder must come before the offer expires (less than offer_days)",
            ));
        }
        if w.plus_reminder_days.value >= w.plus_months.value.saturating_mul(28) {
            return Err(invalid(
                "windows.plus_reminder_days",
                "the reminder must come before the Plus window closes",
            ));
        }
        for d in &w.expiry_reminder_days.value {
            if *d == 0 || *d > 366 {
                return Err(invalid(
                    "windows.expiry_reminder_days",
                    format!("{d} is not between 1 and 366"),
                ));
            }
        }
        Ok(())
    }

    /// The 2020 UK programme: £500,000 for Cyber Essentials certification of
    /// healthcare SMEs (medical suppliers, primary care other than GP
    /// practices), consultancy and certification costs covered.
    pub fn healthcare_cyber_essentials_2020() -> Programme {
        const NEWS: &str = "Government announces £500,000 to bolster healthcare cyber security (news report, 15 September 2020): medical suppliers and primary care providers; all consultancy and certification costs covered for hundreds of firms";
        const IASME_FEES: &str = "IASME Cyber Essentials pricing: £300 + VAT flat to 23 Jan 2022";
        const IASME_FEES_2022: &str = "IASME Cyber Essentials pricing from 24 Jan 2022: micro £300, small £400, medium £450, large £500 (+ VAT)";
        const IASME_PROCESS: &str = "IASME Cyber Essentials assessment process";
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap_or(NaiveDate::MIN);
        Programme {
            id: "healthcare-ce-2020".into(),
            name: "Cyber Essentials for healthcare suppliers 2020".into(),
            description: "Funded Cyber Essentials certification for healthcare SMEs critical to the COVID-19 response: consultancy and certification costs covered.".into(),
            currency: "GBP".into(),
            grant_id_prefix: "360G-grantflow-hce2020".into(),
            funder: Funder {
                id: "GB-GOR-D5".into(),
                name: "Department for Digital, Culture, Media and Sport".into(),
                reference: Some("org-id.guide list GB-GOR (UK central government); DCMS appears as GB-GOR-D5 in published 360Giving records".into()),
                assumed: None,
            },
            pot: Param::sourced(Money::pounds(500_000), NEWS),
            opens: Param::assumed(d(2020, 9, 1), "announced 15 September 2020; no opening date was published, so the whole of September counts"),
            closes: Param::assumed(d(2021, 3, 31), "end of the 2020/21 financial year"),
            sectors: vec![
                SectorRule {
                    id: "medical-supplier".into(),
                    name: "Medical supplier".into(),
                    eligible: true,
                    reason: "medical suppliers critical to the COVID-19 response are funded".into(),
                    reference: Some(NEWS.into()),
                    assumed: None,
                },
                SectorRule {
                    id: "primary-care".into(),
                    name: "Primary care provider (not a GP practice)".into(),
                    eligible: true,
                    reason: "primary care providers such as pharmacies, dentists and opticians are funded".into(),
                    reference: Some(NEWS.into()),
                    assumed: None,
                },
                SectorRule {
                    id: "gp-practice".into(),
                    name: "GP practice".into(),
                    eligible: false,
                    reason: "GP practices are excluded: they buy their security centrally".into(),
                    reference: Some(NEWS.into()),
                    assumed: None,
                },
                SectorRule {
                    id: "other".into(),
                    name: "Other sector".into(),
                    eligible: false,
                    reason: "only medical suppliers and primary care providers are funded".into(),
                    reference: Some(NEWS.into()),
                    assumed: None,
                },
            ],
            eligibility: EligibilityRules {
                max_employees_exclusive: Param::assumed(250, "SME means fewer than 250 staff (UK definition); the announcement says small and medium-sized businesses"),
                uk_only: Param::assumed(true, "a UK government fund for UK firms"),
                exclude_already_certified: Param::assumed(true, "the fund pays for new certification, not for firms already certified"),
            },
            coverage: CoverageRules {
                certification_fee: vec![
                    Dated { from: d(2020, 1, 1), until: Some(d(2022, 1, 23)), value: FeeTable::flat(Money::pounds(300)), reference: Some(IASME_FEES.into()), assumed: None },
                    Dated {
                        from: d(2022, 1, 24),
                        until: None,
                        value: FeeTable { micro: Money::pounds(300), small: Money::pounds(400), medium: Money::pounds(450), large: Money::pounds(500) },
                        reference: Some(IASME_FEES_2022.into()),
                        assumed: None,
                    },
                ],
                plus_funded: Param::assumed(false, "the announcement funds Cyber Essentials; Plus is a programme option"),
                plus_audit_cap: Param::sourced(Money::pounds(1_400), "typical Cyber Essentials Plus audit quote for a simple SME: £1,400 + VAT (range £1,400-£8,000)"),
                consultancy_day_rate_cap: Param::assumed(Money::pounds(600), "no sourced day rate; a cap a programme would set"),
                consultancy_days_cap: Param::assumed(Decimal::from(3), "1-3 days of readiness work is typical"),
                vat: Param::assumed(VatPolicy::UnlessRegistered, "VAT covered only where the applicant cannot reclaim it"),
                vat_rate: Param::sourced(Decimal::new(20, 2), "UK standard rate of VAT, 20%"),
                award_cap: Param::assumed(Money::pounds(2_500), "£500,000 / 200 firms = £2,500 each"),
            },
            allocation: AllocationRules {
                policy: Param::assumed(WaitlistPolicy::SkipAhead, "grantflow's default: no money sits idle while a smaller award fits"),
                contingency: Param::assumed(Money::pounds(10_000), "2% of the pot kept back for overruns"),
                ring_fences: Vec::new(),
            },
            windows: Windows {
                offer_days: Param::assumed(14, "two weeks to accept an offer"),
                offer_reminder_days: Param::assumed(3, "a reminder 3 days before an offer expires"),
                feedback_working_days: Param::sourced(2, IASME_PROCESS),
                pass_months: Param::sourced(6, IASME_PROCESS),
                validity_months: Param::sourced(12, IASME_PROCESS),
                expiry_reminder_days: Param::sourced(vec![30, 7], IASME_PROCESS),
                plus_months: Param::sourced(3, IASME_PROCESS),
                plus_retest_days: Param::sourced(30, IASME_PROCESS),
                plus_reminder_days: Param::assumed(14, "two weeks' notice before the Plus window closes"),
            },
        }
    }
}

/// Adds working days (Monday to Friday; bank holidays are not modelled).
pub fn add_working_days(date: NaiveDate, days: u32) -> NaiveDate {
    let mut d = date;
    let mut left = days;
    while left > 0 {
        d = d.succ_opt().unwrap_or(NaiveDate::MAX);
        if d == NaiveDate::MAX {
            break;
        }
        if d.weekday().num_days_from_monday() < 5 {
            left -= 1;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preset_is_valid_and_marks_every_parameter() {
        let p = Programme::healthcare_cyber_essentials_2020();
        p.validate().unwrap();
        assert!(p.pot.provenance().is_some());
        let toml = p.to_toml();
        assert_eq!(Programme::from_toml(&toml).unwrap(), p);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(Programme::from_json(&json).unwrap(), p);
    }

    #[test]
    fn dated_fees_follow_the_date() {
        let p = Programme::healthcare_cyber_essentials_2020();
        let before = in_force(
            &p.coverage.certification_fee,
            NaiveDate::from_ymd_opt(2022, 1, 23).unwrap(),
        )
        .unwrap();
        let after = in_force(
            &p.coverage.certification_fee,
            NaiveDate::from_ymd_opt(2022, 1, 24).unwrap(),
        )
        .unwrap();
        assert_eq!(before.value.fee(SizeBand::Medium), Money::pounds(300));
        assert_eq!(after.value.fee(SizeBand::Medium), Money::pounds(450));
        assert_eq!(SizeBand::of(9), SizeBand::Micro);
        assert_eq!(SizeBand::of(10), SizeBand::Small);
        assert_eq!(SizeBand::of(250), SizeBand::Large);
    }

    #[test]
    fn bad_rules_name_the_field() {
        let mut p = Programme::healthcare_cyber_essentials_2020();
        p.coverage.certification_fee[1].from = NaiveDate::from_ymd_opt(2021, 6, 1).unwrap();
        let err = p.validate().unwrap_err();
        assert!(
            matches!(&err, RulesError::Invalid { field, .. } if field == "coverage.certification_fee[1]"),
            "{err}"
        );
        let text = Programme::healthcare_cyber_essentials_2020()
            .to_toml()
            .replacen("value = \"500000.00\"", "value = \"-500000\"", 1);
        let err = Programme::from_toml(&text).unwrap_err();
        assert!(err.to_string().contains("negative"), "{err}");
        let text = Programme::healthcare_cyber_essentials_2020()
            .to_toml()
            .replacen(
                "currency = \"GBP\"",
                "currency = \"GBP\"\ncolour = \"red\"",
                1,
            );
        assert!(
            Programme::from_toml(&text)
                .unwrap_err()
                .to_string()
                .contains("colour")
        );
    }

    #[test]
    fn calendar_arithmetic() {
        let fri = NaiveDate::from_ymd_opt(2020, 10, 2).unwrap();
        assert_eq!(
            add_working_days(fri, 2),
            NaiveDate::from_ymd_opt(2020, 10, 6).unwrap()
        );
    }
}
