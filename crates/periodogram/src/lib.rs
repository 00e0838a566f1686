//! Lomb–Scargle periodogram of an irregularly sampled light curve, best period, phase folding.
//!
//! * [`FrequencyGrid`]: a linear grid in frequency (cycles per day), built from the sampling of a
//!   light curve ([`FrequencyGrid::auto`]) or from a period range ([`FrequencyGrid::from_periods`]).
//! * [`lomb_scargle`]: the generalised, floating-mean Lomb–Scargle periodogram of Zechmeister &
//!   Kürster (2009), optionally weighted by `1/σ²`, with the "standard" normalisation (power in
//!   `[0, 1]`, the fraction of the weighted variance a sinusoid plus offset explains). This equals
//!   astropy's `LombScargle(t, y, dy, fit_mean=True, center_data=True).power(f)`.
//! * [`best_period`]: the convenience "period of the highest peak" on the automatic grid.
//! * [`fold`]: phases in `[0, 1)` for a period and reference epoch.
//!
//! Inputs are validated and reported as [`PeriodogramError`]; nothing here panics on bad data.
//! Cost is `O(N · F)` for `N` points and `F` frequencies, with sines and cosines advanced by a
//! rotation recurrence rather than evaluated per (point, frequency).

mod error;
mod fold;
mod grid;
mod lomb_scargle;
mod validate;

pub use error::PeriodogramError;
pub use fold::fold;
pub use grid::FrequencyGrid;
pub use lomb_scargle::{best_period, lomb_scargle, Periodogram};
