//! Helpers shared by the test modules: order statistics and light-curve folding.

pub(crate) use crate::stats::{quantile, robust_peak_to_peak};

pub(crate) fn median(values: &[f64]) -> f64 {
    quantile(values, 0.5)
}

/// Fraction of the cycle spent brightening in a phase curve sampled on equal phase steps: from
/// the faintest (largest magnitude) point forward to the brightest (smallest magnitude) one.
pub(crate) fn rise_fraction(profile: &[f64]) -> f64 {
    let bins = profile.len();
    let faintest = (0..bins)
        .max_by(|&a, &b| profile[a].total_cmp(&profile[b]))
        .unwrap_or(0);
    let brightest = (0..bins)
        .min_by(|&a, &b| profile[a].total_cmp(&profile[b]))
        .unwrap_or(0);
    ((brightest + bins - faintest) % bins) as f64 / bins as f64
}

/// Least-squares Fourier series of `harmonics` terms at a known `period`, weighted by 1/err².
/// Returns the fitted magnitude offsets on `grid_points` equally spaced phases (phase zero at
/// t = 0), which is how survey pipelines measure shapes and amplitudes.
pub(crate) fn fitted_phase_curve(
    time: &[f64],
    mag: &[f64],
    err: &[f64],
    period: f64,
    harmonics: usize,
    grid_points: usize,
) -> Vec<f64> {
    let columns = 2 * harmonics + 1;
    let basis = |phase: f64| -> Vec<f64> {
        let mut row = vec![1.0];
        for k in 1..=harmonics {
            let angle = std::f64::consts::TAU * k as f64 * phase;
            row.push(angle.cos());
            row.push(angle.sin());
        }
        row
    };
    let mut normal = vec![vec![0.0; columns + 1]; columns];
    for ((&t, &m), &e) in time.iter().zip(mag).zip(err) {
        let row = basis(t / period - (t / period).floor());
        let weight = 1.0 / (e * e);
        for i in 0..columns {
            for j in 0..columns {
                normal[i][j] += weight * row[i] * row[j];
            }
            normal[i][columns] += weight * row[i] * m;
        }
    }
    let coefficients = solve_augmented(normal);
    (0..grid_points)
        .map(|i| {
            let row = basis(i as f64 / grid_points as f64);
            row.iter().zip(&coefficients).map(|(b, c)| b * c).sum()
        })
        .collect()
}

/// Gauss–Jordan elimination with partial pivoting on an augmented matrix.
fn solve_augmented(mut matrix: Vec<Vec<f64>>) -> Vec<f64> {
    let n = matrix.len();
    for column in 0..n {
        let pivot = (column..n)
            .max_by(|&a, &b| matrix[a][column].abs().total_cmp(&matrix[b][column].abs()))
            .unwrap_or(column);
        matrix.swap(column, pivot);
        let diagonal = matrix[column][column];
        if diagonal.abs() < 1e-300 {
            continue;
        }
        for entry in matrix[column].iter_mut() {
            *entry /= diagonal;
        }
        for row in 0..n {
            if row != column {
                let factor = matrix[row][column];
                let pivot_row = matrix[column].clone();
                for (entry, pivot_entry) in matrix[row].iter_mut().zip(pivot_row) {
                    *entry -= factor * pivot_entry;
                }
            }
        }
    }
    matrix.iter().map(|row| row[n]).collect()
}

#[cfg(test)]
mod test_support_tests {
    use super::*;

    #[test]
    fn fourier_fit_recovers_a_sawtooth_like_curve() {
        let period = 0.6;
        let time: Vec<f64> = (0..400).map(|i| i as f64 * 0.137).collect();
        let model = |t: f64| {
            let phase = std::f64::consts::TAU * t / period;
            0.4 * phase.cos() + 0.2 * (2.0 * phase + 4.0).cos()
        };
        let mag: Vec<f64> = time.iter().map(|&t| model(t)).collect();
        let fitted = fitted_phase_curve(&time, &mag, &vec![0.1; time.len()], period, 3, 100);
        for (i, value) in fitted.iter().enumerate() {
            assert!((value - model(i as f64 / 100.0 * period)).abs() < 1e-9);
        }
    }
}
