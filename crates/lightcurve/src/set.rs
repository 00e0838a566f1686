//! Light curves and sets of them. A set is a polars frame underneath (long format, one row per
//! observation, sorted by object then time), with an index of where each curve's rows are.

use polars::prelude::*;

use crate::error::{DataError, Result};

/// Column names of the canonical long frame held by [`LightCurveSet`].
pub mod col {
    pub const OBJECT_ID: &str = "object_id";
    pub const BAND: &str = "band";
    pub const TIME: &str = "time";
    pub const MAG: &str = "mag";
    pub const MAG_ERR: &str = "mag_err";
    pub const LABEL: &str = "label";
}

/// A borrowed view of one light curve: times strictly increasing, all values finite, errors in
/// (0, 1) when the set was cleaned with the default filter.
#[derive(Debug, Clone, Copy)]
pub struct LightCurve<'a> {
    pub object_id: &'a str,
    pub band: &'a str,
    pub time: &'a [f64],
    pub mag: &'a [f64],
    pub err: &'a [f64],
}

impl LightCurve<'_> {
    pub fn len(&self) -> usize {
        self.time.len()
    }

    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }
}

/// An owned light curve, used to build sets and by tests.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedLightCurve {
    pub object_id: String,
    pub band: String,
    pub time: Vec<f64>,
    pub mag: Vec<f64>,
    pub err: Vec<f64>,
    /// Class name for labelled sets.
    pub label: Option<String>,
}

#[derive(Debug, Clone)]
struct CurveSpan {
    object_id: String,
    band: String,
    start: usize,
    len: usize,
    label: Option<u32>,
}

/// A set of light curves, optionally labelled. Class indices follow the alphabetical order of
/// the class names (the official pipeline's pandas categorical codes, spec §10).
#[derive(Debug, Clone)]
pub struct LightCurveSet {
    frame: DataFrame,
    time: Vec<f64>,
    mag: Vec<f64>,
    err: Vec<f64>,
    spans: Vec<CurveSpan>,
    classes: Option<Vec<String>>,
}

impl LightCurveSet {
    /// Builds a set from owned curves. Curves must already be clean (sorted, finite); this is
    /// checked and reported as an error naming the object. Either all curves carry a label or none.
    pub fn from_curves(curves: Vec<OwnedLightCurve>) -> Result<Self> {
        let origin = std::path::PathBuf::from("<memory>");
        let labelled = curves.first().map(|c| c.label.is_some()).unwrap_or(false);
        let mut classes: Vec<String> = Vec::new();
        if labelled {
            for c in &curves {
                match &c.label {
                    Some(l) => classes.push(l.clone()),
                    None => {
                        return Err(DataError::BadObject {
                            path: origin,
                            object_id: c.object_id.clone(),
                            problem: "has no label while other curves of the set do".into(),
                        })
                    }
                }
            }
            classes.sort();
            classes.dedup();
        }
        let total: usize = curves.iter().map(|c| c.time.len()).sum();
        let (mut time, mut mag, mut err) = (
            Vec::with_capacity(total),
            Vec::with_capacity(total),
            Vec::with_capacity(total),
        );
        let mut spans = Vec::with_capacity(curves.len());
        for c in curves {
            crate::clean::check_clean(&origin, &c.object_id, &c.time, &c.mag, &c.err)?;
            let label = match (&c.label, labelled) {
                (Some(l), true) => Some(classes.binary_search(l).expect("class list built from labels") as u32),
                (Some(_), false) => {
                    return Err(DataError::BadObject {
                        path: origin,
                        object_id: c.object_id,
                        problem: "has a label while the first curve of the set has none".into(),
                    })
                }
                _ => None,
            };
            spans.push(CurveSpan {
                object_id: c.object_id,
                band: c.band,
                start: time.len(),
                len: c.time.len(),
                label,
            });
            time.extend_from_slice(&c.time);
            mag.extend_from_slice(&c.mag);
            err.extend_from_slice(&c.err);
        }
        Self::from_parts(time, mag, err, spans, labelled.then_some(classes))
    }

    fn from_parts(
        time: Vec<f64>,
        mag: Vec<f64>,
        err: Vec<f64>,
        spans: Vec<CurveSpan>,
        classes: Option<Vec<String>>,
    ) -> Result<Self> {
        let frame = build_frame(&time, &mag, &err, &spans, classes.as_deref())
            .map_err(|e| DataError::table("<memory>", e))?;
        Ok(Self {
            frame,
            time,
            mag,
            err,
            spans,
            classes,
        })
    }

    /// The long frame: `object_id, band, time, mag, mag_err` (+ `label` for labelled sets).
    pub fn frame(&self) -> &DataFrame {
        &self.frame
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Total number of observations.
    pub fn n_observations(&self) -> usize {
        self.time.len()
    }

    pub fn curve(&self, i: usize) -> LightCurve<'_> {
        let s = &self.spans[i];
        let r = s.start..s.start + s.len;
        LightCurve {
            object_id: &s.object_id,
            band: &s.band,
            time: &self.time[r.clone()],
            mag: &self.mag[r.clone()],
            err: &self.err[r],
        }
    }

    pub fn curves(&self) -> impl ExactSizeIterator<Item = LightCurve<'_>> + '_ {
        (0..self.len()).map(move |i| self.curve(i))
    }

    /// Class names in label order (alphabetical), for labelled sets.
    pub fn classes(&self) -> Option<&[String]> {
        self.classes.as_deref()
    }

    /// Label index of curve `i` (into [`Self::classes`]).
    pub fn label(&self, i: usize) -> Option<usize> {
        self.spans[i].label.map(|l| l as usize)
    }

    /// Class name of curve `i`.
    pub fn class_name(&self, i: usize) -> Option<&str> {
        let l = self.label(i)?;
        self.classes.as_ref().map(|c| c[l].as_str())
    }

    /// Number of curves per class, in label order.
    pub fn class_counts(&self) -> Option<Vec<(String, usize)>> {
        let classes = self.classes.as_ref()?;
        let mut counts = vec![0usize; classes.len()];
        for s in &self.spans {
            if let Some(l) = s.label {
                counts[l as usize] += 1;
            }
        }
        Some(classes.iter().cloned().zip(counts).collect())
    }

    /// A new set holding the curves at `indices` (in that order). It keeps the parent's class
    /// list, so label indices stay comparable across subsets (folds, splits).
    pub fn subset(&self, indices: &[usize]) -> Result<Self> {
        let total: usize = indices.iter().map(|&i| self.spans[i].len).sum();
        let (mut time, mut mag, mut err) = (
            Vec::with_capacity(total),
            Vec::with_capacity(total),
            Vec::with_capacity(total),
        );
        let mut spans = Vec::with_capacity(indices.len());
        for &i in indices {
            let c = self.curve(i);
            spans.push(CurveSpan {
                start: time.len(),
                ..self.spans[i].clone()
            });
            time.extend_from_slice(c.time);
            mag.extend_from_slice(c.mag);
            err.extend_from_slice(c.err);
        }
        Self::from_parts(time, mag, err, spans, self.classes.clone())
    }

    pub fn to_owned_curve(&self, i: usize) -> OwnedLightCurve {
        let c = self.curve(i);
        OwnedLightCurve {
            object_id: c.object_id.to_string(),
            band: c.band.to_string(),
            time: c.time.to_vec(),
            mag: c.mag.to_vec(),
            err: c.err.to_vec(),
            label: self.class_name(i).map(str::to_string),
        }
    }
}

fn build_frame(
    time: &[f64],
    mag: &[f64],
    err: &[f64],
    spans: &[CurveSpan],
    classes: Option<&[String]>,
) -> PolarsResult<DataFrame> {
    let mut ids: Vec<&str> = Vec::with_capacity(time.len());
    let mut bands: Vec<&str> = Vec::with_capacity(time.len());
    let mut labels: Vec<&str> = Vec::new();
    for s in spans {
        ids.extend(std::iter::repeat_n(s.object_id.as_str(), s.len));
        bands.extend(std::iter::repeat_n(s.band.as_str(), s.len));
        if let (Some(classes), Some(l)) = (classes, s.label) {
            labels.extend(std::iter::repeat_n(classes[l as usize].as_str(), s.len));
        }
    }
    let mut columns = vec![
        Column::new(col::OBJECT_ID.into(), ids),
        Column::new(col::BAND.into(), bands),
        Column::new(col::TIME.into(), time),
        Column::new(col::MAG.into(), mag),
        Column::new(col::MAG_ERR.into(), err),
    ];
    if classes.is_some() {
        columns.push(Column::new(col::LABEL.into(), labels));
    }
    DataFrame::new(columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn curve(id: &str, n: usize, label: Option<&str>) -> OwnedLightCurve {
        OwnedLightCurve {
            object_id: id.into(),
            band: "R".into(),
            time: (0..n).map(|i| i as f64 * 1.5).collect(),
            mag: (0..n).map(|i| 15.0 + 0.1 * (i as f64).sin()).collect(),
            err: vec![0.02; n],
            label: label.map(str::to_string),
        }
    }

    #[test]
    fn labels_follow_alphabetical_class_order() {
        let set = LightCurveSet::from_curves(vec![
            curve("a", 6, Some("RRc")),
            curve("b", 7, Some("Cep_0")),
            curve("c", 8, Some("RRab")),
        ])
        .unwrap();
        assert_eq!(set.classes().unwrap(), ["Cep_0", "RRab", "RRc"]);
        assert_eq!(set.label(0), Some(2));
        assert_eq!(set.class_name(1), Some("Cep_0"));
        assert_eq!(set.n_observations(), 21);
        assert_eq!(set.frame().height(), 21);
        assert_eq!(set.curve(2).len(), 8);
    }

    #[test]
    fn mixed_labelled_and_unlabelled_is_an_error_naming_the_object() {
        let err = LightCurveSet::from_curves(vec![curve("a", 6, Some("X")), curve("zz9", 6, None)]).unwrap_err();
        assert!(err.to_string().contains("zz9"), "{err}");
    }

    #[test]
    fn subset_keeps_parent_class_indices() {
        let set = LightCurveSet::from_curves(vec![
            curve("a", 6, Some("A")),
            curve("b", 6, Some("B")),
            curve("c", 6, Some("C")),
        ])
        .unwrap();
        let sub = set.subset(&[2]).unwrap();
        assert_eq!(sub.classes().unwrap(), ["A", "B", "C"]);
        assert_eq!(sub.label(0), Some(2));
        assert_eq!(sub.class_counts().unwrap()[2], ("C".to_string(), 1));
    }
}
