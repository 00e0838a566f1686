//! StarCLR's preprocessing of one light curve: sigma clipping (the paper: 5σ for TESS, 3σ for
//! ZTF and Gaia), magnitudes to flux with 10^(−0.4 m), and flux scaled as (f − p5) / (p95 − p5).
//! Choices where the paper is silent: one clipping pass around the mean with the population
//! standard deviation; percentiles by linear interpolation between order statistics (numpy's
//! default); a curve whose p95 equals its p5 is only shifted (all zeros), not divided by zero.

use crate::StarClrError;

/// A curve ready to tokenise: times and scaled fluxes of the kept observations.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocessed {
    pub time: Vec<f64>,
    pub flux: Vec<f64>,
    /// Observations removed by the clipping.
    pub clipped: usize,
}

/// Percentile `q` ∈ [0, 100] of sorted values, linear between order statistics.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = q / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
}

/// Preprocesses the curve `object` (times ascending, magnitudes) with a `sigma`-σ clip.
pub fn preprocess(object: &str, time: &[f64], mag: &[f64], sigma: f64) -> Result<Preprocessed, StarClrError> {
    let bad = |problem: String| Err(StarClrError::BadCurve { object: object.to_string(), problem });
    if time.len() != mag.len() {
        return bad(format!("{} times but {} magnitudes", time.len(), mag.len()));
    }
    if time.is_empty() {
        return bad("no observations".into());
    }
    if let Some(i) = (0..time.len()).find(|&i| !time[i].is_finite() || !mag[i].is_finite()) {
        return bad(format!("observation {i} is not finite (time {}, magnitude {})", time[i], mag[i]));
    }
    if let Some(i) = (1..time.len()).find(|&i| time[i] <= time[i - 1]) {
        return bad(format!("times not strictly increasing at observation {i} ({} after {})", time[i], time[i - 1]));
    }
    if !(sigma.is_finite() && sigma > 0.0) {
        return Err(StarClrError::Settings(format!("sigma {sigma} must be finite and > 0")));
    }
    let n = mag.len() as f64;
    let mean = mag.iter().sum::<f64>() / n;
    let sd = (mag.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / n).sqrt();
    let keep: Vec<usize> = (0..mag.len()).filter(|&i| (mag[i] - mean).abs() <= sigma * sd).collect();
    let flux: Vec<f64> = keep.iter().map(|&i| 10f64.powf(-0.4 * mag[i])).collect();
    let mut sorted = flux.clone();
    sorted.sort_by(f64::total_cmp);
    let (p5, p95) = (percentile(&sorted, 5.0), percentile(&sorted, 95.0));
    let span = if p95 > p5 { p95 - p5 } else { 1.0 };
    Ok(Preprocessed {
        time: keep.iter().map(|&i| time[i]).collect(),
        flux: flux.iter().map(|f| (f - p5) / span).collect(),
        clipped: mag.len() - keep.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_like_numpy() {
        let v: Vec<f64> = (1..=11).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 6.0);
        assert!((percentile(&v, 5.0) - 1.5).abs() < 1e-12);
        assert!((percentile(&v, 95.0) - 10.5).abs() < 1e-12);
    }

    #[test]
    fn an_outlier_is_clipped_and_the_flux_scaled_between_the_percentiles() {
        let time: Vec<f64> = (0..41).map(f64::from).collect();
        let mut mag: Vec<f64> = (0..41).map(|i| 15.0 + 0.1 * ((i as f64) * 0.7).sin()).collect();
        mag[20] = 25.0;
        let out = preprocess("star-1", &time, &mag, 3.0).unwrap();
        assert_eq!(out.clipped, 1);
        assert!(!out.time.contains(&20.0));
        let mut sorted = out.flux.clone();
        sorted.sort_by(f64::total_cmp);
        assert!(percentile(&sorted, 5.0).abs() < 1e-9 && (percentile(&sorted, 95.0) - 1.0).abs() < 1e-9);
        // Brighter (smaller magnitude) is more flux.
        let (i, j) = (0, 2);
        assert_eq!(mag[i] < mag[j], out.flux[i] > out.flux[j]);
        // The outlier lies about 6.3σ from the mean (σ inflated by itself): a 7σ clip keeps it.
        assert_eq!(preprocess("star-1", &time, &mag, 7.0).unwrap().clipped, 0);
    }

    #[test]
    fn bad_curves_name_the_object_and_the_problem() {
        let e = preprocess("obj-7", &[0.0, 1.0], &[15.0, f64::NAN], 3.0).unwrap_err().to_string();
        assert!(e.contains("obj-7") && e.contains("not finite"), "{e}");
        let e = preprocess("obj-8", &[1.0, 1.0], &[15.0, 15.1], 3.0).unwrap_err().to_string();
        assert!(e.contains("obj-8") && e.contains("increasing"), "{e}");
        assert!(preprocess("obj-9", &[], &[], 3.0).unwrap_err().to_string().contains("no observations"));
        // A constant curve is shifted to zeros, not divided by zero.
        let flat = preprocess("flat", &[0.0, 1.0, 2.0], &[15.0; 3], 3.0).unwrap();
        assert_eq!(flat.flux, vec![0.0; 3]);
    }
}
