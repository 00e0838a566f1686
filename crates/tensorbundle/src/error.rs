//! Errors of the TensorBundle reader. Every one names the file and, where one is involved, the key.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum BundleError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is not a TensorFlow checkpoint index: {problem} (expected the `.index` file of a \
         TensorBundle, as written by `model.save_weights` / `tf.train.Checkpoint`)"
    )]
    NotAnIndex { path: PathBuf, problem: String },
    #[error("{path} is corrupt: {problem}")]
    CorruptIndex { path: PathBuf, problem: String },
    #[error("no checkpoint found at {path}: {problem}")]
    NotFound { path: PathBuf, problem: String },
    #[error("{path}: no tensor `{key}` in this checkpoint")]
    MissingKey { path: PathBuf, key: String },
    #[error("{path}: tensor `{key}` has dtype {dtype}; {expected}")]
    Dtype {
        path: PathBuf,
        key: String,
        dtype: String,
        expected: &'static str,
    },
    #[error(
        "{path}: tensor `{key}` ends at byte {end} but the file has {file_len} bytes (truncated \
         copy? re-download or re-copy the checkpoint)"
    )]
    Truncated {
        path: PathBuf,
        key: String,
        end: u64,
        file_len: u64,
    },
    #[error("{path}: tensor `{key}` has {size} bytes, but its dtype and shape {shape:?} need {expected}")]
    Size {
        path: PathBuf,
        key: String,
        shape: Vec<i64>,
        size: u64,
        expected: u64,
    },
    #[error(
        "{path}: tensor `{key}` fails its crc32c check (stored {stored:#010x}, computed \
         {computed:#010x}): the file is damaged"
    )]
    Checksum {
        path: PathBuf,
        key: String,
        stored: u32,
        computed: u32,
    },
    #[error("{path}: tensor `{key}` {problem}")]
    Unsupported {
        path: PathBuf,
        key: String,
        problem: String,
    },
}

pub type Result<T> = std::result::Result<T, BundleError>;
