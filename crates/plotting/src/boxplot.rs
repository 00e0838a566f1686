//! Box plots per group (paper Fig. 5: Δt per dataset on a log axis).

use plotters::prelude::*;

use crate::axis::Axis;
use crate::common::{build_chart, draw_marker, no_data, rel, titled, Frame, Marker};
use crate::palette::Palette;
use crate::stats::{box_stats, min_max, BoxStats};
use crate::{de, render, Figure, Result, Series1D};

/// One Tukey box per group: box from Q1 to Q3 (linear-interpolated quartiles), median line,
/// whiskers to the most extreme data within 1.5 IQR of the box, points beyond drawn as hollow
/// circles (thinned to at most 400 per group, extremes kept).
///
/// With `log_y` the axis is logarithmic and non-positive values are dropped before the statistics
/// are computed. Groups keep their slot (and label) even when they have no usable value.
pub fn boxplots(title: &str, y_label: &str, groups: &[Series1D], log_y: bool) -> Result<Figure> {
    let stats: Vec<Option<BoxStats>> = groups
        .iter()
        .map(|g| box_stats(g.values.iter().copied().filter(|&v| !log_y || v > 0.0)))
        .collect();
    let extent = min_max(stats.iter().flatten().flat_map(|s| {
        [s.whisker_lo, s.whisker_hi]
            .into_iter()
            .chain(s.outliers.iter().copied())
    }));
    let Some((lo, hi)) = extent else {
        return render!(|root| no_data(root, title, "", y_label));
    };
    let labels: Vec<String> = groups.iter().map(|g| g.name.clone()).collect();
    let x = Axis::categorical(&labels);
    let y = Axis::auto(log_y, lo, hi, 0.05, false);

    render!(|root| {
        let body = titled(root, title)?;
        let frame = Frame::categorical(&x, &y, y_label);
        let chart = build_chart(&body, &frame)?;
        let pa = chart.plotting_area();
        let ty = |v: f64| y.tf(v).unwrap_or(y.lo);
        for (i, s) in stats.iter().enumerate() {
            let Some(s) = s else { continue };
            let color = Palette::color(i);
            let c = i as f64;
            let (hw, cap) = (0.25, 0.12);
            pa.draw(&Rectangle::new(
                [(c - hw, ty(s.q1)), (c + hw, ty(s.q3))],
                color.mix(0.3).filled(),
            ))
            .map_err(de)?;
            pa.draw(&Rectangle::new(
                [(c - hw, ty(s.q1)), (c + hw, ty(s.q3))],
                color.stroke_width(2),
            ))
            .map_err(de)?;
            let whisker = BLACK.stroke_width(1);
            for (from, to) in [(s.q3, s.whisker_hi), (s.q1, s.whisker_lo)] {
                pa.draw(&PathElement::new(vec![(c, ty(from)), (c, ty(to))], whisker))
                    .map_err(de)?;
                pa.draw(&PathElement::new(
                    vec![(c - cap, ty(to)), (c + cap, ty(to))],
                    whisker,
                ))
                .map_err(de)?;
            }
            pa.draw(&PathElement::new(
                vec![(c - hw, ty(s.median)), (c + hw, ty(s.median))],
                BLACK.stroke_width(3),
            ))
            .map_err(de)?;
            for &o in &s.outliers {
                let p = rel(&body, chart.backend_coord(&(c, ty(o))));
                draw_marker(&body, p, Marker::Circle, 3, color.stroke_width(1))?;
            }
        }
        Ok(())
    })
}
