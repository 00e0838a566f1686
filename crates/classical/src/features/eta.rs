//! `eta`: the von Neumann ratio η = Σ(mᵢ₊₁ − mᵢ)² / ((N − 1) σ²) (von Neumann 1941; Kim et al.
//! 2014, FATS `Eta_e` without the time weighting). About 2 for uncorrelated noise, small for a
//! curve that varies slowly compared with its sampling.

pub fn eta(mag: &[f64]) -> f64 {
    let n = mag.len();
    let Some(sd) = lightcurve::stats::std_sample(mag) else { return f64::NAN };
    if sd == 0.0 {
        return f64::NAN;
    }
    let d2: f64 = mag.windows(2).map(|w| (w[1] - w[0]).powi(2)).sum();
    d2 / ((n - 1) as f64 * sd * sd)
}

#[cfg(test)]
mod tests {
    #[test]
    fn slow_trend_is_small_alternation_is_large() {
        let ramp: Vec<f64> = (0..200).map(|i| i as f64).collect();
        assert!(super::eta(&ramp) < 0.001);
        let alt: Vec<f64> = (0..200).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
        // Every step is 2, σ² = 200/199: η = 4·199/(199·200/199) ≈ 3.98.
        assert!((super::eta(&alt) - 4.0 * 199.0 / 200.0).abs() < 1e-9, "{}", super::eta(&alt));
        assert!(super::eta(&[1.0; 5]).is_nan());
    }
}
