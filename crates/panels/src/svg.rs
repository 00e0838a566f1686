//! SVG side: parse each panel's root `<svg>` element and nest the documents in one outer SVG.
//!
//! The parsing is deliberately minimal (prolog, root start tag, root end tag, and a tag-balance
//! scan of the body so that a malformed panel cannot break the combined document): the panel
//! body is copied verbatim, so anything plotters (or another well-formed writer) emitted survives.

use plotters::prelude::*;
use plotting::{HEIGHT, WIDTH};

use crate::{title, Layout, PanelError};

/// Root attributes replaced by the placement of the panel in the grid.
const PLACEMENT: [&str; 5] = ["x", "y", "width", "height", "viewBox"];

/// A panel document split around its root element.
pub(crate) struct Root<'a> {
    /// Root attributes other than [`PLACEMENT`]: name and quoted value as written.
    attributes: Vec<(&'a str, &'a str)>,
    /// Everything between the root start and end tags (`None` for `<svg .../>`).
    body: Option<&'a str>,
}

impl<'a> Root<'a> {
    pub(crate) fn parse(doc: &'a str) -> Result<Self, String> {
        let rest = skip_misc(doc)?;
        let rest = rest
            .strip_prefix("<svg")
            .filter(|r| r.starts_with(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/'))
            .ok_or_else(|| "the document does not start with an <svg> element".to_string())?;
        let (attributes, self_closing, rest) = attributes(rest)?;
        let (body, epilogue) = if self_closing {
            (None, rest)
        } else {
            let end = rest
                .rfind("</svg")
                .ok_or_else(|| "no closing </svg> tag".to_string())?;
            let close = rest[end + 5..].trim_start();
            let epilogue = close
                .strip_prefix('>')
                .ok_or_else(|| "malformed closing </svg> tag".to_string())?;
            let body = &rest[..end];
            balanced(body)?;
            (Some(body), epilogue)
        };
        if !skip_misc(epilogue)?.is_empty() {
            return Err("content after the root element".into());
        }
        Ok(Self { attributes, body })
    }

    /// The panel as a nested `<svg>` element placed at `(x, y)`.
    fn nested(&self, x: u32, y: u32, out: &mut String) {
        out.push_str(&format!(
            "<svg x=\"{x}\" y=\"{y}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\""
        ));
        for (name, quoted) in &self.attributes {
            out.push_str(&format!(" {name}={quoted}"));
        }
        match self.body {
            Some(body) => {
                out.push('>');
                out.push_str(body);
                out.push_str("</svg>\n");
            }
            None => out.push_str("/>\n"),
        }
    }
}

/// Outer document from plotters (size, white background, title), panels inserted before its
/// closing tag.
pub(crate) fn compose(layout: &Layout, roots: &[Root]) -> Result<String, PanelError> {
    title::ensure_font()?;
    let mut outer = String::new();
    {
        let area =
            SVGBackend::with_string(&mut outer, (layout.width, layout.height)).into_drawing_area();
        title::draw(&area, layout)?;
        area.present()
            .map_err(|e| PanelError::Draw(e.to_string()))?;
    }
    let close = outer
        .rfind("</svg>")
        .ok_or_else(|| PanelError::Draw("plotters wrote no closing </svg>".into()))?;
    let mut out = String::with_capacity(outer.len() + roots.iter().map(|r| r.len()).sum::<usize>());
    out.push_str(&outer[..close]);
    for (i, root) in roots.iter().enumerate() {
        let (x, y) = layout.origin(i);
        root.nested(x, y, &mut out);
    }
    out.push_str(&outer[close..]);
    Ok(out)
}

impl Root<'_> {
    fn len(&self) -> usize {
        200 + self.body.map_or(0, str::len)
    }
}

/// Skips whitespace, comments, processing instructions (the XML declaration) and a DOCTYPE.
fn skip_misc(mut s: &str) -> Result<&str, String> {
    loop {
        s = s.trim_start();
        let (open, close) = if s.starts_with("<?") {
            ("<?", "?>")
        } else if s.starts_with("<!--") {
            ("<!--", "-->")
        } else if s.starts_with("<!DOCTYPE") {
            // An internal subset ("[...]") may contain '>'; skip past it first.
            let after = match (s.find('['), s.find('>')) {
                (Some(b), Some(g)) if b < g => s[b..]
                    .find(']')
                    .map(|e| b + e)
                    .ok_or("unterminated DOCTYPE")?,
                _ => 0,
            };
            let end = s[after..].find('>').ok_or("unterminated DOCTYPE")?;
            s = &s[after + end + 1..];
            continue;
        } else {
            return Ok(s);
        };
        let end = s[open.len()..]
            .find(close)
            .ok_or_else(|| format!("unterminated {open}"))?;
        s = &s[open.len() + end + close.len()..];
    }
}

/// Parses `name="value"` pairs up to the end of the start tag. Returns the attributes to keep,
/// whether the tag was self-closing, and the text after the tag.
fn attributes(mut s: &str) -> Result<(Vec<(&str, &str)>, bool, &str), String> {
    let mut kept = Vec::new();
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix("/>") {
            return Ok((kept, true, rest));
        }
        if let Some(rest) = s.strip_prefix('>') {
            return Ok((kept, false, rest));
        }
        let name_len = s
            .find(|c: char| c.is_ascii_whitespace() || c == '=' || c == '>' || c == '/')
            .ok_or("unterminated root start tag")?;
        if name_len == 0 {
            return Err("malformed attribute in root start tag".into());
        }
        let name = &s[..name_len];
        let after = s[name_len..].trim_start();
        let after = after
            .strip_prefix('=')
            .ok_or_else(|| format!("attribute {name} has no value"))?
            .trim_start();
        let quote = after
            .chars()
            .next()
            .filter(|c| *c == '"' || *c == '\'')
            .ok_or_else(|| format!("attribute {name} value is not quoted"))?;
        let end = after[1..]
            .find(quote)
            .ok_or_else(|| format!("attribute {name} value is not terminated"))?;
        let value_end = 1 + end + 1;
        if !PLACEMENT.contains(&name) {
            kept.push((name, &after[..value_end]));
        }
        s = &after[value_end..];
    }
}

/// Checks that start and end tags in `body` nest properly (comments, processing instructions,
/// CDATA skipped; quoted attribute values may contain '>').
fn balanced(body: &str) -> Result<(), String> {
    let mut open: Vec<&str> = Vec::new();
    let mut s = body;
    while let Some(lt) = s.find('<') {
        s = &s[lt..];
        let skip = [("<!--", "-->"), ("<![CDATA[", "]]>"), ("<?", "?>")]
            .iter()
            .find(|(o, _)| s.starts_with(o));
        if let Some((o, c)) = skip {
            let end = s[o.len()..]
                .find(c)
                .ok_or_else(|| format!("unterminated {o}"))?;
            s = &s[o.len() + end + c.len()..];
            continue;
        }
        let end = tag_end(s).ok_or("unterminated tag in the body")?;
        let tag = &s[1..end];
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim_end();
            match open.pop() {
                Some(o) if o == name => {}
                Some(o) => return Err(format!("</{name}> closes <{o}>")),
                None => return Err(format!("</{name}> closes the root element early")),
            }
        } else if !tag.ends_with('/') {
            let name = tag
                .split(|c: char| c.is_ascii_whitespace())
                .next()
                .filter(|n| !n.is_empty())
                .ok_or("tag without a name in the body")?;
            open.push(name);
        }
        s = &s[end + 1..];
    }
    match open.last() {
        Some(o) => Err(format!("<{o}> is never closed")),
        None => Ok(()),
    }
}

/// Index of the '>' ending the tag that starts at `s[0] == '<'`, outside quoted values.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (k, c) in s.char_indices().skip(1) {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(k),
            _ => {}
        }
    }
    None
}
