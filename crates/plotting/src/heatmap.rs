//! Heatmap with colour bar and per-cell text (confusion matrices).

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use crate::axis::{fmt_value, nice_ticks, Axis};
use crate::common::{
    build_chart, fit_text, no_data, rel, text, text_width, titled, Frame, TICK_SIZE,
};
use crate::palette::Palette;
use crate::stats::min_max;
use crate::{de, render, Figure, Result};

const NAN_CELL: RGBColor = RGBColor(235, 235, 235);
const COLORBAR_W: u32 = 110;

/// Heatmap of `values[row][col]` with the first row at the top (confusion matrix: rows = true
/// class on the y axis, columns = predicted class on the x axis). Colours use viridis from
/// `min(0, min)` (non-negative data is anchored at 0) to the maximum; a colour bar is drawn on the
/// right. Each cell shows `annotations[row][col]` when given, otherwise its value; text is black or
/// white depending on the cell colour and is left out when cells are too small. Non-finite cells
/// are light grey. Ragged rows are padded; missing labels are blank.
#[allow(clippy::too_many_arguments)]
pub fn heatmap(
    title: &str,
    row_labels: &[String],
    col_labels: &[String],
    values: &[Vec<f64>],
    annotations: Option<&[Vec<String>]>,
    x_label: &str,
    y_label: &str,
) -> Result<Figure> {
    let nrows = values.len();
    let ncols = values.iter().map(Vec::len).max().unwrap_or(0);
    let extent = min_max(values.iter().flatten().copied());
    let (Some((vmin, vmax)), true) = (extent, nrows > 0 && ncols > 0) else {
        return render!(|root| no_data(root, title, x_label, y_label));
    };
    let mut lo = if vmin >= 0.0 { 0.0 } else { vmin };
    let mut hi = vmax;
    if hi <= lo {
        if hi == 0.0 {
            hi = 1.0;
        } else {
            lo -= 0.5 * lo.abs().max(1e-12);
            hi += 0.5 * hi.abs().max(1e-12);
        }
    }
    let norm = |v: f64| (v - lo) / (hi - lo);

    let col_names: Vec<String> = (0..ncols)
        .map(|j| col_labels.get(j).cloned().unwrap_or_default())
        .collect();
    // y position r = nrows - 1 - row, so row 0 is drawn at the top.
    let row_names: Vec<String> = (0..nrows)
        .rev()
        .map(|i| row_labels.get(i).cloned().unwrap_or_default())
        .collect();
    let x = Axis::categorical(&col_names);
    let y = Axis::categorical(&row_names);

    let cell_text = |i: usize, j: usize| -> String {
        if let Some(a) = annotations {
            return a.get(i).and_then(|r| r.get(j)).cloned().unwrap_or_default();
        }
        values[i].get(j).map(|&v| fmt_value(v)).unwrap_or_default()
    };

    render!(|root| {
        let body = titled(root, title)?;
        let (w, _) = body.dim_in_pixel();
        let (main, cbar) = body.split_horizontally(w.saturating_sub(COLORBAR_W));
        let frame = Frame {
            x: &x,
            y: &y,
            x_desc: x_label,
            y_desc: y_label,
            right_area: 0,
            x_grid: false,
            y_grid: false,
        };
        let chart = build_chart(&main, &frame)?;
        let pa = chart.plotting_area();
        let cell_w =
            (chart.backend_coord(&(1.0, 0.0)).0 - chart.backend_coord(&(0.0, 0.0)).0).abs();
        let cell_h =
            (chart.backend_coord(&(0.0, 0.0)).1 - chart.backend_coord(&(0.0, 1.0)).1).abs();
        let font = (cell_h as f64 * 0.45).min(TICK_SIZE);
        for i in 0..nrows {
            let r = (nrows - 1 - i) as f64;
            for j in 0..ncols {
                let c = j as f64;
                let v = values[i].get(j).copied().unwrap_or(f64::NAN);
                let color = if v.is_finite() {
                    Palette::viridis(norm(v))
                } else {
                    NAN_CELL
                };
                pa.draw(&Rectangle::new(
                    [(c - 0.5, r - 0.5), (c + 0.5, r + 0.5)],
                    color.filled(),
                ))
                .map_err(de)?;
                pa.draw(&Rectangle::new(
                    [(c - 0.5, r - 0.5), (c + 0.5, r + 0.5)],
                    WHITE.stroke_width(1),
                ))
                .map_err(de)?;
                let t = cell_text(i, j);
                if t.is_empty() || font < 7.0 {
                    continue;
                }
                let tc = if Palette::luminance(color) < 0.5 {
                    WHITE
                } else {
                    BLACK
                };
                let st = text(font, tc, HPos::Center, VPos::Center);
                if text_width(&main, &t, &st)? as i32 > cell_w - 4 {
                    continue;
                }
                let p = rel(&main, chart.backend_coord(&(c, r)));
                main.draw_text(&t, &st, p).map_err(de)?;
            }
        }

        // Colour bar aligned with the plotting rectangle.
        let (_, yr) = pa.get_pixel_range();
        let top = rel(&cbar, (0, yr.start)).1;
        let bottom = rel(&cbar, (0, yr.end)).1;
        let (bx0, bx1) = (14, 34);
        let steps = (bottom - top).max(1);
        for s in 0..steps {
            let t = 1.0 - s as f64 / (steps - 1).max(1) as f64;
            cbar.draw(&Rectangle::new(
                [(bx0, top + s), (bx1, top + s + 1)],
                Palette::viridis(t).filled(),
            ))
            .map_err(de)?;
        }
        cbar.draw(&Rectangle::new(
            [(bx0, top), (bx1, bottom)],
            BLACK.stroke_width(1),
        ))
        .map_err(de)?;
        let st = text(TICK_SIZE, BLACK, HPos::Left, VPos::Center);
        let (ticks, labels) = nice_ticks(lo, hi, 6);
        for (t, l) in ticks.iter().zip(labels) {
            let py = bottom - ((t - lo) / (hi - lo) * (bottom - top) as f64).round() as i32;
            cbar.draw(&PathElement::new(
                vec![(bx1, py), (bx1 + 5, py)],
                BLACK.stroke_width(1),
            ))
            .map_err(de)?;
            let l = fit_text(&cbar, &l, &st, COLORBAR_W - 48)?;
            cbar.draw_text(&l, &st, (bx1 + 8, py)).map_err(de)?;
        }
        Ok(())
    })
}
