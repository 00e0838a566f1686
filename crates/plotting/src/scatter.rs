//! Scatter plot coloured by group (t-SNE embeddings, folded light curves).

use plotters::prelude::*;

use crate::axis::Axis;
use crate::common::{
    build_chart, draw_marker, no_data, rel, titled, with_legend, Frame, LegendEntry, Marker, Swatch,
};
use crate::palette::Palette;
use crate::stats::min_max;
use crate::{render, Figure, Result};

/// Scatter plot: group `i` uses palette colour `i` (and, beyond 8 groups, a different marker
/// shape per cycle). Points are slightly translucent so dense regions stay readable; non-finite
/// points are skipped. Legend (with the number of points) when there is more than one group.
pub fn scatter(
    title: &str,
    x_label: &str,
    y_label: &str,
    groups: &[(String, Vec<(f64, f64)>)],
) -> Result<Figure> {
    let clean: Vec<Vec<(f64, f64)>> = groups
        .iter()
        .map(|(_, pts)| {
            pts.iter()
                .copied()
                .filter(|p| p.0.is_finite() && p.1.is_finite())
                .collect()
        })
        .collect();
    let xs = min_max(clean.iter().flatten().map(|p| p.0));
    let ys = min_max(clean.iter().flatten().map(|p| p.1));
    let (Some((x0, x1)), Some((y0, y1))) = (xs, ys) else {
        return render!(|root| no_data(root, title, x_label, y_label));
    };
    let x = Axis::linear(x0, x1, 0.03, false);
    let y = Axis::linear(y0, y1, 0.05, false);
    let entries: Vec<LegendEntry> = groups
        .iter()
        .zip(&clean)
        .enumerate()
        .filter(|(_, (_, c))| !c.is_empty())
        .map(|(i, ((name, _), c))| LegendEntry {
            label: format!("{name} (n={})", c.len()),
            swatch: Swatch::Point {
                color: Palette::color(i),
                marker: Marker::nth(i / 8),
            },
        })
        .collect();
    let total: usize = clean.iter().map(Vec::len).sum();
    let (radius, alpha) = if total > 5_000 {
        (2, 0.6)
    } else if total > 500 {
        (3, 0.7)
    } else {
        (4, 0.85)
    };

    render!(|root| {
        let body = titled(root, title)?;
        let plot = with_legend(&body, &entries)?;
        let frame = Frame::plain(&x, &y, x_label, y_label);
        let chart = build_chart(&plot, &frame)?;
        for (i, pts) in clean.iter().enumerate() {
            let style = Palette::color(i).mix(alpha).filled();
            let marker = Marker::nth(i / 8);
            for &p in pts {
                let px = rel(&plot, chart.backend_coord(&p));
                draw_marker(&plot, px, marker, radius, style)?;
            }
        }
        Ok(())
    })
}
