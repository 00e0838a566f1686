//! Layout shared by all figures: title, axes/mesh, legend panel, markers, "no data".

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::axis::{Axis, TickCoord};
use crate::{de, Result, FONT_FAMILY};

pub(crate) const TITLE_SIZE: f64 = 24.0;
pub(crate) const DESC_SIZE: f64 = 18.0;
pub(crate) const TICK_SIZE: f64 = 14.0;
pub(crate) const LEGEND_SIZE: f64 = 14.0;
pub(crate) const SMALL_SIZE: f64 = 12.0;

pub(crate) const GRID: RGBColor = RGBColor(221, 221, 221);
pub(crate) const GRID_MINOR: RGBColor = RGBColor(240, 240, 240);
pub(crate) const FRAME: RGBColor = RGBColor(40, 40, 40);

pub(crate) type Coord = Cartesian2d<TickCoord, TickCoord>;
pub(crate) type Chart<'a, DB> = ChartContext<'a, DB, Coord>;

/// Text style of the embedded font.
pub(crate) fn text(size: f64, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle {
        font: FontDesc::new(FontFamily::Name(FONT_FAMILY), size, FontStyle::Normal),
        color: color.to_backend_color(),
        pos: Pos::new(h, v),
    }
}

/// Width of `s` in pixels when drawn with `style` on `area`.
pub(crate) fn text_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &str,
    style: &TextStyle,
) -> Result<u32> {
    if s.is_empty() {
        return Ok(0);
    }
    Ok(area.estimate_text_size(s, style).map_err(de)?.0)
}

/// Truncates `s` with an ellipsis so that it fits in `max_w` pixels.
pub(crate) fn fit_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &str,
    style: &TextStyle,
    max_w: u32,
) -> Result<String> {
    let chars: Vec<char> = s.chars().take(200).collect();
    if chars.len() == s.chars().count() && text_width(area, s, style)? <= max_w {
        return Ok(s.to_string());
    }
    let mut n = chars.len();
    while n > 0 {
        n -= 1;
        let t: String = chars[..n].iter().collect::<String>() + "…";
        if text_width(area, &t, style)? <= max_w {
            return Ok(t);
        }
    }
    Ok(String::new())
}

/// Draws the figure title and returns the area below it.
pub(crate) fn titled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<DrawingArea<DB, Shift>> {
    let top = root.margin(8, 0, 0, 0);
    let style = text(TITLE_SIZE, BLACK, HPos::Center, VPos::Top);
    let (w, _) = root.dim_in_pixel();
    let t = fit_text(root, title, &style, w.saturating_sub(20))?;
    let t = if t.is_empty() { " ".to_string() } else { t };
    let body = top.titled(&t, style).map_err(de)?;
    Ok(body.margin(4, 0, 0, 0))
}

/// The whole figure when there is nothing to plot: title, axis labels and "no data".
pub(crate) fn no_data<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    y_desc: &str,
) -> Result<()> {
    let body = titled(root, title)?;
    let (w, h) = body.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    body.draw(&Rectangle::new(
        [(60, 10), (w - 30, h - 60)],
        GRID.stroke_width(1),
    ))
    .map_err(de)?;
    body.draw_text(
        "no data",
        &text(
            DESC_SIZE,
            RGBColor(110, 110, 110),
            HPos::Center,
            VPos::Center,
        ),
        ((w + 30) / 2, (h - 50) / 2),
    )
    .map_err(de)?;
    if !x_desc.is_empty() {
        body.draw_text(
            x_desc,
            &text(DESC_SIZE, BLACK, HPos::Center, VPos::Bottom),
            ((w + 30) / 2, h - 15),
        )
        .map_err(de)?;
    }
    if !y_desc.is_empty() {
        let st =
            text(DESC_SIZE, BLACK, HPos::Center, VPos::Top).transform(FontTransform::Rotate270);
        body.draw_text(y_desc, &st, (15, (h - 50) / 2))
            .map_err(de)?;
    }
    Ok(())
}

/// Marker shapes; series beyond the palette size cycle through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Marker {
    Circle,
    Triangle,
    Square,
    Diamond,
    Cross,
}

impl Marker {
    pub fn nth(i: usize) -> Marker {
        [
            Marker::Circle,
            Marker::Triangle,
            Marker::Square,
            Marker::Diamond,
            Marker::Cross,
        ][i % 5]
    }
}

/// Draws a marker centred at pixel `(x, y)` of `area` (area-relative coordinates).
pub(crate) fn draw_marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x, y): (i32, i32),
    marker: Marker,
    r: i32,
    style: ShapeStyle,
) -> Result<()> {
    match marker {
        Marker::Circle => area.draw(&Circle::new((x, y), r, style)),
        Marker::Square => area.draw(&Rectangle::new([(x - r, y - r), (x + r, y + r)], style)),
        Marker::Triangle => {
            let h = r + 1;
            area.draw(&Polygon::new(
                vec![(x, y - h), (x - h, y + r), (x + h, y + r)],
                style,
            ))
        }
        Marker::Diamond => {
            let h = r + 1;
            area.draw(&Polygon::new(
                vec![(x, y - h), (x + h, y), (x, y + h), (x - h, y)],
                style,
            ))
        }
        Marker::Cross => {
            let s = ShapeStyle {
                filled: false,
                stroke_width: 2,
                ..style
            };
            area.draw(&PathElement::new(vec![(x - r, y - r), (x + r, y + r)], s))
                .and_then(|_| area.draw(&PathElement::new(vec![(x - r, y + r), (x + r, y - r)], s)))
        }
    }
    .map_err(de)
}

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Swatch {
    /// A line (optionally dashed) with an optional marker in its middle.
    Line {
        color: RGBColor,
        dashed: bool,
        marker: Option<Marker>,
    },
    /// A filled patch with an outline (bars, histogram fills, boxes).
    Patch { color: RGBColor, alpha: f64 },
    /// A single marker (scatter).
    Point { color: RGBColor, marker: Marker },
}

#[derive(Debug, Clone)]
pub(crate) struct LegendEntry {
    pub label: String,
    pub swatch: Swatch,
}

const LEGEND_MAX_W: u32 = 230;
const SWATCH_W: i32 = 30;
const LEGEND_ROW_H: i32 = 24;

/// Splits `body` into a plot area and, when `entries` has more than one entry, a legend panel on
/// the right (drawn here). Legends never overlap data.
pub(crate) fn with_legend<DB: DrawingBackend>(
    body: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
) -> Result<DrawingArea<DB, Shift>> {
    if entries.len() < 2 {
        return Ok(body.margin(0, 0, 0, 0));
    }
    let style = text(LEGEND_SIZE, BLACK, HPos::Left, VPos::Center);
    let mut max_w = 0;
    for e in entries {
        max_w = max_w.max(text_width(body, &e.label, &style)?);
    }
    let panel_w = (max_w + SWATCH_W as u32 + 30).min(LEGEND_MAX_W);
    let (w, _) = body.dim_in_pixel();
    let (plot, panel) = body.split_horizontally(w.saturating_sub(panel_w));
    draw_legend(&panel, entries)?;
    Ok(plot)
}

fn draw_legend<DB: DrawingBackend>(
    panel: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
) -> Result<()> {
    let (w, h) = panel.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    let style = text(LEGEND_SIZE, BLACK, HPos::Left, VPos::Center);
    let text_x = 8 + SWATCH_W + 6;
    let max_text_w = (w - text_x - 8).max(10) as u32;
    let top = 14;
    let max_rows = ((h - top - 20) / LEGEND_ROW_H).max(1) as usize;
    let (shown, hidden) = if entries.len() > max_rows {
        (&entries[..max_rows - 1], entries.len() - (max_rows - 1))
    } else {
        (entries, 0)
    };
    let rows = shown.len() as i32 + i32::from(hidden > 0);
    panel
        .draw(&Rectangle::new(
            [(2, top - 6), (w - 4, top + rows * LEGEND_ROW_H + 2)],
            GRID.stroke_width(1),
        ))
        .map_err(de)?;
    for (i, e) in shown.iter().enumerate() {
        let cy = top + i as i32 * LEGEND_ROW_H + LEGEND_ROW_H / 2 - 2;
        draw_swatch(panel, (8, cy), e.swatch)?;
        let label = fit_text(panel, &e.label, &style, max_text_w)?;
        panel.draw_text(&label, &style, (text_x, cy)).map_err(de)?;
    }
    if hidden > 0 {
        let cy = top + shown.len() as i32 * LEGEND_ROW_H + LEGEND_ROW_H / 2 - 2;
        panel
            .draw_text(&format!("… {hidden} more"), &style, (text_x, cy))
            .map_err(de)?;
    }
    Ok(())
}

fn draw_swatch<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x, cy): (i32, i32),
    sw: Swatch,
) -> Result<()> {
    match sw {
        Swatch::Line {
            color,
            dashed,
            marker,
        } => {
            let st = color.stroke_width(2);
            if dashed {
                for (a, b) in [(0, 8), (11, 19), (22, SWATCH_W)] {
                    area.draw(&PathElement::new(vec![(x + a, cy), (x + b, cy)], st))
                        .map_err(de)?;
                }
            } else {
                area.draw(&PathElement::new(vec![(x, cy), (x + SWATCH_W, cy)], st))
                    .map_err(de)?;
            }
            if let Some(m) = marker {
                draw_marker(area, (x + SWATCH_W / 2, cy), m, 4, color.filled())?;
            }
        }
        Swatch::Patch { color, alpha } => {
            area.draw(&Rectangle::new(
                [(x, cy - 7), (x + SWATCH_W, cy + 7)],
                color.mix(alpha).filled(),
            ))
            .map_err(de)?;
            area.draw(&Rectangle::new(
                [(x, cy - 7), (x + SWATCH_W, cy + 7)],
                color.stroke_width(2),
            ))
            .map_err(de)?;
        }
        Swatch::Point { color, marker } => {
            draw_marker(area, (x + SWATCH_W / 2, cy), marker, 5, color.filled())?;
        }
    }
    Ok(())
}

/// What to draw around the plotting rectangle.
pub(crate) struct Frame<'s> {
    pub x: &'s Axis,
    pub y: &'s Axis,
    pub x_desc: &'s str,
    pub y_desc: &'s str,
    /// Extra width reserved right of the plotting rectangle (drawn by the caller, e.g. a
    /// secondary axis); 0 for none.
    pub right_area: u32,
    pub x_grid: bool,
    pub y_grid: bool,
}

impl<'s> Frame<'s> {
    /// The common frame: both grids, nothing reserved on the right.
    pub(crate) fn plain(x: &'s Axis, y: &'s Axis, x_desc: &'s str, y_desc: &'s str) -> Self {
        Frame {
            x,
            y,
            x_desc,
            y_desc,
            right_area: 0,
            x_grid: true,
            y_grid: true,
        }
    }

    /// A frame over categories on x (no x grid, no x label).
    pub(crate) fn categorical(x: &'s Axis, y: &'s Axis, y_desc: &'s str) -> Self {
        Frame {
            x_desc: "",
            x_grid: false,
            ..Frame::plain(x, y, "", y_desc)
        }
    }
}

const MARGIN_RIGHT: u32 = 20;
const MARGIN_LEFT: u32 = 8;

/// Builds the chart on `area`, drawing axes, ticks, grid and axis descriptions. Categorical x
/// labels that do not fit horizontally are drawn rotated (reading upwards).
pub(crate) fn build_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    f: &Frame<'_>,
) -> Result<Chart<'a, DB>> {
    let tick_style = text(TICK_SIZE, BLACK, HPos::Center, VPos::Top);
    let desc_h = |d: &str| if d.is_empty() { 0 } else { 30 };

    let mut y_w = 0;
    for l in &f.y.labels {
        y_w = y_w.max(text_width(area, l, &tick_style)?);
    }
    let y_area = y_w + 14 + desc_h(f.y_desc);

    let (aw, _) = area.dim_in_pixel();
    let plot_w = aw
        .saturating_sub(y_area + f.right_area + MARGIN_LEFT + MARGIN_RIGHT)
        .max(50);
    let n = f.x.ticks.len().max(1) as u32;
    let slot = plot_w / n;
    let mut x_label_max = 0;
    let mut x_labels = f.x.labels.clone();
    for l in &x_labels {
        x_label_max = x_label_max.max(text_width(area, l, &tick_style)?);
    }
    let rotate = f.x.categorical && x_label_max as f64 > 0.92 * slot as f64;
    let x_area = if rotate {
        for l in x_labels.iter_mut() {
            *l = fit_text(area, l, &tick_style, 150)?;
        }
        let mut m = 0;
        for l in &x_labels {
            m = m.max(text_width(area, l, &tick_style)?);
        }
        m + 16 + desc_h(f.x_desc)
    } else {
        TICK_SIZE as u32 + 16 + desc_h(f.x_desc)
    };

    let mut chart = ChartBuilder::on(area)
        .margin_top(10)
        .margin_left(MARGIN_LEFT)
        .margin_right(MARGIN_RIGHT + f.right_area)
        .margin_bottom(6)
        .x_label_area_size(x_area)
        .y_label_area_size(y_area)
        .build_cartesian_2d(f.x.coord(), f.y.coord())
        .map_err(de)?;

    let x_fmt = |v: &f64| {
        if rotate {
            String::new()
        } else {
            f.x.label_for(*v)
        }
    };
    let y_fmt = |v: &f64| f.y.label_for(*v);
    {
        let mut mesh = chart.configure_mesh();
        mesh.x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .label_style(text(TICK_SIZE, BLACK, HPos::Center, VPos::Top))
            .axis_desc_style(text(DESC_SIZE, BLACK, HPos::Center, VPos::Top))
            .axis_style(FRAME.stroke_width(1))
            .bold_line_style(GRID.stroke_width(1))
            .light_line_style(GRID_MINOR.stroke_width(1))
            .max_light_lines(10);
        if !f.x_desc.is_empty() {
            mesh.x_desc(f.x_desc);
        }
        if !f.y_desc.is_empty() {
            mesh.y_desc(f.y_desc);
        }
        if !f.x_grid {
            mesh.disable_x_mesh();
        }
        if !f.y_grid {
            mesh.disable_y_mesh();
        }
        mesh.draw().map_err(de)?;
    }
    // Frame around the plotting rectangle.
    chart
        .plotting_area()
        .draw(&Rectangle::new(
            [(f.x.lo, f.y.lo), (f.x.hi, f.y.hi)],
            FRAME.stroke_width(1),
        ))
        .map_err(de)?;

    if rotate {
        let st =
            text(TICK_SIZE, BLACK, HPos::Right, VPos::Center).transform(FontTransform::Rotate270);
        for (t, l) in f.x.ticks.iter().zip(&x_labels) {
            let p = rel(area, chart.backend_coord(&(*t, f.y.lo)));
            area.draw_text(l, &st, (p.0, p.1 + 8)).map_err(de)?;
        }
    }
    Ok(chart)
}

/// Backend (absolute) pixel -> coordinates relative to `area`.
pub(crate) fn rel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: (i32, i32)) -> (i32, i32) {
    let b = area.get_base_pixel();
    (p.0 - b.0, p.1 - b.1)
}

/// Splits a sequence of optional points into maximal runs of valid points.
pub(crate) fn runs(points: impl IntoIterator<Item = Option<(f64, f64)>>) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for p in points {
        match p {
            Some(p) => cur.push(p),
            None => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}
