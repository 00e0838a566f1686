//! Reading and validating the curves to embed.

use std::collections::BTreeSet;
use std::path::Path;

use lightcurve::io::official::METADATA_FILE;
use lightcurve::{
    read_long_table, read_official, CleaningOptions, ColumnMapping, LightCurveSet, LongTableOptions, OfficialOptions,
    ReadReport, RejectedCurve, Validation,
};

use crate::EmbedError;

/// How to read the input.
#[derive(Debug, Clone, Default)]
pub struct InputOptions {
    /// Columns of a long table (ignored for a folder in the official layout, whose columns are fixed).
    pub columns: ColumnMapping,
    /// Keep only the curves of this band. Required when the input holds several bands: the model
    /// is single-band.
    pub band: Option<String>,
    /// Skip curves that fail validation (and list them in [`Curves::skipped`]) instead of
    /// refusing the input.
    pub skip_invalid: bool,
}

/// The curves read, and those refused.
#[derive(Debug, Clone)]
pub struct Curves {
    pub set: LightCurveSet,
    /// Curves that failed validation (empty unless [`InputOptions::skip_invalid`]), in reading order.
    pub skipped: Vec<RejectedCurve>,
    pub report: ReadReport,
}

/// The validation applied to every curve: nothing is altered, a curve with any problem is refused
/// whole. Errors need only be positive and finite (they do not enter the encoder; the pretraining
/// filter err < 1 is a choice of training data, not a property of valid input).
pub fn validation() -> CleaningOptions {
    CleaningOptions {
        validation: Validation::Reject,
        max_error: None,
        min_points: 5,
        variability: None,
        clip: None,
    }
}

/// Reads `path`: a long table (`.csv`, `.parquet`) or a folder in the official parquet layout
/// (`metadata.parquet` + `light_curves/shard_NNN.parquet`). A curve that fails validation (a
/// non-finite or missing value, unsorted or duplicate times, an error ≤ 0, fewer than 5
/// observations) is an [`EmbedError::InvalidCurves`] naming every such object, unless
/// `skip_invalid`.
pub fn read_curves(path: &Path, opts: &InputOptions) -> Result<Curves, EmbedError> {
    let (set, report) = if path.is_dir() {
        if !path.join(METADATA_FILE).is_file() {
            return Err(EmbedError::File {
                path: path.to_path_buf(),
                problem: format!(
                    "is a folder without {METADATA_FILE}: give a long table (.csv or .parquet) or a folder in the \
                     official layout ({METADATA_FILE} + light_curves/shard_NNN.parquet)"
                ),
            });
        }
        let official = OfficialOptions {
            cleaning: validation(),
            labelled: false,
            exclude_classes: Vec::new(),
        };
        let (set, mut report) = read_official(path, &official)?;
        match &opts.band {
            None => (set, report),
            Some(band) => {
                let keep: Vec<usize> = (0..set.len()).filter(|&i| set.curve(i).band == band).collect();
                if keep.is_empty() {
                    return Err(EmbedError::File {
                        path: path.to_path_buf(),
                        problem: format!("no curve of band `{band}` (bands found: {})", bands(&set)),
                    });
                }
                report.cleaning.rejected.retain(|r| r.band == *band);
                (set.subset(&keep)?, report)
            }
        }
    } else {
        let long = LongTableOptions {
            columns: opts.columns.clone(),
            band: opts.band.clone(),
            cleaning: validation(),
            ..Default::default()
        };
        read_long_table(path, &long)?
    };
    let found: BTreeSet<&str> = set.curves().map(|c| c.band).collect();
    if found.len() > 1 {
        return Err(EmbedError::SeveralBands {
            path: path.to_path_buf(),
            bands: found.into_iter().map(str::to_string).collect(),
        });
    }
    let mut seen = BTreeSet::new();
    if let Some(dup) = set.curves().find(|c| !seen.insert(c.object_id)) {
        return Err(EmbedError::File {
            path: path.to_path_buf(),
            problem: format!("object `{}` has two light curves of band {}", dup.object_id, dup.band),
        });
    }
    let skipped = report.cleaning.rejected.clone();
    if !skipped.is_empty() && !opts.skip_invalid {
        return Err(EmbedError::InvalidCurves {
            path: path.to_path_buf(),
            curves: skipped,
        });
    }
    Ok(Curves { set, skipped, report })
}

fn bands(set: &LightCurveSet) -> String {
    set.curves().map(|c| c.band).collect::<BTreeSet<_>>().into_iter().collect::<Vec<_>>().join(", ")
}
