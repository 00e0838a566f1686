use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("manifest {path}: {problem}")]
    Manifest { path: PathBuf, problem: String },
    #[error("no manifest named `{name}` in {dir} (available: {available})")]
    UnknownManifest {
        name: String,
        dir: PathBuf,
        available: String,
    },
    #[error(transparent)]
    Data(#[from] lightcurve::DataError),
    #[error("data set `{name}`: generation failed: {problem}")]
    Generation { name: String, problem: String },
    #[error("data set `{name}` does not match its manifest:\n{details}")]
    Mismatch { name: String, details: String },
    #[error("data set `{name}` is {state}: its files have no trusted sha256 in {manifest}. Run `cargo xtask data lock {name}` to pin the files present, or drop --locked")]
    NotPinned {
        name: String,
        state: &'static str,
        manifest: PathBuf,
    },
    #[error("data set `{name}` is missing in {dir}. {hint}")]
    Missing {
        name: String,
        dir: PathBuf,
        hint: String,
    },
}

pub type Result<T> = std::result::Result<T, DatasetError>;

impl DatasetError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DatasetError::Io {
            path: path.into(),
            source,
        }
    }
}
