//! The regression gate: is a fresh `results/<profile>/<experiment>.toml` scientifically the same as
//! its baseline?
//!
//! 1. [`flatten`] turns a results table into `metric id → value` with ids that survive reordering
//!    (array elements are named by their identity fields, not their position).
//! 2. [`Rules`] are the pre-registered tolerances (`results/tolerances.toml`): which metric may move
//!    how far in which direction, and why.
//! 3. [`compare`] gives one [`Row`] per metric with a [`Verdict`]; [`render_table`] and [`Summary`]
//!    print them.
//! 4. [`claims`]: the paper's statements as pre-registered comparisons over metric ids, judged
//!    `holds` / `fails` / `inconclusive` (fold ranges overlap) / `no data`.
//!
//! See `docs/regression.md` for the user-facing description.

pub mod claims;
mod compare;
mod flatten;
mod glob;
mod report;
mod rules;

pub use compare::{compare, compare_metrics, Row, Verdict};
pub use flatten::{flatten, IDENTITY_FIELDS, MAX_NUMERIC_ARRAY_LEN, SKIPPED_TABLES};
pub use glob::glob_match;
pub use report::{format_number, render_table, Summary};
pub use rules::{Direction, Kind, Rule, Rules, RulesError, Tolerance, MAX_SNAPSHOT_DECIMALS};
