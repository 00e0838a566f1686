//! Checks shared by the grid constructor and the periodogram.

use crate::PeriodogramError;

/// Times: at least 3, finite, non-decreasing, with a positive baseline.
pub(crate) fn times(time: &[f64]) -> Result<(), PeriodogramError> {
    if time.len() < 3 {
        return Err(PeriodogramError::TooFewPoints { n: time.len() });
    }
    finite("time", time)?;
    if let Some(i) = (1..time.len()).find(|&i| time[i] < time[i - 1]) {
        return Err(PeriodogramError::UnsortedTime { index: i });
    }
    if time[time.len() - 1] <= time[0] {
        return Err(PeriodogramError::ZeroBaseline);
    }
    Ok(())
}

/// A full light curve: times as above, magnitudes (and uncertainties) parallel and valid.
pub(crate) fn series(
    time: &[f64],
    mag: &[f64],
    err: Option<&[f64]>,
) -> Result<(), PeriodogramError> {
    same_len("mag", time, mag)?;
    if let Some(e) = err {
        same_len("err", time, e)?;
    }
    times(time)?;
    finite("mag", mag)?;
    if let Some(e) = err {
        if let Some(i) = e.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(PeriodogramError::InvalidError {
                index: i,
                value: e[i],
            });
        }
    }
    Ok(())
}

fn same_len(what: &'static str, time: &[f64], other: &[f64]) -> Result<(), PeriodogramError> {
    if other.len() != time.len() {
        return Err(PeriodogramError::LengthMismatch {
            what,
            expected: time.len(),
            found: other.len(),
        });
    }
    Ok(())
}

fn finite(what: &'static str, v: &[f64]) -> Result<(), PeriodogramError> {
    match v.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(PeriodogramError::NonFinite { what, index }),
        None => Ok(()),
    }
}
