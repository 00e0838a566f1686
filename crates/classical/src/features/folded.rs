//! Features of the curve folded at its best period (Kim et al. 2014; Richards et al. 2011):
//!
//! - `folded_amplitude`: peak-to-peak of the medians of `bins` equal phase bins (empty bins
//!   skipped): the amplitude of the periodic signal, robust to outliers. For a densely sampled
//!   sinusoid of semi-amplitude A it lies between 2A·cos(π/bins) and 2A.
//! - `folded_eta`: the von Neumann ratio of the magnitudes in phase order (`eta` of the folded
//!   curve; Kim et al. 2014 `Psi_eta`): small when the folded curve is smooth (a real period),
//!   about 2 when folding leaves noise.

use super::eta::eta;

/// Magnitudes in phase order.
fn phase_ordered(time: &[f64], mag: &[f64], period: f64) -> (Vec<f64>, Vec<f64>) {
    let phase = periodogram::fold(time, period, time.first().copied().unwrap_or(0.0));
    let mut idx: Vec<usize> = (0..mag.len()).collect();
    idx.sort_by(|&a, &b| phase[a].total_cmp(&phase[b]).then(a.cmp(&b)));
    (idx.iter().map(|&i| phase[i]).collect(), idx.iter().map(|&i| mag[i]).collect())
}

pub fn folded_amplitude(time: &[f64], mag: &[f64], period: f64, bins: usize) -> f64 {
    let bins = bins.max(1);
    let (phase, m) = phase_ordered(time, mag, period);
    let mut groups: Vec<Vec<f64>> = vec![Vec::new(); bins];
    for (p, v) in phase.iter().zip(&m) {
        let b = ((p * bins as f64) as usize).min(bins - 1);
        groups[b].push(*v);
    }
    let medians: Vec<f64> = groups.iter().filter_map(|g| lightcurve::stats::median(g)).collect();
    let hi = medians.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lo = medians.iter().copied().fold(f64::INFINITY, f64::min);
    if medians.is_empty() {
        f64::NAN
    } else {
        hi - lo
    }
}

pub fn folded_eta(time: &[f64], mag: &[f64], period: f64) -> f64 {
    eta(&phase_ordered(time, mag, period).1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_at_the_true_period_is_smooth_and_gives_the_amplitude() {
        let (t, m, _) = crate::features::testing::sinusoid(2000, 4.2, 0.5);
        // Medians of 20 phase bins: the extreme bins sit within π/20 of the peaks, so the
        // peak-to-peak is between 2A·cos(π/20) ≈ 0.988 and 2A = 1.0.
        let amp = folded_amplitude(&t, &m, 4.2, 20);
        assert!(amp > 0.98 && amp <= 1.0 + 1e-9, "{amp}");
        let smooth = folded_eta(&t, &m, 4.2);
        let wrong = folded_eta(&t, &m, 4.2 * 1.37);
        assert!(smooth < 0.01, "{smooth}");
        assert!(wrong > 0.5, "{wrong}");
    }
}
