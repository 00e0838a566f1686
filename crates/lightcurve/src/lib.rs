//! Light-curve data layer: types, readers and writers, and the preprocessing of the official
//! Astromer pipeline (spec §1–§3), each step a function with its own tests.
//!
//! - [`LightCurveSet`]: curves (optionally labelled), a polars frame underneath;
//! - [`io`]: long tables (CSV/parquet, column mapping, labels) and the official parquet layout;
//! - [`clean`]: observation and curve filters with a [`CleaningReport`];
//! - [`windows`]: random and sequential windows, per-window zero-mean, padding, loss weights;
//! - [`encoder`]: the interface every encoder offers the probes ([`WindowEncoder`]).

pub mod clean;
pub mod encoder;
pub mod error;
pub mod io;
pub mod set;
pub mod stats;
pub mod window;
pub mod windows;

pub use encoder::{EncodeError, LayerOutputs, WindowEncoder};
pub use clean::{CleaningOptions, CleaningReport, PercentileClip, RejectedCurve, Validation, VariabilityFilter};
pub use error::{DataError, Result};
pub use io::long_table::{read_long_table, write_long_table, ColumnMapping, LabelMapping, LongTableOptions, ReadReport};
pub use io::official::{read_official, write_official, OfficialOptions};
pub use set::{LightCurve, LightCurveSet, OwnedLightCurve};
pub use window::{PaddedWindow, WindowMeans};
pub use windows::{make_window, sequential_window_starts, sequential_windows, set_sequential_windows, set_windows, windows_of, WindowPolicy};
