//! Errors of the light-curve data layer. Every message names the file and, where one is involved,
//! the object, and says what to do.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: cannot read or write: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a readable table ({source}); is the file truncated or of another format? Re-generate or re-download it")]
    Table {
        path: PathBuf,
        #[source]
        source: polars::error::PolarsError,
    },
    #[error("{path}: missing column `{column}` (found: {found}); pass a column mapping that names it")]
    MissingColumn {
        path: PathBuf,
        column: String,
        found: String,
    },
    #[error("{path}: column `{column}` has type {found}, expected {expected}")]
    ColumnType {
        path: PathBuf,
        column: String,
        found: String,
        expected: &'static str,
    },
    #[error("{path}: column `{column}`, {row}: `{text}` is not a number (nan, inf and -inf are read as non-finite values)")]
    NotANumber {
        path: PathBuf,
        column: String,
        /// Where, e.g. `row 0 (line 2)`.
        row: String,
        text: String,
    },
    #[error("{path}: object `{object_id}`: {problem}")]
    BadObject {
        path: PathBuf,
        object_id: String,
        problem: String,
    },
    #[error("{path}: {problem}")]
    BadTable { path: PathBuf, problem: String },
    #[error("{path}: no light curve left after cleaning ({report}); check the column mapping and the band filter")]
    Empty { path: PathBuf, report: String },
}

pub type Result<T> = std::result::Result<T, DataError>;

impl DataError {
    pub(crate) fn table(path: impl Into<PathBuf>, source: polars::error::PolarsError) -> Self {
        DataError::Table {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }
}
