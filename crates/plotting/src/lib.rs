//! Deterministic figures for the Astromer 2 reproduction.
//!
//! Every figure function returns a [`Figure`] holding the same drawing rendered twice: as an SVG
//! document and as a PNG image (900 x 600 px). Text is laid out with an embedded copy of DejaVu
//! Sans (`assets/DejaVuSans.ttf`, registered once with plotters' `ab_glyph` backend under
//! [`FONT_FAMILY`] and `sans-serif`), so the output does not depend on the fonts of the machine and rendering the
//! same inputs twice gives byte-identical SVG and PNG. (The SVG names the family
//! `"DejaVu Sans, sans-serif"`; it does not embed the glyphs.)
//!
//! The crate never touches the file system: callers write `Figure::svg` / `Figure::png` where
//! (and how atomically) they like.
//!
//! Robustness rules shared by all figures:
//! * non-finite values (NaN, ±inf) are skipped;
//! * on a logarithmic axis non-positive values are skipped;
//! * when nothing is left to draw the figure still renders, showing the title and "no data".

mod axis;
mod bars;
mod boxplot;
mod common;
mod heatmap;
mod histogram;
mod line;
mod palette;
mod scatter;
mod stats;

use std::sync::OnceLock;

use plotters::prelude::*;

pub use bars::{bar_table, grouped_bars_with_errors, BarOptions};
pub use boxplot::boxplots;
pub use heatmap::heatmap;
pub use histogram::histograms;
pub use line::{line_chart, LineSeries};
pub use palette::Palette;
pub use plotters::style::RGBColor;
pub use scatter::scatter;

/// Width of every figure in pixels (the SVG uses the same user units).
pub const WIDTH: u32 = 900;
/// Height of every figure in pixels.
pub const HEIGHT: u32 = 600;

/// Font family the figures use. plotters' `ab_glyph` backend looks fonts up by this exact string
/// (the embedded DejaVu Sans is registered under it), and the SVG backend writes it verbatim as
/// the `font-family` attribute, where it is a CSS family list: SVG viewers render DejaVu Sans
/// (whose metrics the layout used) when installed, and a generic sans-serif otherwise.
pub const FONT_FAMILY: &str = "DejaVu Sans, sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// One rendered figure: an SVG document and the PNG encoding of the same drawing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figure {
    /// Complete SVG document (UTF-8).
    pub svg: String,
    /// PNG file bytes (8-bit RGB, [`WIDTH`] x [`HEIGHT`]).
    pub png: Vec<u8>,
}

/// A named sample of scalar values (one histogram outline, one box, ...).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series1D {
    pub name: String,
    pub values: Vec<f64>,
}

impl Series1D {
    pub fn new(name: impl Into<String>, values: Vec<f64>) -> Self {
        Self {
            name: name.into(),
            values,
        }
    }
}

/// Errors while rendering a figure. Bad input values are never an error (they are skipped).
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The embedded font could not be parsed / registered with plotters.
    #[error("the embedded font could not be registered with plotters")]
    Font,
    /// A plotters drawing operation failed.
    #[error("drawing failed: {0}")]
    Draw(String),
    /// PNG encoding of the rendered bitmap failed.
    #[error("PNG encoding failed: {0}")]
    Encode(String),
}

/// `Result` with [`PlotError`].
pub type Result<T> = std::result::Result<T, PlotError>;

/// Converts any plotters error into [`PlotError::Draw`].
pub(crate) fn de<E: std::fmt::Display>(e: E) -> PlotError {
    PlotError::Draw(e.to_string())
}

/// Registers the embedded font once per process (idempotent, thread safe).
pub(crate) fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        // Also under the generic name, for callers drawing with plotters' default family.
        [FONT_FAMILY, "sans-serif"]
            .iter()
            .all(|name| plotters::style::register_font(name, FontStyle::Normal, FONT_BYTES).is_ok())
    });
    if ok {
        Ok(())
    } else {
        Err(PlotError::Font)
    }
}

pub(crate) fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(rgb, width, height, image::ColorType::Rgb8)
        .map_err(|e| PlotError::Encode(e.to_string()))?;
    Ok(out)
}

/// Renders the same drawing code into an SVG string and an RGB bitmap, then PNG-encodes the
/// bitmap. `$body` is an expression of type `Result<()>` that may use `$root`
/// (a `&DrawingArea<_, Shift>` already filled white); it is instantiated once per backend.
macro_rules! render {
    (|$root:ident| $body:expr) => {{
        $crate::ensure_font()?;
        let size = ($crate::WIDTH, $crate::HEIGHT);
        let mut svg = String::new();
        {
            let area =
                plotters::prelude::SVGBackend::with_string(&mut svg, size).into_drawing_area();
            area.fill(&plotters::prelude::WHITE).map_err($crate::de)?;
            {
                let $root = &area;
                let r: $crate::Result<()> = $body;
                r?;
            }
            area.present().map_err($crate::de)?;
        }
        let mut rgb = vec![255u8; ($crate::WIDTH * $crate::HEIGHT * 3) as usize];
        {
            let area =
                plotters::prelude::BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
            area.fill(&plotters::prelude::WHITE).map_err($crate::de)?;
            {
                let $root = &area;
                let r: $crate::Result<()> = $body;
                r?;
            }
            area.present().map_err($crate::de)?;
        }
        let png = $crate::encode_png(&rgb, $crate::WIDTH, $crate::HEIGHT)?;
        Ok($crate::Figure { svg, png })
    }};
}
pub(crate) use render;

#[cfg(test)]
mod tests;
