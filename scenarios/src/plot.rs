//! Plots with `plotters`, as SVG and PNG: the pot burn-down over weeks as a
//! fan chart (p5–p95 band and median of `available`) and a histogram of the
//! firms funded, one pair per variant.
//!
//! Text is drawn with a TrueType font loaded at run time (no build-time font
//! dependency): the file named by `GRANTFLOW_FONT`, else what `fc-match`
//! finds for `sans-serif`, else the first `.ttf` under the system font folder.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::report::{percentile, pounds};
use crate::sim::{Simulation, VariantResults};

/// Why plots were not written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlotError {
    #[error("no TrueType font found for the plot labels: set GRANTFLOW_FONT to a .ttf file")]
    NoFont,
    #[error("cannot write plots to {path}: {problem}")]
    Io { path: String, problem: String },
    #[error("drawing failed: {0}")]
    Draw(String),
}

const FONT: &str = "sans-serif";

fn find_font() -> Option<Vec<u8>> {
    if let Some(path) = std::env::var_os("GRANTFLOW_FONT") {
        return std::fs::read(path).ok();
    }
    let matched = std::process::Command::new("fc-match")
        .args(["--format=%{file}", "sans-serif:style=Regular"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim().to_string()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("ttf")));
    if let Some(bytes) = matched.and_then(|p| std::fs::read(p).ok()) {
        return Some(bytes);
    }
    let mut stack = vec![PathBuf::from("/usr/share/fonts")];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        seen += 1;
        if seen > 2_000 {
            break;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("ttf")) {
                if let Ok(bytes) = std::fs::read(&p) {
                    return Some(bytes);
                }
            }
        }
    }
    None
}

/// Registers the label font once; false if none could be found.
fn font_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| match find_font() {
        Some(bytes) => {
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font(FONT, FontStyle::Normal, bytes).is_ok()
        }
        None => false,
    })
}

fn draw_err<E: std::fmt::Debug>(e: E) -> PlotError {
    PlotError::Draw(format!("{e:?}"))
}

/// A file-name-safe form of a variant label.
pub fn slug(label: &str) -> String {
    let s: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let s = s
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if s.is_empty() {
        "base".into()
    } else {
        s.chars().take(80).collect()
    }
}

/// Weekly p5 / p50 / p95 of `available`, in pounds.
pub fn fan_series(v: &VariantResults) -> Vec<(u32, f64, f64, f64)> {
    let weeks = v
        .trials
        .iter()
        .map(|t| t.weekly_available.len())
        .max()
        .unwrap_or(0);
    let mut column = Vec::with_capacity(v.trials.len());
    (0..weeks)
        .map(|w| {
            column.clear();
            column.extend(
                v.trials
                    .iter()
                    .filter_map(|t| t.weekly_available.get(w).map(|m| pounds(*m))),
            );
            column.sort_by(f64::total_cmp);
            (
                w as u32,
                percentile(&column, 5.0),
                percentile(&column, 50.0),
                percentile(&column, 95.0),
            )
        })
        .collect()
}

fn fan<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    v: &VariantResults,
    title: &str,
    y_max: f64,
) -> Result<(), PlotError> {
    root.fill(&WHITE).map_err(draw_err)?;
    let series = fan_series(v);
    let weeks = series.len().max(2) as u32;
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0u32..weeks - 1, 0f64..(y_max / 1000.0).max(1.0))
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_desc("weeks since the programme opened")
        .y_desc("pot available (£ thousand)")
        .label_style((FONT, 13))
        .draw()
        .map_err(draw_err)?;
    let mut band: Vec<(u32, f64)> = series
        .iter()
        .map(|(w, _, _, hi)| (*w, hi / 1000.0))
        .collect();
    band.extend(series.iter().rev().map(|(w, lo, _, _)| (*w, lo / 1000.0)));
    chart
        .draw_series(std::iter::once(Polygon::new(band, BLUE.mix(0.25).filled())))
        .map_err(draw_err)?
        .label("p5–p95")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], BLUE.mix(0.25).filled()));
    chart
        .draw_series(LineSeries::new(
            series.iter().map(|(w, _, mid, _)| (*w, mid / 1000.0)),
            BLUE.stroke_width(2),
        ))
        .map_err(draw_err)?
        .label("median")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], BLUE.stroke_width(2)));
    let keep = pounds(v.contingency) / 1000.0;
    if keep > 0.0 {
        chart
            .draw_series(LineSeries::new(
                [(0, keep), (weeks - 1, keep)],
                RED.mix(0.7),
            ))
            .map_err(draw_err)?
            .label("contingency")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], RED.mix(0.7)));
    }
    chart
        .configure_series_labels()
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(draw_err)?;
    root.present().map_err(draw_err)
}

fn histogram<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    v: &VariantResults,
    title: &str,
) -> Result<(), PlotError> {
    root.fill(&WHITE).map_err(draw_err)?;
    let values: Vec<u32> = v.trials.iter().map(|t| t.awarded).collect();
    let lo = values.iter().copied().min().unwrap_or(0);
    let hi = values.iter().copied().max().unwrap_or(0);
    let width = ((hi - lo) / 40).max(1);
    let lo = lo / width * width;
    let top = (hi / width + 1) * width;
    let mut counts = vec![0u32; ((top - lo) / width) as usize + 1];
    for x in &values {
        if let Some(c) = counts.get_mut(((x - lo) / width) as usize) {
            *c += 1;
        }
    }
    let y_max = counts.iter().copied().max().unwrap_or(1).max(1);
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((lo..top).into_segmented(), 0u32..y_max + y_max / 10 + 1)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc(if width > 1 {
            format!("firms funded (offers accepted), bins of {width}")
        } else {
            "firms funded (offers accepted)".to_string()
        })
        .y_desc("trials")
        .label_style((FONT, 13))
        .draw()
        .map_err(draw_err)?;
    chart
        .draw_series(
            Histogram::vertical(&chart)
                .style(BLUE.mix(0.6).filled())
                .margin(1)
                .data(values.iter().map(|x| ((x - lo) / width * width + lo, 1u32))),
        )
        .map_err(draw_err)?;
    root.present().map_err(draw_err)
}

/// Writes `fan-<variant>.svg/.png` and `funded-<variant>.svg/.png` into `dir`; returns the paths written.
pub fn write_plots(sim: &Simulation, dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    if !font_ready() {
        return Err(PlotError::NoFont);
    }
    std::fs::create_dir_all(dir).map_err(|e| PlotError::Io {
        path: dir.display().to_string(),
        problem: e.to_string(),
    })?;
    let y_max = sim
        .variants
        .iter()
        .flat_map(|v| v.trials.iter())
        .flat_map(|t| t.weekly_available.iter())
        .map(|m| pounds(*m))
        .fold(0.0, f64::max);
    let mut written = Vec::new();
    for v in &sim.variants {
        let name = slug(&v.label);
        let suffix = if v.label == "base" {
            String::new()
        } else {
            format!(" ({})", v.label)
        };
        let fan_title = format!("Pot available by week, {} trials{suffix}", v.trials.len());
        let hist_title = format!("Firms funded per trial{suffix}");
        let (w, h) = (960, 540);
        let svg = dir.join(format!("fan-{name}.svg"));
        fan(
            &SVGBackend::new(&svg, (w, h)).into_drawing_area(),
            v,
            &fan_title,
            y_max,
        )?;
        let png = dir.join(format!("fan-{name}.png"));
        fan(
            &BitMapBackend::new(&png, (w, h)).into_drawing_area(),
            v,
            &fan_title,
            y_max,
        )?;
        let hsvg = dir.join(format!("funded-{name}.svg"));
        histogram(
            &SVGBackend::new(&hsvg, (w, h)).into_drawing_area(),
            v,
            &hist_title,
        )?;
        let hpng = dir.join(format!("funded-{name}.png"));
        histogram(
            &BitMapBackend::new(&hpng, (w, h)).into_drawing_area(),
            v,
            &hist_title,
        )?;
        written.extend([svg, png, hsvg, hpng]);
    }
    Ok(written)
}
