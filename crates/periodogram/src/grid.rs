//! Linear frequency grids.

use crate::{validate, PeriodogramError};

/// Largest grid accepted: beyond this the frequency vector alone takes gigabytes, which is
/// always a mistake (e.g. a baseline in seconds with frequencies in cycles per day).
const MAX_FREQUENCIES: usize = 50_000_000;

/// `n` frequencies (cycles per day) equally spaced from `min_frequency` to `max_frequency`,
/// both included (`n == 1` is the single frequency `min_frequency`).
#[derive(Debug, Clone, PartialEq)]
pub struct FrequencyGrid {
    pub min_frequency: f64,
    pub max_frequency: f64,
    pub n: usize,
}

impl FrequencyGrid {
    /// Grid adapted to the sampling of `time` (days, sorted): from `f_min = 1/T` (`T` the
    /// baseline) to `max_frequency`, or when `None` to the "pseudo-Nyquist" frequency
    /// `0.5 / median(Δt)` (median over the positive spacings), with a step of at most
    /// `1/(oversampling · T)`. The number of frequencies is rounded up so that both ends are
    /// exact and the step is never coarser than asked.
    ///
    /// Errors: fewer than 3 times, non-finite or unsorted times, zero baseline, `oversampling`
    /// not finite and positive, `max_frequency` not finite or not above `1/T`, or a grid of
    /// more than 50 million frequencies.
    pub fn auto(
        time: &[f64],
        oversampling: f64,
        max_frequency: Option<f64>,
    ) -> Result<Self, PeriodogramError> {
        validate::times(time)?;
        if !(oversampling.is_finite() && oversampling > 0.0) {
            return Err(PeriodogramError::InvalidGrid(format!(
                "oversampling must be finite and > 0, got {oversampling}"
            )));
        }
        let baseline = time[time.len() - 1] - time[0];
        let min_frequency = 1.0 / baseline;
        let max_frequency = match max_frequency {
            Some(f) => f,
            None => 0.5 / median_positive_spacing(time),
        };
        if !(max_frequency.is_finite() && max_frequency > min_frequency) {
            return Err(PeriodogramError::InvalidGrid(format!(
                "maximum frequency {max_frequency} must be finite and above 1/T = {min_frequency}"
            )));
        }
        let step = 1.0 / (oversampling * baseline);
        let intervals = ((max_frequency - min_frequency) / step).ceil();
        if !(intervals < MAX_FREQUENCIES as f64) {
            return Err(too_large(intervals + 1.0));
        }
        let grid = Self {
            min_frequency,
            max_frequency,
            n: intervals as usize + 1,
        };
        grid.validate()?;
        Ok(grid)
    }

    /// `n` frequencies linear in frequency from `1/max_period` to `1/min_period`
    /// (periods in days, `0 < min_period < max_period`, `n >= 2`).
    pub fn from_periods(
        min_period: f64,
        max_period: f64,
        n: usize,
    ) -> Result<Self, PeriodogramError> {
        if !(min_period.is_finite() && max_period.is_finite() && 0.0 < min_period) {
            return Err(PeriodogramError::InvalidGrid(format!(
                "periods must be finite and > 0, got {min_period} and {max_period}"
            )));
        }
        if min_period >= max_period || n < 2 {
            return Err(PeriodogramError::InvalidGrid(format!(
                "need min_period < max_period and n >= 2, got {min_period}, {max_period}, n = {n}"
            )));
        }
        let grid = Self {
            min_frequency: 1.0 / max_period,
            max_frequency: 1.0 / min_period,
            n,
        };
        grid.validate()?;
        Ok(grid)
    }

    /// The frequencies, `min + k·(max − min)/(n − 1)`; the last one is exactly `max`.
    pub fn frequencies(&self) -> Vec<f64> {
        match self.n {
            0 => Vec::new(),
            1 => vec![self.min_frequency],
            n => {
                let step = self.step();
                let mut f: Vec<f64> = (0..n)
                    .map(|k| self.min_frequency + k as f64 * step)
                    .collect();
                f[n - 1] = self.max_frequency;
                f
            }
        }
    }

    /// Spacing between consecutive frequencies (0 for a single frequency).
    pub(crate) fn step(&self) -> f64 {
        if self.n < 2 {
            0.0
        } else {
            (self.max_frequency - self.min_frequency) / (self.n - 1) as f64
        }
    }

    /// The fields are public, so grids built by hand are checked before use.
    pub(crate) fn validate(&self) -> Result<(), PeriodogramError> {
        let (lo, hi) = (self.min_frequency, self.max_frequency);
        if !(lo.is_finite() && hi.is_finite() && lo > 0.0) {
            return Err(PeriodogramError::InvalidGrid(format!(
                "frequencies must be finite and > 0, got {lo} .. {hi}"
            )));
        }
        if self.n == 0 {
            return Err(PeriodogramError::InvalidGrid("n must be at least 1".into()));
        }
        if self.n > MAX_FREQUENCIES {
            return Err(too_large(self.n as f64));
        }
        if self.n > 1 && hi <= lo {
            return Err(PeriodogramError::InvalidGrid(format!(
                "max_frequency {hi} must exceed min_frequency {lo} when n > 1"
            )));
        }
        Ok(())
    }
}

fn too_large(n: f64) -> PeriodogramError {
    PeriodogramError::InvalidGrid(format!(
        "{n:.0} frequencies exceed the limit of {MAX_FREQUENCIES}"
    ))
}

/// Median of the positive gaps between sorted times (duplicates carry no sampling information).
/// At least one gap is positive because the baseline is.
fn median_positive_spacing(time: &[f64]) -> f64 {
    let mut gaps: Vec<f64> = time
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0.0)
        .collect();
    gaps.sort_by(f64::total_cmp);
    let m = gaps.len() / 2;
    if gaps.len() % 2 == 1 {
        gaps[m]
    } else {
        0.5 * (gaps[m - 1] + gaps[m])
    }
}
