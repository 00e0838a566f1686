//! The official Astromer 2 weights in Rust: import a TensorFlow checkpoint written by the official
//! code (`model.save_weights`, the released weights, the fine-tuned classifiers' encoders) into our
//! A2 in official-graph mode, and check our forward pass against the official graph's outputs.
//!
//! - [`import_checkpoint`]: reads the checkpoint with [`tensorbundle`], infers blocks, d, FFN
//!   width and the leak projections from the shapes ([`keys`] lists the key mapping), refuses a
//!   partial import unless asked, and records where every tensor came from ([`Provenance`]);
//! - [`parity`]: runs our model on a reference file's inputs and compares every output under a
//!   tolerance that grows with the window's largest |t| ([`parity::allowed_difference`]).

mod error;
mod import;
pub mod keys;
pub mod parity;

pub use error::ImportError;
pub use import::{
    import_checkpoint, read_provenance, HeadsSource, ImportOptions, ImportedWeights, Provenance, SourceFile,
    OFFICIAL_HEAD_DIM, PROVENANCE_FILE,
};
