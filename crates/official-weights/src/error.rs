//! Errors of the import and the parity check; each names the file, the key and what to do.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ImportError {
    #[error(transparent)]
    Bundle(#[from] tensorbundle::BundleError),
    #[error("{path}: {problem}")]
    NotAstromer { path: PathBuf, problem: String },
    #[error(
        "{path}: `{key}` has shape {official:?}, but our `{name}` has shape {ours:?} (another \
         architecture than the one read from the other shapes?)"
    )]
    Shape {
        path: PathBuf,
        key: String,
        official: Vec<usize>,
        ours: Vec<usize>,
        name: String,
    },
    #[error(
        "{path}: partial import refused.\n  our parameters with no official tensor: {missing:?}\n  \
         official model tensors we do not map: {unexpected:?}\n  (pass --allow-partial to import anyway: \
         missing parameters keep their initialisation and the list is written to import.toml)"
    )]
    Partial {
        path: PathBuf,
        missing: Vec<String>,
        unexpected: Vec<String>,
    },
    #[error("number of attention heads: {problem}")]
    Heads { problem: String },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {problem}")]
    Provenance { path: PathBuf, problem: String },
    #[error("{path}: {problem}")]
    Reference { path: PathBuf, problem: String },
    #[error(transparent)]
    Model(#[from] astromer::ModelError),
    #[error(transparent)]
    Checkpoint(#[from] astromer::CheckpointError),
}
