//! Readers and writers for the two supported layouts:
//! - [`long_table`]: one row per observation in CSV or parquet, with a column mapping, and an
//!   optional labels table;
//! - [`official`]: the official Astromer parquet layout (`metadata.parquet` + `light_curves/shard_NNN.parquet`).

pub mod long_table;
pub mod official;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::{DataError, Result};

/// File formats of a table, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    Csv,
    Parquet,
}

impl TableFormat {
    pub fn from_path(path: &Path) -> Result<Self> {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("csv") => Ok(Self::Csv),
            Some("parquet") | Some("pq") => Ok(Self::Parquet),
            _ => Err(DataError::BadTable {
                path: path.to_path_buf(),
                problem: "unknown table format: use a .csv or .parquet file".into(),
            }),
        }
    }
}

/// Reads a whole table (CSV with header, or parquet) into a frame.
///
/// CSV column types are inferred from the first 10,000 rows. When a value further down does not
/// parse as the inferred type (e.g. a lowercase `nan` after thousands of plain numbers), the file
/// is read again with every column as text, so that [`f64_values`] can parse each value itself and
/// name the row of any genuinely non-numeric text instead of failing on the whole file.
pub fn read_table(path: &Path) -> Result<DataFrame> {
    let format = TableFormat::from_path(path)?;
    let open = || File::open(path).map_err(|e| DataError::io(path, e));
    let csv = |file: File, infer: usize| {
        CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(infer))
            .into_reader_with_file_handle(file)
            .finish()
    };
    let result = match format {
        TableFormat::Parquet => ParquetReader::new(open()?).finish(),
        TableFormat::Csv => match csv(open()?, 10_000) {
            Ok(df) => Ok(df),
            // Inference length 0 reads every column as text; if that fails too, report the first error.
            Err(first) => csv(open()?, 0).map_err(|_| first),
        },
    };
    result.map_err(|e| DataError::table(path, e))
}

/// Writes a frame as CSV or parquet (by extension) atomically: to a temporary file beside the
/// target, then renamed, so an interrupted write never leaves a half-written file.
pub fn write_table(path: &Path, frame: &mut DataFrame) -> Result<()> {
    let format = TableFormat::from_path(path)?;
    atomic_write(path, |file| {
        match format {
            TableFormat::Parquet => ParquetWriter::new(file)
                .with_compression(ParquetCompression::Zstd(None))
                .with_statistics(StatisticsOptions::empty())
                .finish(frame)
                .map(|_| ()),
            TableFormat::Csv => CsvWriter::new(file).include_header(true).finish(frame),
        }
        .map_err(|e| DataError::table(path, e))
    })
}

/// Runs `write` on a temporary file next to `path`, syncs it and renames it into place.
pub fn atomic_write(path: &Path, write: impl FnOnce(&mut File) -> Result<()>) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    }
    let tmp = tmp_path(path);
    let result = (|| {
        let mut file = File::create(&tmp).map_err(|e| DataError::io(&tmp, e))?;
        write(&mut file)?;
        file.flush().map_err(|e| DataError::io(&tmp, e))?;
        file.sync_all().map_err(|e| DataError::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| DataError::io(path, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(name)
}

/// Returns the column or a [`DataError::MissingColumn`] naming what the file has.
pub fn require_column<'a>(path: &Path, df: &'a DataFrame, name: &str) -> Result<&'a Column> {
    df.column(name).map_err(|_| DataError::MissingColumn {
        path: path.to_path_buf(),
        column: name.to_string(),
        found: df
            .get_column_names()
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// A column as `Option<f64>` values, casting integers; errors name the column and its type.
///
/// A text column (polars infers one when a CSV column holds e.g. a lowercase `nan`, and
/// [`read_table`] reads every column as text when a value deep in the file does not parse) is
/// parsed value by value with Rust's `f64::from_str`, which accepts `nan`, `NaN`, `inf`, `-inf`,
/// `infinity` in any case: such values become non-finite numbers for the cleaning step to drop or
/// refuse. Empty text is a null. Any other text is an error naming the row and the text.
pub fn f64_values(path: &Path, df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>> {
    let c = require_column(path, df, name)?;
    // A header-only CSV has no rows to infer types from: an empty column of any type is empty.
    if c.is_empty() {
        return Ok(Vec::new());
    }
    if c.dtype() == &DataType::String {
        let csv = TableFormat::from_path(path).ok() == Some(TableFormat::Csv);
        return c
            .str()
            .map_err(|e| DataError::table(path, e))?
            .into_iter()
            .enumerate()
            .map(|(row, v)| match v.map(str::trim) {
                None | Some("") => Ok(None),
                Some(text) => text.parse::<f64>().map(Some).map_err(|_| DataError::NotANumber {
                    path: path.to_path_buf(),
                    column: name.to_string(),
                    // Rows count from 0 after the header; a CSV's line adds the header and 1-based.
                    row: if csv { format!("row {row} (line {})", row + 2) } else { format!("row {row}") },
                    text: text.chars().take(40).collect(),
                }),
            })
            .collect();
    }
    if !c.dtype().is_primitive_numeric() {
        return Err(DataError::ColumnType {
            path: path.to_path_buf(),
            column: name.to_string(),
            found: c.dtype().to_string(),
            expected: "a number",
        });
    }
    let c = c.cast(&DataType::Float64).map_err(|e| DataError::table(path, e))?;
    Ok(c.f64().map_err(|e| DataError::table(path, e))?.into_iter().collect())
}

/// A column as strings (integers are formatted), nulls as `None`.
pub(crate) fn string_values(path: &Path, df: &DataFrame, name: &str) -> Result<Vec<Option<String>>> {
    let c = require_column(path, df, name)?;
    let c = c.cast(&DataType::String).map_err(|e| DataError::table(path, e))?;
    Ok(c.str()
        .map_err(|e| DataError::table(path, e))?
        .into_iter()
        .map(|s| s.map(str::to_string))
        .collect())
}
