//! Tiles rendered figures into one multi-panel figure.
//!
//! [`grid`] takes [`plotting::Figure`]s (each a 900 × 600 SVG document plus the PNG of the same
//! drawing) and lays them out row-major in a fixed number of columns, under an optional title
//! band. Both renderings are combined: the SVG nests every panel's document as an `<svg x y
//! width height viewBox>` element inside one outer document (title drawn by plotters' SVG
//! backend, in [`plotting::FONT_FAMILY`]), and the PNG is the panels' bitmaps blitted onto one
//! RGB canvas (title drawn by plotters' bitmap backend with the same embedded font). The output
//! depends only on the inputs, so equal inputs give byte-identical SVG and PNG.

mod raster;
mod svg;
mod title;

use plotting::{Figure, HEIGHT, WIDTH};

/// Height of the title band in pixels (SVG user units), when there is a title.
pub const TITLE_BAND: u32 = 50;

/// Why panels could not be tiled.
#[derive(Debug, thiserror::Error)]
pub enum PanelError {
    #[error("no panels to tile")]
    NoPanels,
    #[error("columns must be at least 1")]
    ZeroColumns,
    #[error("panel {index}: PNG could not be decoded: {message}")]
    PngDecode { index: usize, message: String },
    #[error("panel {index}: PNG is {width} x {height}, expected {WIDTH} x {HEIGHT}")]
    PanelSize {
        index: usize,
        width: u32,
        height: u32,
    },
    #[error("panel {index}: SVG has no usable <svg> root: {reason}")]
    SvgRoot { index: usize, reason: String },
    #[error("{panels} panels in {columns} columns make a figure too large to render")]
    TooLarge { panels: usize, columns: usize },
    /// The embedded font could not be registered (through a plotting render).
    #[error("font registration failed: {0}")]
    Font(String),
    #[error("drawing the title failed: {0}")]
    Draw(String),
    #[error("PNG encoding failed: {0}")]
    Encode(String),
}

/// Tiles `panels` row-major into `columns` columns (the last row may be partial; a `columns`
/// larger than the number of panels is reduced to it, so there are no empty columns). With a
/// non-empty `title`, a [`TITLE_BAND`]-pixel band with the centred title sits on top (a title
/// too wide for the figure is shrunk, then cut with an ellipsis).
///
/// The result is `min(columns, n) · 900` wide and `rows · 600 (+ 50)` high; empty cells of a
/// partial last row are white.
///
/// Errors: no panels, `columns == 0`, a panel PNG that does not decode or is not 900 × 600, a
/// panel SVG without an `<svg>` root element, a figure too large for 32-bit pixel coordinates.
pub fn grid(title: Option<&str>, panels: &[Figure], columns: usize) -> Result<Figure, PanelError> {
    if panels.is_empty() {
        return Err(PanelError::NoPanels);
    }
    if columns == 0 {
        return Err(PanelError::ZeroColumns);
    }
    let layout = Layout::new(title, panels.len(), columns)?;
    // Validate and decode everything before drawing anything.
    let roots = panels
        .iter()
        .enumerate()
        .map(|(i, p)| {
            svg::Root::parse(&p.svg).map_err(|reason| PanelError::SvgRoot { index: i, reason })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let bitmaps = panels
        .iter()
        .enumerate()
        .map(|(i, p)| raster::decode(i, &p.png))
        .collect::<Result<Vec<_>, _>>()?;

    let svg = svg::compose(&layout, &roots)?;
    let png = raster::compose(&layout, &bitmaps)?;
    Ok(Figure { svg, png })
}

/// Geometry of the tiled figure.
pub(crate) struct Layout<'a> {
    pub title: Option<&'a str>,
    pub columns: usize,
    pub band: u32,
    pub width: u32,
    pub height: u32,
}

impl<'a> Layout<'a> {
    fn new(title: Option<&'a str>, n: usize, columns: usize) -> Result<Self, PanelError> {
        let title = title.filter(|t| !t.trim().is_empty());
        let band = if title.is_some() { TITLE_BAND } else { 0 };
        let columns = columns.min(n);
        let rows = n.div_ceil(columns);
        // plotters uses i32 coordinates; also keeps the RGB buffer size within usize.
        let fits = |count: usize, unit: u32, extra: u32| {
            (count as u64)
                .checked_mul(unit as u64)
                .map(|v| v + extra as u64)
                .filter(|&v| v <= i32::MAX as u64 / 4)
                .map(|v| v as u32)
        };
        let too_large = || PanelError::TooLarge { panels: n, columns };
        let width = fits(columns, WIDTH, 0).ok_or_else(too_large)?;
        let height = fits(rows, HEIGHT, band).ok_or_else(too_large)?;
        if (width as u64) * (height as u64) * 3 > isize::MAX as u64 / 2 {
            return Err(too_large());
        }
        Ok(Self {
            title,
            columns,
            band,
            width,
            height,
        })
    }

    /// Top-left corner of panel `i`.
    pub fn origin(&self, i: usize) -> (u32, u32) {
        let (row, col) = (i / self.columns, i % self.columns);
        (col as u32 * WIDTH, self.band + row as u32 * HEIGHT)
    }
}
