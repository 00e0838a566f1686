//! Tiling real plotting figures: geometry, pixels, SVG structure, determinism, errors.

use panels::{grid, PanelError, TITLE_BAND};
use plotting::{Figure, LineSeries, HEIGHT, WIDTH};

fn panel(i: usize) -> Figure {
    let title = format!("Panel number {i}");
    if i % 2 == 0 {
        let pts: Vec<(f64, f64)> = (0..50)
            .map(|k| (k as f64, ((k * (i + 1)) as f64 * 0.3).sin()))
            .collect();
        plotting::scatter(&title, "x", "y", &[("points".to_string(), pts)]).unwrap()
    } else {
        let pts: Vec<(f64, f64)> = (0..40)
            .map(|k| (k as f64, (k as f64 * i as f64).sqrt()))
            .collect();
        plotting::line_chart(
            &title,
            "epoch",
            "rmse",
            &[LineSeries::new("train", pts)],
            &[],
            false,
            false,
        )
        .unwrap()
    }
}

fn panels(n: usize) -> Vec<Figure> {
    (0..n).map(panel).collect()
}

fn rgb(png: &[u8]) -> image::RgbImage {
    image::load_from_memory(png).unwrap().into_rgb8()
}

/// Minimal well-formedness check: every start tag is closed in order, one root element, quoted
/// attribute values may contain '>', comments / PIs skipped. Returns the number of <svg> tags.
fn check_xml(doc: &str) -> usize {
    let mut stack: Vec<&str> = Vec::new();
    let mut svgs = 0;
    let mut roots = 0;
    let mut s = doc;
    while let Some(lt) = s.find('<') {
        assert!(
            roots == 0 || !stack.is_empty() || s[..lt].trim().is_empty(),
            "text outside root"
        );
        s = &s[lt..];
        for (open, close) in [("<?", "?>"), ("<!--", "-->")] {
            if s.starts_with(open) {
                let end = s.find(close).expect("unterminated");
                s = &s[end + close.len()..];
            }
        }
        if !s.starts_with('<') || s.starts_with("<?") || s.starts_with("<!--") {
            continue;
        }
        // Find the end of the tag, skipping quoted values.
        let mut quote = None;
        let mut end = None;
        for (k, c) in s.char_indices().skip(1) {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, '>') => {
                    end = Some(k);
                    break;
                }
                _ => {}
            }
        }
        let end = end.expect("unterminated tag");
        let tag = &s[1..end];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop(), Some(name.trim()), "mismatched </{name}>");
        } else {
            let name = tag
                .split(|c: char| c.is_whitespace() || c == '/')
                .next()
                .unwrap();
            assert!(!name.is_empty(), "empty tag name");
            if stack.is_empty() {
                roots += 1;
                assert_eq!(roots, 1, "more than one root element");
            }
            if name == "svg" {
                svgs += 1;
            }
            if !tag.ends_with('/') {
                stack.push(name);
            }
        }
        s = &s[end + 1..];
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    assert_eq!(roots, 1);
    svgs
}

#[test]
fn five_panels_in_two_columns() {
    let src = panels(5);
    let fig = grid(Some("Five panels"), &src, 2).unwrap();
    let out = rgb(&fig.png);
    assert_eq!(out.dimensions(), (2 * WIDTH, 3 * HEIGHT + TITLE_BAND));

    // Every panel's pixels are copied exactly, at its row-major position.
    for (i, p) in src.iter().enumerate() {
        let (x0, y0) = ((i % 2) as u32 * WIDTH, TITLE_BAND + (i / 2) as u32 * HEIGHT);
        let p = rgb(&p.png);
        for (x, y) in [(450, 300), (0, 0), (899, 599), (123, 456)] {
            assert_eq!(
                out.get_pixel(x0 + x, y0 + y),
                p.get_pixel(x, y),
                "panel {i} at ({x}, {y})"
            );
        }
        assert!(
            (0..HEIGHT)
                .all(|y| (0..WIDTH).all(|x| out.get_pixel(x0 + x, y0 + y) == p.get_pixel(x, y))),
            "panel {i} differs"
        );
    }
    // The empty sixth cell is white; the title band has ink.
    let white = image::Rgb([255, 255, 255]);
    assert!((0..HEIGHT).all(
        |y| (0..WIDTH).all(|x| *out.get_pixel(WIDTH + x, TITLE_BAND + 2 * HEIGHT + y) == white)
    ));
    assert!((0..TITLE_BAND).any(|y| (0..2 * WIDTH).any(|x| *out.get_pixel(x, y) != white)));

    // SVG: one outer document, one nested <svg> per panel, each panel's title, the grid title.
    assert_eq!(check_xml(&fig.svg), 6);
    assert!(fig.svg.starts_with("<svg"));
    assert!(fig.svg.contains(&format!(
        "width=\"{}\" height=\"{}\"",
        2 * WIDTH,
        3 * HEIGHT + TITLE_BAND
    )));
    for i in 0..5 {
        assert!(
            fig.svg.contains(&format!("Panel number {i}")),
            "panel {i} title"
        );
    }
    assert!(fig.svg.contains("Five panels"));
    assert!(fig.svg.contains(&format!(
        "<svg x=\"{WIDTH}\" y=\"{}\" width=\"900\" height=\"600\" viewBox=\"0 0 900 600\"",
        TITLE_BAND + HEIGHT
    )));
}

#[test]
fn without_title_there_is_no_band() {
    let src = panels(3);
    for title in [None, Some(""), Some("   ")] {
        let fig = grid(title, &src, 3).unwrap();
        let out = rgb(&fig.png);
        assert_eq!(out.dimensions(), (3 * WIDTH, HEIGHT));
        assert_eq!(
            out.get_pixel(WIDTH + 10, 10),
            rgb(&src[1].png).get_pixel(10, 10)
        );
        assert_eq!(check_xml(&fig.svg), 4);
        assert!(fig.svg.contains("<svg x=\"1800\" y=\"0\" "));
    }
}

#[test]
fn more_columns_than_panels_shrinks_to_one_row() {
    let fig = grid(Some("t"), &panels(2), 7).unwrap();
    assert_eq!(rgb(&fig.png).dimensions(), (2 * WIDTH, HEIGHT + TITLE_BAND));
    let fig = grid(None, &panels(1), 1).unwrap();
    assert_eq!(rgb(&fig.png).dimensions(), (WIDTH, HEIGHT));
}

#[test]
fn deterministic() {
    let src = panels(4);
    let a = grid(Some("Same input"), &src, 3).unwrap();
    let b = grid(Some("Same input"), &panels(4), 3).unwrap();
    assert_eq!(a.svg, b.svg);
    assert_eq!(a.png, b.png);
}

#[test]
fn title_is_escaped_and_long_titles_fit() {
    let src = panels(1);
    let fig = grid(Some("a < b & \"c\""), &src, 1).unwrap();
    assert!(fig.svg.contains("a &lt; b &amp;"));
    check_xml(&fig.svg);
    let long = "A very long title ".repeat(30);
    let fig = grid(Some(&long), &src, 1).unwrap();
    assert!(fig.svg.contains('…'));
    check_xml(&fig.svg);
}

#[test]
fn prolog_and_root_attributes_are_handled() {
    let mut p = panel(0);
    let body_start = p.svg.find('>').unwrap();
    // XML declaration, comment, single-quoted and extra attributes, trailing comment.
    p.svg = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- made by test -->\n<svg  width = '900' height=\"600\" class='keep-me'{}\n<!-- end -->\n",
        &p.svg[body_start..]
    );
    let fig = grid(None, &[p.clone(), p], 2).unwrap();
    assert_eq!(check_xml(&fig.svg), 3);
    assert!(!fig.svg.contains("<?xml"));
    assert_eq!(fig.svg.matches("class='keep-me'").count(), 2);
    assert!(!fig.svg.contains("width = '900'"));

    // A self-closing root is an empty panel.
    let mut empty = panel(1);
    empty.svg = "<svg xmlns=\"http://www.w3.org/2000/svg\"/>".into();
    let fig = grid(None, &[empty], 1).unwrap();
    assert_eq!(check_xml(&fig.svg), 2);
}

#[test]
fn errors() {
    let good = panel(0);
    assert!(matches!(grid(None, &[], 2), Err(PanelError::NoPanels)));
    assert!(matches!(
        grid(None, &[good.clone()], 0),
        Err(PanelError::ZeroColumns)
    ));

    let mut garbage = good.clone();
    garbage.png = b"not a png".to_vec();
    assert!(matches!(
        grid(None, &[good.clone(), garbage], 2),
        Err(PanelError::PngDecode { index: 1, .. })
    ));

    let mut small = good.clone();
    small.png = {
        use image::ImageEncoder;
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(&[0u8; 10 * 20 * 3], 10, 20, image::ColorType::Rgb8)
            .unwrap();
        out
    };
    let e = grid(None, &[small], 1).unwrap_err();
    assert!(matches!(
        e,
        PanelError::PanelSize {
            index: 0,
            width: 10,
            height: 20
        }
    ));
    assert_eq!(e.to_string(), "panel 0: PNG is 10 x 20, expected 900 x 600");

    for bad in [
        "",
        "<html></html>",
        "<svgx></svgx>",
        "<svg width=\"900\">no end",
        "<svg width=900></svg>",
        "<svg width=\"900></svg>",
        "<svg></svg><svg></svg>",
        "<!-- unterminated <svg></svg>",
        "<svg><g></svg>",
        "<svg><g></h></svg>",
    ] {
        let mut p = good.clone();
        p.svg = bad.to_string();
        assert!(
            matches!(
                grid(None, &[good.clone(), p], 1),
                Err(PanelError::SvgRoot { index: 1, .. })
            ),
            "accepted {bad:?}"
        );
    }
}
