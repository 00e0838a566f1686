//! `stetson_k`: Stetson's (1996) kurtosis-like index, FATS `StetsonK`:
//! K = (1/N) Σ|δᵢ| / sqrt((1/N) Σ δᵢ²), δᵢ = sqrt(N/(N−1)) · (mᵢ − m̄)/σᵢ with the error-weighted
//! mean m̄. Independent of the δ scale: 2√2/π ≈ 0.900 for a sinusoid, sqrt(2/π) ≈ 0.798 for
//! Gaussian noise, 1 for a square wave.

pub fn stetson_k(mag: &[f64], err: &[f64]) -> f64 {
    let n = mag.len() as f64;
    if mag.len() < 2 {
        return f64::NAN;
    }
    let w: Vec<f64> = err.iter().map(|e| 1.0 / (e * e)).collect();
    let wsum: f64 = w.iter().sum();
    let mean = mag.iter().zip(&w).map(|(m, w)| m * w).sum::<f64>() / wsum;
    let c = (n / (n - 1.0)).sqrt();
    let d: Vec<f64> = mag.iter().zip(err).map(|(m, e)| c * (m - mean) / e).collect();
    let rms = (d.iter().map(|x| x * x).sum::<f64>() / n).sqrt();
    if rms == 0.0 {
        return f64::NAN;
    }
    d.iter().map(|x| x.abs()).sum::<f64>() / n / rms
}

#[cfg(test)]
mod tests {
    #[test]
    fn sinusoid_and_square_wave() {
        let (_, m, e) = crate::features::testing::sinusoid(8000, 3.1, 0.4);
        let k = super::stetson_k(&m, &e);
        assert!((k - 2.0 * 2f64.sqrt() / std::f64::consts::PI).abs() < 0.01, "{k}");
        let sq: Vec<f64> = (0..100).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
        assert!((super::stetson_k(&sq, &[0.1; 100]) - 1.0).abs() < 1e-9);
    }
}
