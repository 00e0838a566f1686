//! PNG side: decode each panel, blit it onto one RGB canvas under the title band, encode.

use image::ImageEncoder;
use plotters::prelude::*;
use plotting::{HEIGHT, WIDTH};

use crate::{title, Layout, PanelError};

/// Decodes a panel PNG to 8-bit RGB, checking its size. plotting writes RGB; other colour types
/// are converted (alpha is dropped) rather than rejected.
pub(crate) fn decode(index: usize, png: &[u8]) -> Result<image::RgbImage, PanelError> {
    let img = image::load_from_memory_with_format(png, image::ImageFormat::Png).map_err(|e| {
        PanelError::PngDecode {
            index,
            message: e.to_string(),
        }
    })?;
    if (img.width(), img.height()) != (WIDTH, HEIGHT) {
        return Err(PanelError::PanelSize {
            index,
            width: img.width(),
            height: img.height(),
        });
    }
    Ok(img.into_rgb8())
}

pub(crate) fn compose(layout: &Layout, panels: &[image::RgbImage]) -> Result<Vec<u8>, PanelError> {
    title::ensure_font()?;
    let (w, h) = (layout.width, layout.height);
    let mut rgb = vec![255u8; w as usize * h as usize * 3];
    {
        let area = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        title::draw(&area, layout)?;
        area.present()
            .map_err(|e| PanelError::Draw(e.to_string()))?;
    }
    let row_bytes = WIDTH as usize * 3;
    for (i, panel) in panels.iter().enumerate() {
        let (x0, y0) = layout.origin(i);
        for (r, src) in panel.as_raw().chunks_exact(row_bytes).enumerate() {
            let start = ((y0 as usize + r) * w as usize + x0 as usize) * 3;
            rgb[start..start + row_bytes].copy_from_slice(src);
        }
    }
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(&rgb, w, h, image::ColorType::Rgb8)
        .map_err(|e| PanelError::Encode(e.to_string()))?;
    Ok(out)
}
