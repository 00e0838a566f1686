//! Grouped bar charts: counts per class (paper Tables 1-2 as a figure) and bars with min–max
//! error bars plus an optional secondary axis (paper Fig. 7).

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use crate::axis::{fmt_value, Axis};
use crate::common::{
    build_chart, draw_marker, no_data, rel, text, text_width, titled, with_legend, Chart, Frame,
    LegendEntry, Marker, Swatch, SMALL_SIZE, TICK_SIZE,
};
use crate::palette::Palette;
use crate::stats::min_max;
use crate::{de, render, Figure, Result};

/// Options of [`bar_table`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BarOptions {
    /// Print each bar's value above it (rotated when the bar is narrower than the text).
    pub value_labels: bool,
    /// Logarithmic value axis (for strongly imbalanced class counts); non-positive bars are
    /// skipped.
    pub log_y: bool,
}

/// Horizontal extent of bar `j` of `k` in category `i` (groups take 80 % of the slot).
fn bar_span(i: usize, j: usize, k: usize) -> (f64, f64, f64) {
    let group = 0.8;
    let w = group / k.max(1) as f64;
    let x0 = i as f64 - group / 2.0 + j as f64 * w;
    (x0 + 0.05 * w, x0 + 0.95 * w, x0 + 0.5 * w)
}

fn category_labels(x_labels: &[String], n: usize) -> Vec<String> {
    (0..n)
        .map(|i| x_labels.get(i).cloned().unwrap_or_default())
        .collect()
}

/// Draws one bar from the axis base to `v` (plot space).
fn draw_bar<DB: DrawingBackend>(
    chart: &Chart<'_, DB>,
    x0: f64,
    x1: f64,
    base: f64,
    v: f64,
    color: RGBColor,
) -> Result<()> {
    let pa = chart.plotting_area();
    pa.draw(&Rectangle::new(
        [(x0, base), (x1, v)],
        color.mix(0.85).filled(),
    ))
    .map_err(de)?;
    pa.draw(&Rectangle::new(
        [(x0, base), (x1, v)],
        color.stroke_width(1),
    ))
    .map_err(de)?;
    Ok(())
}

/// Value label above (or below, for negative values) the end of a bar at pixel position.
#[allow(clippy::too_many_arguments)]
fn draw_value_label<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &Chart<'_, DB>,
    xc: f64,
    x0: f64,
    x1: f64,
    yv: f64,
    negative: bool,
    label: &str,
) -> Result<()> {
    let p = rel(area, chart.backend_coord(&(xc, yv)));
    let bar_px =
        (chart.backend_coord(&(x1, yv)).0 - chart.backend_coord(&(x0, yv)).0).max(1) as u32;
    let horiz = text(
        SMALL_SIZE,
        BLACK,
        HPos::Center,
        if negative { VPos::Top } else { VPos::Bottom },
    );
    if text_width(area, label, &horiz)? <= bar_px + 6 {
        let dy = if negative { 3 } else { -3 };
        area.draw_text(label, &horiz, (p.0, p.1 + dy)).map_err(de)?;
    } else {
        // Rotated, reading upwards, starting just beyond the bar end.
        let (h, dy) = if negative {
            (HPos::Right, 4)
        } else {
            (HPos::Left, -4)
        };
        let st = text(SMALL_SIZE, BLACK, h, VPos::Center).transform(FontTransform::Rotate270);
        area.draw_text(label, &st, (p.0, p.1 + dy)).map_err(de)?;
    }
    Ok(())
}

/// Grouped bars: one group per `x_labels` entry, one bar per series (`(name, values)`, value `i`
/// belongs to category `i`). Missing or non-finite values leave a gap. A legend is shown when
/// there is more than one series.
pub fn bar_table(
    title: &str,
    x_labels: &[String],
    series: &[(String, Vec<f64>)],
    y_label: &str,
    options: &BarOptions,
) -> Result<Figure> {
    let n = series
        .iter()
        .map(|(_, v)| v.len())
        .max()
        .unwrap_or(0)
        .max(x_labels.len());
    let k = series.len();
    let log_y = options.log_y;
    let valid = |v: f64| v.is_finite() && (!log_y || v > 0.0);
    let extent = min_max(
        series
            .iter()
            .flat_map(|(_, v)| v.iter().copied().filter(|&v| valid(v))),
    );
    let Some((lo, hi)) = extent.filter(|_| n > 0) else {
        return render!(|root| no_data(root, title, "", y_label));
    };
    let x = Axis::categorical(&category_labels(x_labels, n));
    // Headroom for value labels.
    let pad = if options.value_labels { 0.12 } else { 0.04 };
    let y = if log_y {
        Axis::log(lo, hi, pad)
    } else {
        Axis::linear(lo, hi, pad, true)
    };
    let entries: Vec<LegendEntry> = series
        .iter()
        .enumerate()
        .map(|(j, (name, _))| LegendEntry {
            label: name.clone(),
            swatch: Swatch::Patch {
                color: Palette::color(j),
                alpha: 0.85,
            },
        })
        .collect();

    render!(|root| {
        let body = titled(root, title)?;
        let plot = with_legend(&body, &entries)?;
        let frame = Frame::categorical(&x, &y, y_label);
        let chart = build_chart(&plot, &frame)?;
        let base = if log_y { y.lo } else { 0.0 };
        for (j, (_, vals)) in series.iter().enumerate() {
            let color = Palette::color(j);
            for (i, &v) in vals.iter().enumerate().take(n) {
                let Some(pv) = y.tf(v).filter(|_| valid(v)) else {
                    continue;
                };
                let (x0, x1, xc) = bar_span(i, j, k);
                draw_bar(&chart, x0, x1, base, pv, color)?;
                if options.value_labels {
                    draw_value_label(&plot, &chart, xc, x0, x1, pv, pv < base, &fmt_value(v))?;
                }
            }
        }
        Ok(())
    })
}

/// Right-hand axis for `axis` next to the plotting rectangle of `chart`, plus the dashed line
/// with diamond markers through `pts` (category index, value).
fn draw_secondary_axis<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &Chart<'_, DB>,
    label: &str,
    pts: &[(usize, f64)],
    axis: &Axis,
) -> Result<()> {
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let (x_right, _) = rel(area, (xr.end - 1, 0));
    let (_, top) = rel(area, (0, yr.start));
    let (_, bottom) = rel(area, (0, yr.end - 1));
    let py = |v: f64| {
        bottom - ((v - axis.lo) / (axis.hi - axis.lo) * (bottom - top) as f64).round() as i32
    };
    let color = Palette::NEUTRAL;
    let st = text(TICK_SIZE, BLACK, HPos::Left, VPos::Center);
    let mut max_w = 0;
    for (t, l) in axis.ticks.iter().zip(&axis.labels) {
        let y = py(*t);
        area.draw(&PathElement::new(
            vec![(x_right, y), (x_right + 5, y)],
            BLACK.stroke_width(1),
        ))
        .map_err(de)?;
        area.draw_text(l, &st, (x_right + 8, y)).map_err(de)?;
        max_w = max_w.max(text_width(area, l, &st)? as i32);
    }
    if !label.is_empty() {
        let desc = text(crate::common::DESC_SIZE, BLACK, HPos::Center, VPos::Top)
            .transform(FontTransform::Rotate270);
        area.draw_text(label, &desc, (x_right + 14 + max_w, (top + bottom) / 2))
            .map_err(de)?;
    }
    let line: Vec<(i32, i32)> = pts
        .iter()
        .map(|&(i, v)| (rel(area, chart.backend_coord(&(i as f64, 0.0))).0, py(v)))
        .collect();
    area.draw(&DashedPathElement::new(
        line.clone(),
        8,
        5,
        color.stroke_width(2),
    ))
    .map_err(de)?;
    for p in line {
        draw_marker(area, p, Marker::Diamond, 5, color.filled())?;
    }
    Ok(())
}

/// Grouped bars of means with min–max error bars, one group per `x_labels` entry and one bar per
/// series (`(name, [(mean, lo, hi); categories])`). `secondary = Some((label, values))` adds a
/// line with markers (value `i` at category `i`) on a right-hand axis titled `label` (e.g.
/// training time next to RMSE bars). Non-finite means skip the bar; non-finite bounds skip the
/// error bar.
pub fn grouped_bars_with_errors(
    title: &str,
    x_labels: &[String],
    series: &[(String, Vec<(f64, f64, f64)>)],
    y_label: &str,
    secondary: Option<(String, Vec<f64>)>,
) -> Result<Figure> {
    let n = series
        .iter()
        .map(|(_, v)| v.len())
        .max()
        .unwrap_or(0)
        .max(x_labels.len());
    let k = series.len();
    let extent = min_max(series.iter().flat_map(|(_, v)| {
        v.iter()
            .filter(|t| t.0.is_finite())
            .flat_map(|&(m, l, h)| [m, l, h])
    }));
    let Some((lo, hi)) = extent.filter(|_| n > 0) else {
        return render!(|root| no_data(root, title, "", y_label));
    };
    let x = Axis::categorical(&category_labels(x_labels, n));
    let y = Axis::linear(lo, hi, 0.06, true);

    let sec = secondary.as_ref().and_then(|(label, vals)| {
        let pts: Vec<(usize, f64)> = vals
            .iter()
            .copied()
            .enumerate()
            .take(n)
            .filter(|(_, v)| v.is_finite())
            .collect();
        let (a, b) = min_max(pts.iter().map(|p| p.1))?;
        let axis = Axis::linear(a, b, 0.06, a >= 0.0);
        Some((label.as_str(), pts, axis))
    });

    let mut entries: Vec<LegendEntry> = series
        .iter()
        .enumerate()
        .map(|(j, (name, _))| LegendEntry {
            label: name.clone(),
            swatch: Swatch::Patch {
                color: Palette::color(j),
                alpha: 0.85,
            },
        })
        .collect();
    if let Some((label, _, _)) = &sec {
        entries.push(LegendEntry {
            label: label.to_string(),
            swatch: Swatch::Line {
                color: Palette::NEUTRAL,
                dashed: true,
                marker: Some(Marker::Diamond),
            },
        });
    }

    render!(|root| {
        let body = titled(root, title)?;
        let plot = with_legend(&body, &entries)?;
        let right_area = match &sec {
            Some((label, _, axis)) => {
                let st = text(TICK_SIZE, BLACK, HPos::Left, VPos::Center);
                let mut w = 0;
                for l in &axis.labels {
                    w = w.max(text_width(&plot, l, &st)?);
                }
                w + 14 + if label.is_empty() { 0 } else { 28 }
            }
            None => 0,
        };
        let frame = Frame {
            right_area,
            ..Frame::categorical(&x, &y, y_label)
        };
        let chart = build_chart(&plot, &frame)?;
        for (j, (_, vals)) in series.iter().enumerate() {
            let color = Palette::color(j);
            for (i, &(m, l, h)) in vals.iter().enumerate().take(n) {
                if !m.is_finite() {
                    continue;
                }
                let (x0, x1, xc) = bar_span(i, j, k);
                draw_bar(&chart, x0, x1, 0.0, m, color)?;
                if l.is_finite() && h.is_finite() {
                    let cap = (x1 - x0) * 0.25;
                    let st = BLACK.stroke_width(2);
                    let pa = chart.plotting_area();
                    pa.draw(&PathElement::new(vec![(xc, l), (xc, h)], st))
                        .map_err(de)?;
                    for e in [l, h] {
                        pa.draw(&PathElement::new(vec![(xc - cap, e), (xc + cap, e)], st))
                            .map_err(de)?;
                    }
                }
            }
        }
        if let Some((label, pts, axis)) = &sec {
            draw_secondary_axis(&plot, &chart, label, pts, axis)?;
        }
        Ok(())
    })
}
