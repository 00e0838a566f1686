use std::path::PathBuf;

/// Errors of feature extraction, caching and head training.
#[derive(Debug, thiserror::Error)]
pub enum ClassifierError {
    #[error(transparent)]
    Model(#[from] astromer::ModelError),
    #[error(transparent)]
    Encoder(#[from] lightcurve::EncodeError),
    #[error("window of object {object_index} has no valid observation; drop empty curves before windowing")]
    EmptyWindow { object_index: usize },
    #[error("the {0} set has no windows; check the few-shot sizes against the data set")]
    NoData(&'static str),
    #[error("{0}")]
    Mismatch(String),
    #[error("validation loss is not finite at epoch {epoch}; lower the learning rate")]
    NonFinite { epoch: usize },
    #[error("{}: {why}; delete the file to recompute it", path.display())]
    Cache { path: PathBuf, why: String },
    #[error("{0}")]
    Io(String),
}
