//! Frequency grids, phase folding and input errors.

use periodogram::{best_period, fold, lomb_scargle, FrequencyGrid, PeriodogramError as E};

#[test]
fn auto_grid_follows_baseline_and_sampling() {
    // Baseline 10 d, spacings 1, 1, 2, 2, 4 → median 2 → pseudo-Nyquist 0.25 c/d.
    let t = [0.0, 1.0, 2.0, 4.0, 6.0, 10.0];
    let g = FrequencyGrid::auto(&t, 4.0, None).unwrap();
    assert_eq!(g.min_frequency, 0.1);
    assert_eq!(g.max_frequency, 0.25);
    // Step 1/(4·10) = 0.025 → (0.25 − 0.1)/0.025 = 6 intervals.
    assert_eq!(g.n, 7);
    let f = g.frequencies();
    assert_eq!(f.len(), 7);
    assert_eq!(f[0], 0.1);
    assert_eq!(f[6], 0.25);
    assert!((f[1] - 0.125).abs() < 1e-15);

    // An explicit maximum that is not a whole number of steps rounds n up (finer step).
    let g = FrequencyGrid::auto(&t, 4.0, Some(0.26)).unwrap();
    assert_eq!((g.max_frequency, g.n), (0.26, 8));
    assert!((g.max_frequency - g.min_frequency) / (g.n - 1) as f64 <= 0.025);
}

#[test]
fn grid_from_periods() {
    let g = FrequencyGrid::from_periods(0.5, 10.0, 5).unwrap();
    assert_eq!(g.min_frequency, 0.1);
    assert_eq!(g.max_frequency, 2.0);
    let f = g.frequencies();
    assert_eq!(f, vec![0.1, 0.575, 1.05, 1.525, 2.0]);
    assert!(FrequencyGrid::from_periods(10.0, 0.5, 5).is_err());
    assert!(FrequencyGrid::from_periods(0.0, 1.0, 5).is_err());
    assert!(FrequencyGrid::from_periods(0.5, f64::INFINITY, 5).is_err());
    assert!(FrequencyGrid::from_periods(0.5, 1.0, 1).is_err());
}

#[test]
fn grid_errors() {
    let t = [0.0, 1.0, 2.0, 4.0];
    assert!(matches!(
        FrequencyGrid::auto(&t[..2], 5.0, None),
        Err(E::TooFewPoints { n: 2 })
    ));
    assert!(matches!(
        FrequencyGrid::auto(&[1.0; 4], 5.0, None),
        Err(E::ZeroBaseline)
    ));
    assert!(matches!(
        FrequencyGrid::auto(&[0.0, 2.0, 1.0], 5.0, None),
        Err(E::UnsortedTime { index: 2 })
    ));
    assert!(matches!(
        FrequencyGrid::auto(&t, 0.0, None),
        Err(E::InvalidGrid(_))
    ));
    assert!(matches!(
        FrequencyGrid::auto(&t, f64::NAN, None),
        Err(E::InvalidGrid(_))
    ));
    // Maximum below 1/T.
    assert!(matches!(
        FrequencyGrid::auto(&t, 5.0, Some(0.1)),
        Err(E::InvalidGrid(_))
    ));
    // Absurdly many frequencies.
    assert!(matches!(
        FrequencyGrid::auto(&t, 1e12, Some(100.0)),
        Err(E::InvalidGrid(_))
    ));
    // Hand-built grids are checked by lomb_scargle.
    let y = [1.0, 2.0, 1.5, 0.5];
    for bad in [
        FrequencyGrid {
            min_frequency: 0.0,
            max_frequency: 1.0,
            n: 10,
        },
        FrequencyGrid {
            min_frequency: 0.1,
            max_frequency: 1.0,
            n: 0,
        },
        FrequencyGrid {
            min_frequency: 1.0,
            max_frequency: 0.5,
            n: 10,
        },
        FrequencyGrid {
            min_frequency: 0.1,
            max_frequency: f64::NAN,
            n: 10,
        },
    ] {
        assert!(
            matches!(lomb_scargle(&t, &y, None, &bad), Err(E::InvalidGrid(_))),
            "{bad:?}"
        );
    }
    // A single frequency is a valid grid.
    let one = FrequencyGrid {
        min_frequency: 0.3,
        max_frequency: 0.3,
        n: 1,
    };
    assert_eq!(one.frequencies(), vec![0.3]);
    assert_eq!(lomb_scargle(&t, &y, None, &one).unwrap().power.len(), 1);
}

#[test]
fn input_errors() {
    let t = [0.0, 1.0, 2.0, 4.0];
    let y = [1.0, 2.0, 1.5, 0.5];
    let g = FrequencyGrid::auto(&t, 5.0, Some(1.0)).unwrap();
    let ls = |t: &[f64], y: &[f64], e: Option<&[f64]>| lomb_scargle(t, y, e, &g).unwrap_err();

    assert!(matches!(
        ls(&t, &y[..3], None),
        E::LengthMismatch {
            what: "mag",
            expected: 4,
            found: 3
        }
    ));
    assert!(matches!(
        ls(&t, &y, Some(&[1.0; 3])),
        E::LengthMismatch { what: "err", .. }
    ));
    assert!(matches!(
        ls(&t[..2], &y[..2], None),
        E::TooFewPoints { n: 2 }
    ));
    assert!(matches!(
        ls(&[0.0, f64::NAN, 2.0, 4.0], &y, None),
        E::NonFinite {
            what: "time",
            index: 1
        }
    ));
    assert!(matches!(
        ls(&t, &[1.0, 2.0, f64::INFINITY, 0.5], None),
        E::NonFinite {
            what: "mag",
            index: 2
        }
    ));
    assert!(matches!(
        ls(&[0.0, 2.0, 1.0, 4.0], &y, None),
        E::UnsortedTime { index: 2 }
    ));
    assert!(matches!(ls(&[3.0; 4], &y, None), E::ZeroBaseline));
    assert!(matches!(
        ls(&t, &y, Some(&[1.0, 0.0, 1.0, 1.0])),
        E::InvalidError { index: 1, .. }
    ));
    assert!(matches!(
        ls(&t, &y, Some(&[1.0, 1.0, -1.0, 1.0])),
        E::InvalidError { index: 2, .. }
    ));
    assert!(matches!(
        ls(&t, &y, Some(&[1.0, 1.0, 1.0, f64::NAN])),
        E::InvalidError { index: 3, .. }
    ));
    assert!(matches!(ls(&t, &[2.0; 4], None), E::ConstantMagnitude));
    assert!(matches!(
        best_period(&t, &y[..3], None, None),
        Err(E::LengthMismatch { .. })
    ));

    // Messages are readable.
    assert_eq!(
        ls(&[0.0, 2.0, 1.0, 4.0], &y, None).to_string(),
        "time is not sorted: time[2] < time[1]"
    );
    assert_eq!(
        ls(&t, &y, Some(&[1.0, 0.0, 1.0, 1.0])).to_string(),
        "err[1] = 0 must be finite and > 0"
    );
}

#[test]
fn tiny_errors_do_not_overflow_weights() {
    let t = [0.0, 1.0, 2.0, 4.0, 5.5];
    let y = [1.0, 2.0, 1.5, 0.5, 1.1];
    let g = FrequencyGrid::auto(&t, 5.0, Some(1.0)).unwrap();
    let tiny = [1e-200; 5];
    let a = lomb_scargle(&t, &y, Some(&tiny), &g).unwrap();
    let b = lomb_scargle(&t, &y, None, &g).unwrap();
    assert!(a
        .power
        .iter()
        .zip(&b.power)
        .all(|(a, b)| (a - b).abs() < 1e-12));
}

#[test]
fn fold_phases() {
    let (p, t0) = (0.7, 58_000.123);
    let t: Vec<f64> = (0..2000).map(|i| 57_000.0 + 1.37 * i as f64).collect();
    let ph = fold(&t, p, t0);
    assert_eq!(ph.len(), t.len());
    assert!(ph.iter().all(|x| (0.0..1.0).contains(x)));

    // Whole cycles from the epoch, before and after it, fold to exactly 0.
    let cycles: Vec<f64> = (-500..500).map(|k| t0 + k as f64 * p).collect();
    assert!(fold(&cycles, p, t0).iter().all(|&x| x == 0.0));

    // Half and quarter cycles.
    let ph = fold(&[1.0 + 0.35, 1.0 + 0.175, 1.0 - 0.175], 0.7, 1.0);
    assert!((ph[0] - 0.5).abs() < 1e-12);
    assert!((ph[1] - 0.25).abs() < 1e-12);
    assert!((ph[2] - 0.75).abs() < 1e-12);
}

#[test]
fn fold_invalid_inputs_give_nan() {
    assert!(fold(&[1.0, 2.0], 0.0, 0.0).iter().all(|x| x.is_nan()));
    assert!(fold(&[1.0, 2.0], -1.0, 0.0).iter().all(|x| x.is_nan()));
    assert!(fold(&[1.0, 2.0], f64::NAN, 0.0).iter().all(|x| x.is_nan()));
    assert!(fold(&[1.0], 1.0, f64::INFINITY)[0].is_nan());
    let ph = fold(&[f64::NAN, 0.5], 1.0, 0.0);
    assert!(ph[0].is_nan());
    assert_eq!(ph[1], 0.5);
    assert!(fold(&[], 1.0, 0.0).is_empty());
}
