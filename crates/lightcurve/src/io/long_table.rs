//! Long tables: one row per observation, `object_id, band, time, mag, mag_err` by default, in CSV
//! or parquet; labels in a separate `object_id, label` table.

use std::collections::HashMap;
use std::path::Path;

use polars::prelude::*;

use super::{f64_values, read_table, string_values, write_table};
use crate::clean::{clean_curve, CleaningOptions, CleaningReport, RawCurve, Validation};
use crate::error::{DataError, Result};
use crate::set::{col, LightCurveSet, OwnedLightCurve};

/// Which columns of the file hold what. `band: None` means the file has no band column and every
/// curve gets `default_band`.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMapping {
    pub object_id: String,
    pub band: Option<String>,
    pub time: String,
    pub mag: String,
    pub mag_err: String,
    pub default_band: String,
}

impl Default for ColumnMapping {
    fn default() -> Self {
        Self {
            object_id: col::OBJECT_ID.into(),
            band: Some(col::BAND.into()),
            time: col::TIME.into(),
            mag: col::MAG.into(),
            mag_err: col::MAG_ERR.into(),
            default_band: "unknown".into(),
        }
    }
}

/// Columns of a labels table.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelMapping {
    pub object_id: String,
    pub label: String,
}

impl Default for LabelMapping {
    fn default() -> Self {
        Self {
            object_id: col::OBJECT_ID.into(),
            label: col::LABEL.into(),
        }
    }
}

/// Options of [`read_long_table`].
#[derive(Debug, Clone, Default)]
pub struct LongTableOptions {
    pub columns: ColumnMapping,
    /// Keep only rows of this band (single-band models).
    pub band: Option<String>,
    pub cleaning: CleaningOptions,
    /// Labels table and its columns.
    pub labels: Option<(std::path::PathBuf, LabelMapping)>,
    /// Classes whose objects are left out (e.g. `UNK`, `Dubious`).
    pub exclude_classes: Vec<String>,
}

/// What a read dropped, for the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadReport {
    pub cleaning: CleaningReport,
    pub rows_other_band: usize,
    pub objects_without_label: usize,
    pub objects_excluded_class: usize,
    pub labels_without_curve: usize,
}

impl std::fmt::Display for ReadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}; {} rows of other bands skipped; {} objects without label dropped; {} objects of excluded classes; \
             {} labels without a light curve",
            self.cleaning,
            self.rows_other_band,
            self.objects_without_label,
            self.objects_excluded_class,
            self.labels_without_curve
        )
    }
}

/// Reads a long table (and its labels), cleans every curve, and returns the set with a report of
/// everything dropped (also logged).
pub fn read_long_table(path: &Path, opts: &LongTableOptions) -> Result<(LightCurveSet, ReadReport)> {
    let df = read_table(path)?;
    let m = &opts.columns;
    let ids = string_values(path, &df, &m.object_id)?;
    let bands = match &m.band {
        Some(b) => Some(string_values(path, &df, b)?),
        None => None,
    };
    let time = f64_values(path, &df, &m.time)?;
    let mag = f64_values(path, &df, &m.mag)?;
    let err = f64_values(path, &df, &m.mag_err)?;

    let labels = match &opts.labels {
        Some((lpath, lm)) => Some(read_labels(lpath, lm)?),
        None => None,
    };

    let mut report = ReadReport::default();
    // Group rows by (object, band), keeping first-appearance order of objects.
    let mut order: Vec<(String, String)> = Vec::new();
    let mut raw: HashMap<(String, String), RawCurve> = HashMap::new();
    for k in 0..ids.len() {
        let Some(id) = &ids[k] else {
            return Err(DataError::BadTable {
                path: path.to_path_buf(),
                problem: format!("row {k} has no object id in column `{}`", m.object_id),
            });
        };
        let band = match &bands {
            Some(b) => b[k].clone().unwrap_or_else(|| m.default_band.clone()),
            None => m.default_band.clone(),
        };
        if opts.band.as_ref().is_some_and(|want| *want != band) {
            report.rows_other_band += 1;
            continue;
        }
        let key = (id.clone(), band.clone());
        let entry = raw.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            RawCurve {
                object_id: id.clone(),
                band,
                ..Default::default()
            }
        });
        entry.time.push(time[k]);
        entry.mag.push(mag[k]);
        entry.err.push(err[k]);
    }

    let mut curves = Vec::with_capacity(order.len());
    let mut seen_ids = std::collections::HashSet::new();
    for key in order {
        let r = raw.remove(&key).expect("key recorded in order");
        seen_ids.insert(r.object_id.clone());
        let label = match &labels {
            None => None,
            Some(l) => match l.get(&r.object_id) {
                Some(class) if opts.exclude_classes.contains(class) => {
                    report.objects_excluded_class += 1;
                    continue;
                }
                Some(class) => Some(class.clone()),
                None => {
                    if opts.cleaning.validation == Validation::Strict {
                        return Err(DataError::BadObject {
                            path: path.to_path_buf(),
                            object_id: r.object_id,
                            problem: "has no label in the labels table".into(),
                        });
                    }
                    report.objects_without_label += 1;
                    continue;
                }
            },
        };
        if let Some(c) = clean_curve(path, r, &opts.cleaning, &mut report.cleaning)? {
            curves.push(OwnedLightCurve {
                object_id: c.object_id,
                band: c.band,
                time: c.time,
                mag: c.mag,
                err: c.err,
                label,
            });
        }
    }
    if let Some(l) = &labels {
        report.labels_without_curve = l.keys().filter(|id| !seen_ids.contains(*id)).count();
    }
    if curves.is_empty() {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
            report: report.to_string(),
        });
    }
    log::info!("{}: {}", path.display(), report);
    Ok((LightCurveSet::from_curves(curves)?, report))
}

/// Reads an `object_id → label` table. Duplicate ids with different labels are an error.
pub fn read_labels(path: &Path, m: &LabelMapping) -> Result<HashMap<String, String>> {
    let df = read_table(path)?;
    let ids = string_values(path, &df, &m.object_id)?;
    let labels = string_values(path, &df, &m.label)?;
    let mut out = HashMap::with_capacity(ids.len());
    for (k, (id, label)) in ids.into_iter().zip(labels).enumerate() {
        let (Some(id), Some(label)) = (id, label) else {
            return Err(DataError::BadTable {
                path: path.to_path_buf(),
                problem: format!("row {k} has an empty object id or label"),
            });
        };
        if let Some(prev) = out.insert(id.clone(), label.clone()) {
            if prev != label {
                return Err(DataError::BadObject {
                    path: path.to_path_buf(),
                    object_id: id,
                    problem: format!("has two labels, `{prev}` and `{label}`"),
                });
            }
        }
    }
    Ok(out)
}

/// Writes a set as a long table (default column names) and, for labelled sets, its labels table.
pub fn write_long_table(set: &LightCurveSet, path: &Path, labels_path: Option<&Path>) -> Result<()> {
    let mut frame = set.frame().clone();
    if frame.get_column_names().iter().any(|c| c.as_str() == col::LABEL) {
        frame = frame.drop(col::LABEL).map_err(|e| DataError::table(path, e))?;
    }
    write_table(path, &mut frame)?;
    if let (Some(lp), Some(_)) = (labels_path, set.classes()) {
        let ids: Vec<&str> = set.curves().map(|c| c.object_id).collect();
        let labels: Vec<&str> = (0..set.len()).map(|i| set.class_name(i).unwrap_or("")).collect();
        let mut df = DataFrame::new(vec![
            Column::new(col::OBJECT_ID.into(), ids),
            Column::new(col::LABEL.into(), labels),
        ])
        .map_err(|e| DataError::table(lp, e))?;
        write_table(lp, &mut df)?;
    }
    Ok(())
}
