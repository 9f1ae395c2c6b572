//! Drawing applicants: [`Population::draw`] samples each [`Draw`] with
//! cumulative weights built once per call, then sorts them by arrival.

use std::sync::Arc;

use grantflow_core::{CostRequest, Level};
use rand::Rng;
use rust_decimal::Decimal;

use super::names::{
    FAMILY, FIRST, GIVEN, NameParts, OTHER, OTHER_TRADES, REGIONS, SUFFIX, TRADES, trades_of,
};
use super::{Answer, Behaviour, Draw, Population, Profile};

impl Population {
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

/// Draws an entry of `list` (every list has fewer than 256 entries).
///
/// The range is a `u32` one: rand samples a `usize` range that fits in a
/// `u32` as that `u32` range, so the draw is the same as from
/// `0..list.len()`, and the `u32` sampling is the one the other draws use.
fn index_of(list: &[&str], rng: &mut impl Rng) -> u8 {
    let len = u32::try_from(list.len().max(1)).unwrap_or(u32::MAX);
    u8::try_from(rng.random_range(0..len)).unwrap_or(0)
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
}
