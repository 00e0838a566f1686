//! Seeded test data: a SplitMix64 generator (no dependency needed for a few hundred draws).
#![allow(dead_code)]

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform();
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// `n` sorted random times in `[t0, t0 + span)`.
pub fn random_times(rng: &mut Rng, n: usize, t0: f64, span: f64) -> Vec<f64> {
    let mut t: Vec<f64> = (0..n).map(|_| t0 + span * rng.uniform()).collect();
    t.sort_by(f64::total_cmp);
    t
}

/// `mean + amp·sin(2πt/P + φ) + σ·N(0,1)` at each time.
pub fn sinusoid(rng: &mut Rng, t: &[f64], period: f64, amp: f64, noise: f64) -> Vec<f64> {
    t.iter()
        .map(|t| {
            15.0 + amp * (std::f64::consts::TAU * t / period + 0.3).sin() + noise * rng.normal()
        })
        .collect()
}

pub fn rel_err(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}
