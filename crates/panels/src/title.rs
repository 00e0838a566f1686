//! The title band, drawn with plotters so SVG and PNG lay the text out the same way.

use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{Layout, PanelError};

const TITLE_SIZE: f64 = 28.0;
const MIN_SIZE: f64 = 12.0;
/// Horizontal room kept free on each side of the title.
const SIDE_MARGIN: u32 = 20;

/// plotting registers its embedded font on its first render and keeps that entry point private;
/// rendering one tiny figure through its public API is the supported way to get the font.
pub(crate) fn ensure_font() -> Result<(), PanelError> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        plotting::scatter("", "", "", &[])
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .clone()
    .map_err(PanelError::Font)
}

/// Fills the area white and draws the centred title in the band (if any).
pub(crate) fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    layout: &Layout,
) -> Result<(), PanelError> {
    let de = |e: DrawingAreaErrorKind<DB::ErrorType>| PanelError::Draw(e.to_string());
    area.fill(&WHITE).map_err(de)?;
    if let Some(title) = layout.title {
        let room = layout.width.saturating_sub(2 * SIDE_MARGIN);
        let (text, style) = fit(area, title, room).map_err(de)?;
        let anchor = (layout.width as i32 / 2, layout.band as i32 / 2);
        area.draw_text(&text, &style, anchor).map_err(de)?;
    }
    Ok(())
}

/// The largest size from TITLE_SIZE down to MIN_SIZE at which `title` fits in `room` pixels;
/// at MIN_SIZE, the longest prefix that fits followed by an ellipsis.
fn fit<'a, DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    room: u32,
) -> Result<(String, TextStyle<'a>), DrawingAreaErrorKind<DB::ErrorType>> {
    let style = |size: f64| {
        TextStyle::from((plotting::FONT_FAMILY, size).into_font())
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Center))
    };
    let mut size = TITLE_SIZE;
    loop {
        let s = style(size);
        let (w, _) = area.estimate_text_size(title, &s)?;
        if w <= room {
            return Ok((title.to_string(), s));
        }
        if size <= MIN_SIZE {
            break;
        }
        size = (size * room as f64 / w as f64)
            .floor()
            .max(MIN_SIZE)
            .min(size - 1.0);
    }
    let s = style(MIN_SIZE);
    let chars: Vec<char> = title.chars().collect();
    let (mut lo, mut hi) = (0, chars.len());
    // Binary search for the longest prefix that fits with the ellipsis.
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        let candidate: String = chars[..mid].iter().chain(['…'].iter()).collect();
        if area.estimate_text_size(&candidate, &s)?.0 <= room {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let text: String = chars[..lo].iter().chain(['…'].iter()).collect();
    Ok((text, s))
}
