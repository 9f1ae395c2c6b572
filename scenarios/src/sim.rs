//! Many trials in parallel: [`simulate`] runs every [`Variant`] of a scenario
//! on the same simulated applicants per trial (common random numbers) and
//! returns a [`TrialResult`] per trial and variant.
//!
//! Trial `t` draws its applicants from a `ChaCha8Rng` seeded with
//! `splitmix64(seed ^ splitmix64(t))`, so a trial's result depends only on the
//! seed and its index, never on which thread ran it or in what order: the
//! output is identical for a seed whatever the thread count. Variants that
//! share a population reuse one draw; each worker thread reuses its state,
//! driver and draw buffers from one trial to the next.

use std::sync::{Arc, Mutex};

use grantflow_core::{Money, Programme};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::driver::{Direct, DriveError, DriveOptions, Driver, Trace, opening};
use crate::population::Draw;
use crate::scenario::Variant;

/// One sector's share of a trial's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectorResult {
    pub sector: String,
    pub applicants: u32,
    pub eligible: u32,
    pub awarded: u32,
    pub certified: u32,
    pub paid: Money,
}

/// What one trial of one variant produced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrialResult {
    pub trial: u32,
    pub applicants: u32,
    pub eligible: u32,
    /// Applications ever offered an award.
    pub offered: u32,
    /// Offers accepted: the firms funded.
    pub awarded: u32,
    /// Reached a Cyber Essentials certificate.
    pub certified: u32,
    /// Reached a funded Cyber Essentials Plus certificate.
    pub plus_certified: u32,
    pub completed: u32,
    pub declined: u32,
    pub lapsed: u32,
    pub withdrawn: u32,
    pub failed: u32,
    /// Still waitlisted at the end.
    pub waitlist_left: u32,
    /// The pot at the end.
    pub available: Money,
    pub reserved: Money,
    pub paid: Money,
    pub released: Money,
    /// The first week whose lowest `available - contingency` was below the
    /// smallest award of any eligible application of the trial (no new
    /// applicant could have been funded then); `None` if that never happened.
    pub exhausted_week: Option<u32>,
    pub sectors: Vec<SectorResult>,
    /// `available` at the end of each week, from week 0 (the opening).
    pub weekly_available: Vec<Money>,
}

/// The trials of one variant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantResults {
    pub label: String,
    pub settings: Vec<(String, String)>,
    pub contingency: Money,
    pub trials: Vec<TrialResult>,
}

/// Every variant's trials.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Simulation {
    pub seed: u64,
    pub trials: u32,
    pub variants: Vec<VariantResults>,
}

/// Why a simulation stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    #[error("variant `{variant}`, trial {trial}: {error}")]
    Drive {
        variant: String,
        trial: u32,
        error: DriveError,
    },
    #[error("no variants to simulate")]
    Empty,
}

/// The splitmix64 finaliser: spreads consecutive integers over 64 bits.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The random number generator of trial `trial` under `seed`.
pub fn trial_rng(seed: u64, trial: u32) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(splitmix64(seed ^ splitmix64(u64::from(trial))))
}

/// A worker's reusable buffers.
#[derive(Debug, Default)]
pub struct Scratch {
    exec: Direct,
    driver: Driver,
    draws: Vec<Draw>,
    drawn_for: Option<usize>,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch::default()
    }
}

/// A worker's buffers, taken from a shared pile of spares and put back when
/// the worker's job is done. The pile holds at most as many as were ever in
/// use at once (one per job running at the same time).
struct Lease<'a> {
    spare: &'a Mutex<Vec<Scratch>>,
    scratch: Scratch,
}

impl<'a> Lease<'a> {
    fn take(spare: &'a Mutex<Vec<Scratch>>) -> Lease<'a> {
        let scratch = spare
            .lock()
            .ok()
            .and_then(|mut pile| pile.pop())
            .unwrap_or_default();
        Lease { spare, scratch }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Ok(mut pile) = self.spare.lock() {
            pile.push(std::mem::take(&mut self.scratch));
        }
    }
}

/// Driver options for a variant's programme and run settings.
pub fn options_for(v: &Variant) -> DriveOptions {
    let p = &v.scenario.programme;
    let mut o = DriveOptions::for_programme(p);
    o.tick = v.scenario.run.tick;
    if let Some(m) = v.scenario.run.months_after_close {
        let close =
            opening(p) + chrono::Duration::days((p.closes.value - p.opens.value).num_days() + 1);
        o.end = close
            .checked_add_months(chrono::Months::new(m))
            .unwrap_or(o.end)
            .max(close + chrono::Duration::days(1));
    }
    o
}

/// Runs trial `trial` of every variant. Variants with equal populations see the same draws.
pub fn run_trial(
    variants: &[Variant],
    groups: &[usize],
    seed: u64,
    trial: u32,
    scratch: &mut Scratch,
) -> Result<Vec<TrialResult>, SimError> {
    scratch.drawn_for = None;
    let mut out = Vec::with_capacity(variants.len());
    for (vi, v) in variants.iter().enumerate() {
        let group = groups.get(vi).copied().unwrap_or(vi);
        if scratch.drawn_for != Some(group) {
            let pop = &v.scenario.population;
            pop.draw_into(
                &mut trial_rng(seed, trial),
                pop.applicants as usize,
                &mut scratch.draws,
            );
            scratch.drawn_for = Some(group);
        }
        let p = &v.scenario.programme;
        scratch.exec.reset();
        let opts = options_for(v);
        let trace = scratch
            .driver
            .run(p, &scratch.draws, opening(p), &opts, &mut scratch.exec)
            .map_err(|error| SimError::Drive {
                variant: v.label.clone(),
                trial,
                error,
            })?;
        out.push(summarise(p, &scratch.draws, trace, trial));
    }
    Ok(out)
}

/// Turns a trace into a trial's outputs.
pub fn summarise(p: &Programme, draws: &[Draw], trace: &Trace, trial: u32) -> TrialResult {
    let mut sectors: Vec<SectorResult> = p
        .sectors
        .iter()
        .map(|s| SectorResult {
            sector: s.id.clone(),
            applicants: 0,
            eligible: 0,
            awarded: 0,
            certified: 0,
            paid: Money::ZERO,
        })
        .collect();
    let mut r = TrialResult {
        trial,
        applicants: draws.len() as u32,
        eligible: 0,
        offered: 0,
        awarded: 0,
        certified: 0,
        plus_certified: 0,
        completed: 0,
        declined: 0,
        lapsed: 0,
        withdrawn: 0,
        failed: 0,
        waitlist_left: 0,
        available: trace.pot.available,
        reserved: trace.pot.reserved,
        paid: trace.pot.paid,
        released: trace.pot.released,
        exhausted_week: None,
        sectors: Vec::new(),
        weekly_available: trace.weeks.iter().map(|w| w.available).collect(),
    };
    let mut smallest: Option<Money> = None;
    let mut seen: Vec<(Arc<str>, Option<usize>)> = Vec::new();
    for (a, d) in trace.apps.iter().zip(draws) {
        use grantflow_core::StageKind as K;
        let n = |b: bool| u32::from(b);
        r.eligible += n(a.eligible);
        r.offered += n(a.offered);
        r.awarded += n(a.awarded);
        r.certified += n(a.certified);
        r.plus_certified += n(a.plus_certified);
        r.completed += n(a.stage == K::Completed);
        r.declined += n(a.stage == K::Declined);
        r.lapsed += n(a.stage == K::Lapsed);
        r.withdrawn += n(a.stage == K::Withdrawn);
        r.failed += n(a.stage == K::Failed);
        r.waitlist_left += n(a.stage == K::Waitlisted);
        if a.eligible && !a.award.is_zero() {
            smallest = Some(smallest.map_or(a.award, |s| s.min(a.award)));
        }
        // Draws of a sector share its id: look each id up in the programme once.
        let sector = match seen
            .iter()
            .find(|(id, _)| Arc::ptr_eq(id, &d.profile.sector))
        {
            Some((_, i)) => *i,
            None => {
                let i = p.sector(&d.profile.sector).map(|(i, _)| i);
                seen.push((Arc::clone(&d.profile.sector), i));
                i
            }
        };
        if let Some(s) = sector.and_then(|i| sectors.get_mut(i)) {
            s.applicants += 1;
            s.eligible += n(a.eligible);
            s.awarded += n(a.awarded);
            s.certified += n(a.certified);
            if !a.paid.is_zero() {
                s.paid = s.paid.checked_add(a.paid).unwrap_or(Money::MAX);
            }
        }
    }
    if let Some(smallest) = smallest {
        let threshold = p
            .allocation
            .contingency
            .value
            .checked_add(smallest)
            .unwrap_or(Money::MAX);
        r.exhausted_week = trace
            .weeks
            .iter()
            .find(|w| w.min_available < threshold)
            .map(|w| w.week);
    }
    r.sectors = sectors;
    r
}

/// For each variant, the index of the first variant with an equal population.
pub fn population_groups(variants: &[Variant]) -> Vec<usize> {
    variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            variants[..i]
                .iter()
                .position(|o| o.scenario.population == v.scenario.population)
                .unwrap_or(i)
        })
        .collect()
}

/// Runs `trials` trials of every variant from `seed` on the current rayon
/// pool; `progress` is called once per finished trial (from any thread).
pub fn simulate(
    variants: &[Variant],
    trials: u32,
    seed: u64,
    progress: &(dyn Fn() + Sync),
) -> Result<Simulation, SimError> {
    if variants.is_empty() {
        return Err(SimError::Empty);
    }
    let groups = population_groups(variants);
    // Rayon calls `map_init`'s `init` once per job it splits off, not once per
    // thread: the jobs lease their buffers from here and give them back, so
    // the buffers of one job serve the next instead of being built anew.
    let spare = Mutex::new(Vec::new());
    let per_trial: Vec<Vec<TrialResult>> = (0..trials)
        .into_par_iter()
        .map_init(
            || Lease::take(&spare),
            |lease, t| {
                let r = run_trial(variants, &groups, seed, t, &mut lease.scratch);
                progress();
                r
            },
        )
        .collect::<Result<_, _>>()?;
    let mut out: Vec<VariantResults> = variants
        .iter()
        .map(|v| VariantResults {
            label: v.label.clone(),
            settings: v.settings.clone(),
            contingency: v.scenario.programme.allocation.contingency.value,
            trials: Vec::with_capacity(trials as usize),
        })
        .collect();
    for row in per_trial {
        for (vi, r) in row.into_iter().enumerate() {
            if let Some(v) = out.get_mut(vi) {
                v.trials.push(r);
            }
        }
    }
    Ok(Simulation {
        seed,
        trials,
        variants: out,
    })
}
