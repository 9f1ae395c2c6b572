//! [`Population::validate`]: every parameter checked, an error
//! ([`PopulationError`]) naming the key in the scenario file.

use super::{DayRange, Population};

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
}

#[cfg(test)]
mod tests {
    use super::*;

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
