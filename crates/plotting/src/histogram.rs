//! Overlaid step histograms (paper Fig. 4: magnitude distributions per dataset).

use plotters::prelude::*;

use crate::axis::Axis;
use crate::common::{build_chart, no_data, titled, with_legend, Frame, LegendEntry, Swatch};
use crate::palette::Palette;
use crate::stats::{bin_counts, min_max};
use crate::{de, render, Figure, Result, Series1D};

/// Overlaid outline ("step") histograms with a light fill, one per series, sharing `bins`
/// equal-width bins over the common range of all finite values.
///
/// * `density`: each outline integrates to 1 (count / (n · bin width)); otherwise raw counts.
/// * `log_y`: logarithmic count axis; empty bins drop to the bottom of the axis.
///
/// Legend entries read `name (n=…)` and are shown when there is more than one series. Series with
/// no finite values are omitted; if no series has any, the figure says "no data".
pub fn histograms(
    title: &str,
    x_label: &str,
    series: &[Series1D],
    bins: usize,
    log_y: bool,
    density: bool,
) -> Result<Figure> {
    let y_label = if density { "density" } else { "count" };
    let bins = bins.clamp(1, 10_000);
    let clean: Vec<(usize, &str, Vec<f64>)> = series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                i,
                s.name.as_str(),
                s.values.iter().copied().filter(|v| v.is_finite()).collect(),
            )
        })
        .filter(|(_, _, v): &(usize, &str, Vec<f64>)| !v.is_empty())
        .collect();
    let Some((mut lo, mut hi)) = min_max(clean.iter().flat_map(|(_, _, v)| v.iter().copied()))
    else {
        return render!(|root| no_data(root, title, x_label, y_label));
    };
    if hi <= lo {
        lo -= 0.5;
        hi += 0.5;
    }
    let width = (hi - lo) / bins as f64;
    let edges: Vec<f64> = (0..=bins).map(|i| lo + width * i as f64).collect();
    let heights: Vec<Vec<f64>> = clean
        .iter()
        .map(|(_, _, v)| {
            let c = bin_counts(v, lo, hi, bins);
            let norm = if density {
                1.0 / (v.len() as f64 * width)
            } else {
                1.0
            };
            c.into_iter().map(|c| c as f64 * norm).collect()
        })
        .collect();

    let x = Axis::linear(lo, hi, 0.0, false);
    let y = if log_y {
        match min_max(heights.iter().flatten().copied().filter(|&h| h > 0.0)) {
            Some((a, b)) => Axis::log(a, b, 0.06),
            None => Axis::log(1.0, 10.0, 0.0),
        }
    } else {
        let top = heights.iter().flatten().copied().fold(0.0, f64::max);
        Axis::linear(0.0, top, 0.05, true)
    };

    let entries: Vec<LegendEntry> = clean
        .iter()
        .map(|(i, name, v)| LegendEntry {
            label: format!("{name} (n={})", v.len()),
            swatch: Swatch::Patch {
                color: Palette::color(*i),
                alpha: 0.15,
            },
        })
        .collect();

    render!(|root| {
        let body = titled(root, title)?;
        let plot = with_legend(&body, &entries)?;
        let frame = Frame::plain(&x, &y, x_label, y_label);
        let chart = build_chart(&plot, &frame)?;
        let floor = y.lo;
        for ((i, _, _), h) in clean.iter().zip(&heights) {
            let color = Palette::color(*i);
            let yv = |v: f64| y.tf(v).unwrap_or(floor).max(floor);
            let mut pts = Vec::with_capacity(2 * bins + 2);
            pts.push((edges[0], floor));
            for (b, &hv) in h.iter().enumerate() {
                pts.push((edges[b], yv(hv)));
                pts.push((edges[b + 1], yv(hv)));
            }
            pts.push((edges[bins], floor));
            chart
                .plotting_area()
                .draw(&Polygon::new(pts.clone(), color.mix(0.15).filled()))
                .map_err(de)?;
            chart
                .plotting_area()
                .draw(&PathElement::new(pts, color.stroke_width(2)))
                .map_err(de)?;
        }
        Ok(())
    })
}
