//! Summaries of a [`Simulation`]: percentiles per output ([`Spread`]), a
//! side-by-side text table, and the raw per-trial results as JSON or CSV.
//! Floats appear only here, for statistics; money stays exact in the results.

use std::fmt::Write as _;

use grantflow_core::Money;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;

use crate::sim::{Simulation, TrialResult, VariantResults};

/// How an output is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Count,
    Pounds,
    /// A week number; infinity means "never".
    Week,
}

/// One output of a trial, as a number for statistics.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    pub name: &'static str,
    pub unit: Unit,
    pub get: fn(&TrialResult) -> f64,
}

/// Money in pounds, as a float for statistics and plots only.
pub fn pounds(m: Money) -> f64 {
    m.as_decimal().to_f64().unwrap_or(0.0)
}

/// What the table's money and counts mean, in the words of `grantflow
/// ledger` and `status`: funded is an accepted offer, paid is gross. The
/// scenarios simulate no clawback, so nothing is recovered and net paid is
/// the same as paid.
pub const MEANING: &str = "funded: offer accepted (holds or held an award); paid (gross): what claims paid; no clawback is simulated, so nothing is recovered and net paid equals paid (gross)";

/// The outputs reported for every variant.
pub const OUTPUTS: &[Output] = &[
    Output {
        name: "firms offered",
        unit: Unit::Count,
        get: |r| f64::from(r.offered),
    },
    Output {
        name: "firms funded",
        unit: Unit::Count,
        get: |r| f64::from(r.awarded),
    },
    Output {
        name: "certified",
        unit: Unit::Count,
        get: |r| f64::from(r.certified),
    },
    Output {
        name: "Plus certified",
        unit: Unit::Count,
        get: |r| f64::from(r.plus_certified),
    },
    Output {
        name: "completed",
        unit: Unit::Count,
        get: |r| f64::from(r.completed),
    },
    Output {
        name: "declined / lapsed",
        unit: Unit::Count,
        get: |r| f64::from(r.declined + r.lapsed),
    },
    Output {
        name: "withdrawn",
        unit: Unit::Count,
        get: |r| f64::from(r.withdrawn),
    },
    Output {
        name: "failed",
        unit: Unit::Count,
        get: |r| f64::from(r.failed),
    },
    Output {
        name: "waitlist left",
        unit: Unit::Count,
        get: |r| f64::from(r.waitlist_left),
    },
    Output {
        name: "paid (gross)",
        unit: Unit::Pounds,
        get: |r| pounds(r.paid),
    },
    Output {
        name: "reserved at end",
        unit: Unit::Pounds,
        get: |r| pounds(r.reserved),
    },
    Output {
        name: "released back",
        unit: Unit::Pounds,
        get: |r| pounds(r.released),
    },
    Output {
        name: "available at end",
        unit: Unit::Pounds,
        get: |r| pounds(r.available),
    },
    Output {
        name: "week pot exhausted",
        unit: Unit::Week,
        get: |r| r.exhausted_week.map_or(f64::INFINITY, f64::from),
    },
];

/// The `p`-th percentile (0 to 100) of sorted values, interpolating linearly
/// between closest ranks; infinities sort last.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0).clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let (a, b) = (sorted[lo], sorted[hi.min(sorted.len() - 1)]);
    if lo == hi || a == b || !a.is_finite() || !b.is_finite() {
        return if rank - lo as f64 >= 0.5 { b } else { a };
    }
    a + (b - a) * (rank - lo as f64)
}

/// p5, p50 and p95 of one output of one variant.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Spread {
    pub p5: f64,
    pub p50: f64,
    pub p95: f64,
}

/// Sorted values of `get` over a variant's trials.
pub fn sorted(v: &VariantResults, get: fn(&TrialResult) -> f64) -> Vec<f64> {
    let mut xs: Vec<f64> = v.trials.iter().map(get).collect();
    xs.sort_by(f64::total_cmp);
    xs
}

/// The spread of `get` over a variant's trials.
pub fn spread(v: &VariantResults, get: fn(&TrialResult) -> f64) -> Spread {
    let xs = sorted(v, get);
    Spread {
        p5: percentile(&xs, 5.0),
        p50: percentile(&xs, 50.0),
        p95: percentile(&xs, 95.0),
    }
}

fn fmt_value(x: f64, unit: Unit) -> String {
    if x.is_nan() {
        return "-".into();
    }
    if x.is_infinite() {
        return "never".into();
    }
    match unit {
        Unit::Count | Unit::Week => {
            if (x - x.round()).abs() < 0.05 {
                format!("{}", x.round() as i64)
            } else {
                format!("{x:.1}")
            }
        }
        Unit::Pounds => {
            let whole = x.round() as i64;
            let digits = whole.unsigned_abs().to_string();
            let mut grouped = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i) % 3 == 0 {
                    grouped.push(',');
                }
                grouped.push(c);
            }
            format!("{}£{grouped}", if whole < 0 { "-" } else { "" })
        }
    }
}

/// A side-by-side table: one row per output, p5 / p50 / p95 per variant.
pub fn table(sim: &Simulation) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut header = vec!["output".to_string()];
    let many = sim.variants.len() > 1;
    for (i, v) in sim.variants.iter().enumerate() {
        header.push(if many {
            format!("[{}] p5", i + 1)
        } else {
            format!("{} p5", v.label)
        });
        header.push("p50".into());
        header.push("p95".into());
    }
    rows.push(header);
    let mut add = |name: String, unit: Unit, get: &dyn Fn(&VariantResults) -> Spread| {
        let mut row = vec![name];
        for v in &sim.variants {
            let s = get(v);
            row.push(fmt_value(s.p5, unit));
            row.push(fmt_value(s.p50, unit));
            row.push(fmt_value(s.p95, unit));
        }
        rows.push(row);
    };
    for o in OUTPUTS {
        add(o.name.to_string(), o.unit, &|v| spread(v, o.get));
    }
    let sectors: Vec<String> = sim
        .variants
        .first()
        .and_then(|v| v.trials.first())
        .map(|t| t.sectors.iter().map(|s| s.sector.clone()).collect())
        .unwrap_or_default();
    for (i, name) in sectors.iter().enumerate() {
        add(format!("funded: {name}"), Unit::Count, &|v| {
            let mut xs: Vec<f64> = v
                .trials
                .iter()
                .map(|t| t.sectors.get(i).map_or(0.0, |s| f64::from(s.awarded)))
                .collect();
            xs.sort_by(f64::total_cmp);
            Spread {
                p5: percentile(&xs, 5.0),
                p50: percentile(&xs, 50.0),
                p95: percentile(&xs, 95.0),
            }
        });
    }
    let never: Vec<String> = sim
        .variants
        .iter()
        .map(|v| {
            let n = v
                .trials
                .iter()
                .filter(|t| t.exhausted_week.is_none())
                .count();
            format!("{:.0}%", 100.0 * n as f64 / v.trials.len().max(1) as f64)
        })
        .collect();
    let mut row = vec!["pot never exhausted (share)".to_string()];
    for n in never {
        row.extend([String::new(), n, String::new()]);
    }
    rows.push(row);

    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    if sim.variants.len() > 1 {
        for (i, v) in sim.variants.iter().enumerate() {
            let _ = writeln!(out, "[{}] {}", i + 1, v.label);
        }
    }
    let _ = writeln!(
        out,
        "{} trials per variant, seed {}; percentiles p5 / p50 / p95",
        sim.trials, sim.seed
    );
    for (ri, r) in rows.iter().enumerate() {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            let w = widths.get(c).copied().unwrap_or(0);
            if c == 0 {
                let _ = write!(line, "{cell:<w$}");
            } else {
                let _ = write!(
                    line,
                    "{}{cell:>w$}",
                    if c % 3 == 1 { "  |  " } else { "  " }
                );
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
        if ri == 0 {
            let _ = writeln!(out, "{}", "-".repeat(line.trim_end().chars().count()));
        }
    }
    let _ = writeln!(out, "{MEANING}");
    out
}

/// The summary as JSON: for each variant, the p5 / p50 / p95 of every
/// output the table shows (the same names), the awards per sector and the
/// share of trials in which the pot never ran dry. A percentile that does
/// not exist (the week the pot ran dry, when it never did) is `null`.
pub fn summary_json(sim: &Simulation) -> String {
    let number = |x: f64| {
        serde_json::Number::from_f64(x).map_or(serde_json::Value::Null, serde_json::Value::Number)
    };
    let unit = |u: Unit| match u {
        Unit::Count => "count",
        Unit::Pounds => "pounds",
        Unit::Week => "week",
    };
    let variants: Vec<serde_json::Value> = sim
        .variants
        .iter()
        .map(|v| {
            let mut outputs: Vec<serde_json::Value> = OUTPUTS
                .iter()
                .map(|o| {
                    let s = spread(v, o.get);
                    serde_json::json!({"output": o.name, "unit": unit(o.unit), "p5": number(s.p5), "p50": number(s.p50), "p95": number(s.p95)})
                })
                .collect();
            let sectors: Vec<String> = v
                .trials
                .first()
                .map(|t| t.sectors.iter().map(|s| s.sector.clone()).collect())
                .unwrap_or_default();
            for (i, name) in sectors.iter().enumerate() {
                let mut xs: Vec<f64> = v
                    .trials
                    .iter()
                    .map(|t| t.sectors.get(i).map_or(0.0, |s| f64::from(s.awarded)))
                    .collect();
                xs.sort_by(f64::total_cmp);
                outputs.push(serde_json::json!({
                    "output": format!("funded: {name}"), "unit": "count",
                    "p5": number(percentile(&xs, 5.0)), "p50": number(percentile(&xs, 50.0)), "p95": number(percentile(&xs, 95.0)),
                }));
            }
            let never = v.trials.iter().filter(|t| t.exhausted_week.is_none()).count();
            serde_json::json!({
                "label": v.label,
                "outputs": outputs,
                "pot_never_exhausted_share": number(never as f64 / v.trials.len().max(1) as f64),
            })
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({
        "trials": sim.trials,
        "seed": sim.seed,
        "percentiles": ["p5", "p50", "p95"],
        "meaning": MEANING,
        "variants": variants,
    }))
    .unwrap_or_default()
}

/// The raw per-trial results as JSON (stable: same simulation, same bytes).
pub fn to_json(sim: &Simulation) -> String {
    serde_json::to_string_pretty(sim).unwrap_or_default()
}

/// The raw per-trial results as CSV: one row per variant and trial.
pub fn to_csv(sim: &Simulation) -> String {
    let mut out = String::new();
    let sectors: Vec<String> = sim
        .variants
        .first()
        .and_then(|v| v.trials.first())
        .map(|t| t.sectors.iter().map(|s| s.sector.clone()).collect())
        .unwrap_or_default();
    out.push_str("variant,trial,applicants,eligible,offered,awarded,certified,plus_certified,completed,declined,lapsed,withdrawn,failed,waitlist_left,available,reserved,paid,released,exhausted_week");
    for s in &sectors {
        let _ = write!(out, ",awarded_{s},paid_{s}");
    }
    out.push('\n');
    for v in &sim.variants {
        let label = csv_field(&v.label);
        for t in &v.trials {
            let _ = write!(
                out,
                "{label},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                t.trial,
                t.applicants,
                t.eligible,
                t.offered,
                t.awarded,
                t.certified,
                t.plus_certified,
                t.completed,
                t.declined,
                t.lapsed,
                t.withdrawn,
                t.failed,
                t.waitlist_left,
                t.available,
                t.reserved,
                t.paid,
                t.released,
                t.exhausted_week.map_or(String::new(), |w| w.to_string())
            );
            for s in &t.sectors {
                let _ = write!(out, ",{},{}", s.awarded, s.paid);
            }
            out.push('\n');
        }
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_and_handle_never() {
        let xs = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(percentile(&xs, 50.0), 3.0);
        assert!((percentile(&xs, 5.0) - 1.2).abs() < 1e-12);
        assert_eq!(percentile(&xs, 100.0), 5.0);
        let ys = [1.0, f64::INFINITY, f64::INFINITY];
        assert!(percentile(&ys, 50.0).is_infinite());
        assert_eq!(fmt_value(f64::INFINITY, Unit::Week), "never");
        assert_eq!(fmt_value(1234567.4, Unit::Pounds), "£1,234,567");
    }
}
