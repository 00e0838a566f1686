//! Values of the power: range, normalisation, invariances, agreement with a direct fit.

mod common;

use common::{random_times, sinusoid, Rng};
use periodogram::{lomb_scargle, FrequencyGrid, Periodogram};

/// Reference: `1 − χ²/χ²₀` of the weighted least-squares fit of `a cos + b sin + c` at `f`,
/// solved directly (normal equations, Cramer's rule) without any of the crate's algebra.
fn direct_power(t: &[f64], y: &[f64], w: &[f64], f: f64) -> f64 {
    let tau = std::f64::consts::TAU;
    let basis = |t: f64| [(tau * f * t).cos(), (tau * f * t).sin(), 1.0];
    let mut a = [[0.0; 3]; 3];
    let mut b = [0.0; 3];
    for ((&t, &y), &w) in t.iter().zip(y).zip(w) {
        let x = basis(t);
        for r in 0..3 {
            b[r] += w * x[r] * y;
            for c in 0..3 {
                a[r][c] += w * x[r] * x[c];
            }
        }
    }
    let det = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(a);
    let coef: Vec<f64> = (0..3)
        .map(|k| {
            let mut m = a;
            for r in 0..3 {
                m[r][k] = b[r];
            }
            det(m) / d
        })
        .collect();
    let wsum: f64 = w.iter().sum();
    let mean = t.iter().zip(y).zip(w).map(|((_, y), w)| w * y).sum::<f64>() / wsum;
    let (mut chi2, mut chi2_0) = (0.0, 0.0);
    for ((&t, &y), &w) in t.iter().zip(y).zip(w) {
        let x = basis(t);
        let model: f64 = (0..3).map(|k| coef[k] * x[k]).sum();
        chi2 += w * (y - model).powi(2);
        chi2_0 += w * (y - mean).powi(2);
    }
    1.0 - chi2 / chi2_0
}

fn at(pg: &Periodogram, f: f64) -> f64 {
    let k = pg
        .frequency
        .iter()
        .position(|&g| (g - f).abs() < 1e-12)
        .unwrap();
    pg.power[k]
}

#[test]
fn matches_direct_weighted_least_squares() {
    let mut rng = Rng::new(11);
    let t = random_times(&mut rng, 80, 100.0, 300.0);
    let y = sinusoid(&mut rng, &t, 3.3, 0.4, 0.3);
    let err: Vec<f64> = t.iter().map(|_| 0.05 + 0.3 * rng.uniform()).collect();
    let w: Vec<f64> = err.iter().map(|s| 1.0 / (s * s)).collect();
    // Long grid: the last frequencies are many recurrence steps past the last re-seed.
    let grid = FrequencyGrid {
        min_frequency: 0.01,
        max_frequency: 2.0,
        n: 20_000,
    };
    let pg = lomb_scargle(&t, &y, Some(&err), &grid).unwrap();
    for k in [0, 1, 511, 512, 1023, 7777, 19_998, 19_999] {
        let f = pg.frequency[k];
        let want = direct_power(&t, &y, &w, f);
        assert!(
            (pg.power[k] - want).abs() < 1e-9,
            "k = {k}, f = {f}: {} vs {want}",
            pg.power[k]
        );
    }
}

#[test]
fn noiseless_sinusoid_has_unit_power_at_its_frequency() {
    // Hand-checkable: y = 2 + sin(2π t / 4) exactly, 7 irregular times.
    let t = [0.0, 0.9, 1.7, 3.1, 4.4, 6.0, 8.3];
    let y: Vec<f64> = t
        .iter()
        .map(|t: &f64| 2.0 + (std::f64::consts::TAU * t / 4.0).sin())
        .collect();
    let grid = FrequencyGrid {
        min_frequency: 0.05,
        max_frequency: 0.45,
        n: 9,
    }; // 0.05, 0.10, ..., 0.45 contains 0.25 = 1/4.
    let pg = lomb_scargle(&t, &y, None, &grid).unwrap();
    assert!((at(&pg, 0.25) - 1.0).abs() < 1e-12, "{:?}", pg.power);
    assert_eq!(pg.best_frequency(), pg.frequency[4]);
    assert!((pg.best_period() - 4.0).abs() < 1e-12);
}

#[test]
fn power_is_in_unit_interval_and_grid_is_kept() {
    let mut rng = Rng::new(12);
    let t = random_times(&mut rng, 300, 0.0, 1000.0);
    let y = sinusoid(&mut rng, &t, 0.7, 0.3, 0.2);
    let grid = FrequencyGrid::auto(&t, 5.0, Some(3.0)).unwrap();
    let pg = lomb_scargle(&t, &y, None, &grid).unwrap();
    assert_eq!(pg.frequency, grid.frequencies());
    assert_eq!(pg.power.len(), grid.n);
    assert!(pg.power.iter().all(|p| (0.0..=1.0).contains(p)));
}

#[test]
fn invariant_to_time_shift_magnitude_offset_and_uniform_errors() {
    let mut rng = Rng::new(13);
    let t = random_times(&mut rng, 200, 0.0, 500.0);
    let y = sinusoid(&mut rng, &t, 5.5, 0.3, 0.1);
    let grid = FrequencyGrid::auto(&t, 10.0, Some(2.0)).unwrap();
    let base = lomb_scargle(&t, &y, None, &grid).unwrap().power;

    let shifted: Vec<f64> = t.iter().map(|t| t + 58_000.0).collect();
    let offset: Vec<f64> = y.iter().map(|y| y - 7.0).collect();
    let uniform = vec![0.37; t.len()];
    let variants = [
        lomb_scargle(&shifted, &y, None, &grid).unwrap().power,
        lomb_scargle(&t, &offset, None, &grid).unwrap().power,
        lomb_scargle(&t, &y, Some(&uniform), &grid).unwrap().power,
    ];
    for v in variants {
        let worst = base
            .iter()
            .zip(&v)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-8, "max difference {worst}");
    }
}

#[test]
fn duplicate_times_are_allowed() {
    let t = [0.0, 1.0, 1.0, 2.5, 4.0, 4.0, 7.0];
    let y = [1.0, 2.0, 2.1, 0.5, 1.5, 1.4, 0.9];
    let grid = FrequencyGrid::auto(&t, 5.0, None).unwrap();
    let pg = lomb_scargle(&t, &y, None, &grid).unwrap();
    assert!(pg.power.iter().all(|p| (0.0..=1.0).contains(p)));
}

#[test]
fn best_frequency_edge_cases() {
    let empty = Periodogram {
        frequency: vec![],
        power: vec![],
    };
    assert!(empty.best_frequency().is_nan());
    let tie = Periodogram {
        frequency: vec![1.0, 2.0, 3.0],
        power: vec![0.5, f64::NAN, 0.5],
    };
    assert_eq!(tie.best_frequency(), 1.0);
    assert_eq!(tie.best_period(), 1.0);
}
