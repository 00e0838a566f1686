//! The official Astromer parquet layout (spec §1.3): `metadata.parquet` with
//! `ID, Class, Band, Label, shard, newID` and `light_curves/shard_NNN.parquet` with
//! `newID, mjd, mag, errmag`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::{f64_values, read_table, require_column, string_values, write_table};
use crate::clean::{clean_curve, CleaningOptions, RawCurve};
use crate::error::{DataError, Result};
use crate::io::long_table::ReadReport;
use crate::set::{LightCurveSet, OwnedLightCurve};

pub const METADATA_FILE: &str = "metadata.parquet";
pub const SHARD_DIR: &str = "light_curves";

/// Path of shard `k` inside a dataset folder.
pub fn shard_path(root: &Path, k: usize) -> PathBuf {
    root.join(SHARD_DIR).join(format!("shard_{k:03}.parquet"))
}

/// Options of [`read_official`].
#[derive(Debug, Clone, Default)]
pub struct OfficialOptions {
    pub cleaning: CleaningOptions,
    /// Whether to read `Class` as labels (labelled sets such as Alcock and ATLAS).
    pub labelled: bool,
    pub exclude_classes: Vec<String>,
}

/// Reads a dataset folder in the official layout.
pub fn read_official(root: &Path, opts: &OfficialOptions) -> Result<(LightCurveSet, ReadReport)> {
    let meta_path = root.join(METADATA_FILE);
    let meta = read_table(&meta_path)?;
    let ids = string_values(&meta_path, &meta, "ID")?;
    let new_ids = f64_values(&meta_path, &meta, "newID")?;
    let bands = string_values(&meta_path, &meta, "Band")?;
    let shards = f64_values(&meta_path, &meta, "shard")?;
    let classes = if opts.labelled {
        Some(string_values(&meta_path, &meta, "Class")?)
    } else {
        None
    };

    struct Meta {
        id: String,
        band: String,
        class: Option<String>,
    }
    let mut by_new_id: HashMap<i64, Meta> = HashMap::with_capacity(ids.len());
    let mut order: Vec<i64> = Vec::with_capacity(ids.len());
    let mut shard_set: Vec<i64> = Vec::new();
    for k in 0..ids.len() {
        let (Some(id), Some(nid), Some(shard)) = (&ids[k], new_ids[k], shards[k]) else {
            return Err(DataError::BadTable {
                path: meta_path.clone(),
                problem: format!("row {k} lacks ID, newID or shard"),
            });
        };
        let nid = nid as i64;
        if by_new_id
            .insert(
                nid,
                Meta {
                    id: id.clone(),
                    band: bands[k].clone().unwrap_or_default(),
                    class: classes.as_ref().and_then(|c| c[k].clone()),
                },
            )
            .is_some()
        {
            return Err(DataError::BadTable {
                path: meta_path.clone(),
                problem: format!("newID {nid} appears twice"),
            });
        }
        order.push(nid);
        if !shard_set.contains(&(shard as i64)) {
            shard_set.push(shard as i64);
        }
    }
    shard_set.sort_unstable();

    let mut raw: HashMap<i64, RawCurve> = HashMap::with_capacity(order.len());
    for shard in shard_set {
        let path = shard_path(root, shard as usize);
        let df = read_table(&path)?;
        require_column(&path, &df, "newID")?;
        let nids = f64_values(&path, &df, "newID")?;
        let t = f64_values(&path, &df, "mjd")?;
        let m = f64_values(&path, &df, "mag")?;
        let e = f64_values(&path, &df, "errmag")?;
        for k in 0..nids.len() {
            let Some(nid) = nids[k].map(|v| v as i64) else {
                return Err(DataError::BadTable {
                    path: path.clone(),
                    problem: format!("row {k} has no newID"),
                });
            };
            let Some(meta) = by_new_id.get(&nid) else {
                return Err(DataError::BadTable {
                    path: path.clone(),
                    problem: format!("row {k}: newID {nid} is not in {}", meta_path.display()),
                });
            };
            let r = raw.entry(nid).or_insert_with(|| RawCurve {
                object_id: meta.id.clone(),
                band: meta.band.clone(),
                ..Default::default()
            });
            r.time.push(t[k]);
            r.mag.push(m[k]);
            r.err.push(e[k]);
        }
    }

    let mut report = ReadReport::default();
    let mut curves = Vec::with_capacity(order.len());
    for nid in order {
        let meta = &by_new_id[&nid];
        let label = meta.class.clone();
        if let Some(c) = &label {
            if opts.exclude_classes.contains(c) {
                report.objects_excluded_class += 1;
                continue;
            }
        }
        if opts.labelled && label.is_none() {
            report.objects_without_label += 1;
            continue;
        }
        let r = raw.remove(&nid).unwrap_or_else(|| RawCurve {
            object_id: meta.id.clone(),
            band: meta.band.clone(),
            ..Default::default()
        });
        if let Some(c) = clean_curve(&meta_path, r, &opts.cleaning, &mut report.cleaning)? {
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
    if curves.is_empty() {
        return Err(DataError::Empty {
            path: root.to_path_buf(),
            report: report.to_string(),
        });
    }
    log::info!("{}: {}", root.display(), report);
    Ok((LightCurveSet::from_curves(curves)?, report))
}

/// Writes a set in the official layout with `shard_size` curves per shard. Returns the written
/// file paths (metadata first), relative to `root`.
pub fn write_official(set: &LightCurveSet, root: &Path, shard_size: usize) -> Result<Vec<PathBuf>> {
    let shard_size = shard_size.max(1);
    let n = set.len();
    let mut files = vec![PathBuf::from(METADATA_FILE)];
    let ids: Vec<&str> = set.curves().map(|c| c.object_id).collect();
    let bands: Vec<&str> = set.curves().map(|c| c.band).collect();
    let new_ids: Vec<i64> = (0..n as i64).collect();
    let shard_of: Vec<i64> = (0..n).map(|i| (i / shard_size) as i64).collect();
    let lengths: Vec<i64> = set.curves().map(|c| c.len() as i64).collect();
    let mut columns = vec![Column::new("ID".into(), ids)];
    if set.classes().is_some() {
        let class: Vec<&str> = (0..n).map(|i| set.class_name(i).unwrap_or("")).collect();
        let label: Vec<i64> = (0..n).map(|i| set.label(i).map_or(-1, |l| l as i64)).collect();
        columns.push(Column::new("Class".into(), class));
        columns.push(Column::new("Label".into(), label));
    }
    columns.push(Column::new("Band".into(), bands));
    columns.push(Column::new("N".into(), lengths));
    columns.push(Column::new("shard".into(), shard_of));
    columns.push(Column::new("newID".into(), new_ids));
    let meta_path = root.join(METADATA_FILE);
    let mut meta = DataFrame::new(columns).map_err(|e| DataError::table(&meta_path, e))?;

    for (k, start) in (0..n).step_by(shard_size).enumerate() {
        let end = (start + shard_size).min(n);
        let path = shard_path(root, k);
        let rows: usize = (start..end).map(|i| set.curve(i).len()).sum();
        let (mut nid, mut t, mut m, mut e) = (
            Vec::with_capacity(rows),
            Vec::with_capacity(rows),
            Vec::with_capacity(rows),
            Vec::with_capacity(rows),
        );
        for i in start..end {
            let c = set.curve(i);
            nid.extend(std::iter::repeat_n(i as i64, c.len()));
            t.extend_from_slice(c.time);
            m.extend_from_slice(c.mag);
            e.extend_from_slice(c.err);
        }
        let mut df = DataFrame::new(vec![
            Column::new("newID".into(), nid),
            Column::new("mjd".into(), t),
            Column::new("mag".into(), m),
            Column::new("errmag".into(), e),
        ])
        .map_err(|e| DataError::table(&path, e))?;
        write_table(&path, &mut df)?;
        files.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
    }
    // Metadata last: a folder with metadata is complete.
    write_table(&meta_path, &mut meta)?;
    Ok(files)
}
