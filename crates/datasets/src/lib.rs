//! Data sets pinned by manifests: `data-manifests/<name>.toml` says what a set is and where it
//! comes from, and holds the sha256 of every file. Synthetic sets are generated deterministically
//! by `survey-sim`; real ones are fetched or placed by hand and verified.

pub mod causal;
pub mod error;
pub mod hashing;
pub mod manifest;
pub mod store;

pub use error::{DatasetError, Result};
pub use hashing::{sha256_file, HashCache};
pub use manifest::{FileEntry, Layout, Manifest, PinState, Source, SyntheticSurvey};
pub use store::{DataStore, Mismatch, Preparation, PreparedDataset, VerifyReport, TRUTH_FILE};
