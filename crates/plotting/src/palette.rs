//! Colour-blind friendly colours used by every figure.

use plotters::style::RGBColor;

/// Colour-blind friendly categorical palette (Okabe & Ito 2008), ordered so that the first
/// colours are the most distinct on white; plus the perceptually uniform, colour-blind friendly
/// *viridis* map for continuous scales (heatmaps).
///
/// Series `i` always gets [`Palette::color`]`(i)`, so the same dataset keeps its colour across
/// figures when callers pass series in a consistent order.
#[derive(Debug, Clone, Copy, Default)]
pub struct Palette;

impl Palette {
    /// Okabe–Ito colours in the order they are handed out.
    pub const OKABE_ITO: [RGBColor; 8] = [
        RGBColor(0x00, 0x72, 0xB2), // blue
        RGBColor(0xD5, 0x5E, 0x00), // vermillion
        RGBColor(0x00, 0x9E, 0x73), // bluish green
        RGBColor(0xE6, 0x9F, 0x00), // orange
        RGBColor(0xCC, 0x79, 0xA7), // reddish purple
        RGBColor(0x56, 0xB4, 0xE9), // sky blue
        RGBColor(0x00, 0x00, 0x00), // black
        RGBColor(0xF0, 0xE4, 0x42), // yellow (last: low contrast on white)
    ];

    /// Neutral colour for reference elements (e.g. a secondary-axis line).
    pub const NEUTRAL: RGBColor = RGBColor(0x33, 0x33, 0x33);

    /// Colour of series `i` (cycles after 8; figures that can have more than 8 series also vary
    /// the marker shape or dash pattern per cycle).
    pub fn color(i: usize) -> RGBColor {
        Self::OKABE_ITO[i % Self::OKABE_ITO.len()]
    }

    /// Viridis colour for `t` in `[0, 1]` (clamped; NaN maps to 0).
    pub fn viridis(t: f64) -> RGBColor {
        // 11 evenly spaced stops of matplotlib's viridis.
        const STOPS: [(u8, u8, u8); 11] = [
            (68, 1, 84),
            (72, 36, 117),
            (65, 68, 135),
            (53, 95, 141),
            (42, 120, 142),
            (33, 145, 140),
            (34, 168, 132),
            (68, 191, 112),
            (122, 209, 81),
            (189, 223, 38),
            (253, 231, 37),
        ];
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        let x = t * (STOPS.len() - 1) as f64;
        let i = (x.floor() as usize).min(STOPS.len() - 2);
        let f = x - i as f64;
        let lerp = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
        let (a, b) = (STOPS[i], STOPS[i + 1]);
        RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
    }

    /// Relative luminance (0 dark .. 1 light), used to pick black or white text on a colour.
    pub fn luminance(c: RGBColor) -> f64 {
        (0.2126 * c.0 as f64 + 0.7152 * c.1 as f64 + 0.0722 * c.2 as f64) / 255.0
    }
}
