//! Embedding tables: one row per object (or per window), written atomically as parquet or CSV.

use std::path::{Path, PathBuf};

use lightcurve::io::write_table;
use lightcurve::RejectedCurve;
use polars::prelude::*;

use crate::{EmbedError, Embeddings};

/// Which rows to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// `object_id, n_obs, n_windows, emb_…`: one row per object.
    #[default]
    PerObject,
    /// `object_id, window, start, n_obs, emb_…`: one row per window (`n_obs`: real observations
    /// in the window).
    PerWindow,
}

/// `emb_000`, `emb_001`, … (at least three digits, more when `dim` > 1000).
pub fn embedding_column_names(dim: usize) -> Vec<String> {
    let width = dim.saturating_sub(1).to_string().len().max(3);
    (0..dim).map(|j| format!("emb_{j:0width$}")).collect()
}

/// Where the list of skipped curves goes: `<out>.skipped.csv` beside the output.
pub fn skipped_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".skipped.csv");
    out.with_file_name(name)
}

/// Writes the embeddings to `path` (`.parquet` or `.csv`, by extension) atomically: a failed or
/// interrupted write leaves no partial file.
pub fn write_embeddings(path: &Path, emb: &Embeddings, layout: Layout) -> Result<(), EmbedError> {
    let table = |e: PolarsError| EmbedError::File {
        path: path.to_path_buf(),
        problem: format!("cannot build the output table: {e}"),
    };
    let count = |name: &str, v: Vec<i64>| Column::new(name.into(), v);
    let (mut columns, rows): (Vec<Column>, Vec<&[f32]>) = match layout {
        Layout::PerObject => {
            let o = &emb.objects;
            (
                vec![
                    Column::new("object_id".into(), o.iter().map(|r| r.object_id.as_str()).collect::<Vec<_>>()),
                    count("n_obs", o.iter().map(|r| r.n_obs as i64).collect()),
                    count("n_windows", o.iter().map(|r| r.n_windows as i64).collect()),
                ],
                o.iter().map(|r| r.values.as_slice()).collect(),
            )
        }
        Layout::PerWindow => {
            let Some(w) = &emb.windows else {
                return Err(EmbedError::Options(
                    "per-window output asked for, but the embeddings were computed without per_window".into(),
                ));
            };
            (
                vec![
                    Column::new("object_id".into(), w.iter().map(|r| r.object_id.as_str()).collect::<Vec<_>>()),
                    count("window", w.iter().map(|r| r.window as i64).collect()),
                    count("start", w.iter().map(|r| r.start as i64).collect()),
                    count("n_obs", w.iter().map(|r| r.n_obs as i64).collect()),
                ],
                w.iter().map(|r| r.values.as_slice()).collect(),
            )
        }
    };
    for (j, name) in embedding_column_names(emb.dim).into_iter().enumerate() {
        let values: Vec<f32> = rows.iter().map(|r| r[j]).collect();
        columns.push(Column::new(name.into(), values));
    }
    let mut frame = DataFrame::new(columns).map_err(table)?;
    write_table(path, &mut frame)?;
    Ok(())
}

/// Writes `object_id, band, reason` of every skipped curve as CSV (a header only when none was).
pub fn write_skipped(path: &Path, skipped: &[RejectedCurve]) -> Result<(), EmbedError> {
    let mut frame = DataFrame::new(vec![
        Column::new("object_id".into(), skipped.iter().map(|r| r.object_id.as_str()).collect::<Vec<_>>()),
        Column::new("band".into(), skipped.iter().map(|r| r.band.as_str()).collect::<Vec<_>>()),
        Column::new("reason".into(), skipped.iter().map(|r| r.problem.as_str()).collect::<Vec<_>>()),
    ])
    .map_err(|e| EmbedError::File {
        path: path.to_path_buf(),
        problem: format!("cannot build the table of skipped curves: {e}"),
    })?;
    write_table(path, &mut frame)?;
    Ok(())
}
