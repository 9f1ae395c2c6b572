//! The documented default population of the 2020 healthcare programme,
//! [`Population::default_2020`], which is also what `Default` gives.

use super::{
    Arrivals, BehaviourModel, DayRange, DaysMix, Population, PoundsRange, SectorShare, SizeMix,
};

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
}
