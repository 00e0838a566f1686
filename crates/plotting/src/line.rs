//! Line charts with optional shaded spread and horizontal reference lines (paper Fig. 6: RMSE vs
//! epoch with the test RMSE as a horizontal line; Figs. 11/12: F1 vs samples per class).

use plotters::element::DashedPathElement;
use plotters::prelude::*;

use crate::axis::Axis;
use crate::common::{
    build_chart, draw_marker, no_data, rel, runs, titled, with_legend, Frame, LegendEntry, Marker,
    Swatch,
};
use crate::palette::Palette;
use crate::stats::min_max;
use crate::{de, render, Figure, Result};

/// Series drawn with markers when they have at most this many points.
const MARKER_MAX_POINTS: usize = 30;

/// One line of [`line_chart`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LineSeries {
    pub name: String,
    /// `(x, y)` in drawing order; non-finite (or, on log axes, non-positive) points break the line.
    pub points: Vec<(f64, f64)>,
    /// Optional shaded spread: `(x, lo, hi)` triples (e.g. min–max or ±1σ over folds).
    pub band: Option<Vec<(f64, f64, f64)>>,
    /// Dashed instead of solid line.
    pub dashed: bool,
    /// Palette slot (default: the series' position), so a reference curve can share the colour of
    /// the curve it is compared with.
    pub color: Option<usize>,
}

impl LineSeries {
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
            band: None,
            dashed: false,
            color: None,
        }
    }

    pub fn with_band(mut self, band: Vec<(f64, f64, f64)>) -> Self {
        self.band = Some(band);
        self
    }

    /// Draws in palette slot `slot` instead of the series' position.
    pub fn colored(mut self, slot: usize) -> Self {
        self.color = Some(slot);
        self
    }

    pub fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }
}

/// Line chart. Series `i` gets palette colour `i` (markers when it has at most 30 points, and a
/// translucent band when `band` is given); each `hlines` entry `(label, y)` is a dashed horizontal
/// reference line across the whole x range in the next palette colours. `log_x` / `log_y` make the
/// axes logarithmic (non-positive values are skipped). Legend when there is more than one entry.
#[allow(clippy::too_many_arguments)]
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[LineSeries],
    hlines: &[(String, f64)],
    log_x: bool,
    log_y: bool,
) -> Result<Figure> {
    let tx = |v: f64| crate::axis::tf(log_x, v);
    let ty = |v: f64| crate::axis::tf(log_y, v);
    let pt = |(x, y): (f64, f64)| Some((tx(x)?, ty(y)?));

    // Plot-space geometry per series: line runs and band polygon.
    struct Geo {
        runs: Vec<Vec<(f64, f64)>>,
        band: Vec<(f64, f64, f64)>,
    }
    let geo: Vec<Geo> = series
        .iter()
        .map(|s| Geo {
            runs: runs(s.points.iter().map(|&p| pt(p))),
            band: s
                .band
                .iter()
                .flatten()
                .filter_map(|&(x, lo, hi)| Some((tx(x)?, ty(lo)?, ty(hi)?)))
                .collect(),
        })
        .collect();
    let hl: Vec<(usize, &str, f64)> = hlines
        .iter()
        .enumerate()
        .filter_map(|(j, (l, v))| Some((j, l.as_str(), ty(*v)?)))
        .collect();

    let xs = geo.iter().flat_map(|g| {
        g.runs
            .iter()
            .flatten()
            .map(|p| p.0)
            .chain(g.band.iter().map(|b| b.0))
    });
    let ys = geo
        .iter()
        .flat_map(|g| {
            g.runs
                .iter()
                .flatten()
                .map(|p| p.1)
                .chain(g.band.iter().flat_map(|b| [b.1, b.2]))
        })
        .chain(hl.iter().map(|h| h.2));
    let (Some((x0, x1)), Some((y0, y1))) = (min_max(xs), min_max(ys)) else {
        return render!(|root| no_data(root, title, x_label, y_label));
    };
    // Back to data space for the axis builders (which take data values).
    let un = |log: bool, v: f64| if log { 10f64.powf(v) } else { v };
    let x = Axis::auto(log_x, un(log_x, x0), un(log_x, x1), 0.02, false);
    let y = Axis::auto(log_y, un(log_y, y0), un(log_y, y1), 0.05, false);

    let mut entries: Vec<LegendEntry> = Vec::new();
    for (i, (s, g)) in series.iter().zip(&geo).enumerate() {
        if g.runs.is_empty() && g.band.is_empty() {
            continue;
        }
        let n: usize = g.runs.iter().map(Vec::len).sum();
        entries.push(LegendEntry {
            label: s.name.clone(),
            swatch: Swatch::Line {
                color: Palette::color(s.color.unwrap_or(i)),
                dashed: s.dashed,
                marker: (n <= MARKER_MAX_POINTS).then_some(Marker::nth(i / 8)),
            },
        });
    }
    for &(j, label, _) in &hl {
        entries.push(LegendEntry {
            label: label.to_string(),
            swatch: Swatch::Line {
                color: Palette::color(series.len() + j),
                dashed: true,
                marker: None,
            },
        });
    }

    render!(|root| {
        let body = titled(root, title)?;
        let plot = with_legend(&body, &entries)?;
        let frame = Frame::plain(&x, &y, x_label, y_label);
        let chart = build_chart(&plot, &frame)?;
        let pa = chart.plotting_area();
        // Bands first, so lines stay on top.
        for (i, g) in geo.iter().enumerate() {
            if g.band.len() >= 2 {
                let mut poly: Vec<(f64, f64)> = g.band.iter().map(|b| (b.0, b.1)).collect();
                poly.extend(g.band.iter().rev().map(|b| (b.0, b.2)));
                pa.draw(&Polygon::new(poly, Palette::color(series[i].color.unwrap_or(i)).mix(0.2).filled()))
                    .map_err(de)?;
            }
        }
        for &(j, _, v) in &hl {
            let st = Palette::color(series.len() + j).stroke_width(2);
            pa.draw(&DashedPathElement::new(
                vec![(x.lo, v), (x.hi, v)],
                10,
                6,
                st,
            ))
            .map_err(de)?;
        }
        for (i, (s, g)) in series.iter().zip(&geo).enumerate() {
            let color = Palette::color(s.color.unwrap_or(i));
            let st = color.stroke_width(2);
            let n: usize = g.runs.iter().map(Vec::len).sum();
            for r in &g.runs {
                if s.dashed {
                    pa.draw(&DashedPathElement::new(r.clone(), 8, 5, st))
                        .map_err(de)?;
                } else {
                    pa.draw(&PathElement::new(r.clone(), st)).map_err(de)?;
                }
                if n <= MARKER_MAX_POINTS {
                    for &p in r {
                        let px = rel(&plot, chart.backend_coord(&p));
                        draw_marker(&plot, px, Marker::nth(i / 8), 4, color.filled())?;
                    }
                }
            }
        }
        Ok(())
    })
}
