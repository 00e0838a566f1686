//! Per-object random streams and the few distributions the simulator needs.
//!
//! Determinism contract (see `docs/simulation.md`):
//!
//! * Every object owns a ChaCha8 key derived only from `(survey seed, class name, index within
//!   class)`, so an object's output does not depend on how many other objects (or classes) a
//!   survey contains, nor on generation order.
//! * The key is expanded with splitmix64, which is pure integer arithmetic.
//! * Each concern (cadence, signal, noise) reads its own ChaCha stream of that key, so a change
//!   in how many numbers one concern consumes never shifts the numbers another concern sees.
//! * All samplers here are written out explicitly with `libm` transcendental functions instead
//!   of `rand_distr`, whose algorithms may change between versions and which call the platform
//!   `exp`/`ln`. Integer-to-float conversion and IEEE-754 `+ - * /` are exact/identical on every
//!   64-bit target, so the same key yields bit-identical samples everywhere.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The splitmix64 finaliser (Steele, Lea & Flood 2014), used both as a hash and as a generator.
pub(crate) fn splitmix64(state: u64) -> u64 {
    let mut z = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// 64-bit FNV-1a of the class name: a stable, dependency-free string hash.
pub(crate) fn class_name_hash(class_name: &str) -> u64 {
    const FNV_OFFSET_BASIS: u64 = 0xCBF2_9CE4_8422_2325;
    const FNV_PRIME: u64 = 0x0000_0100_0000_01B3;
    class_name.bytes().fold(FNV_OFFSET_BASIS, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME)
    })
}

/// The 32-byte ChaCha key of one object.
///
/// `h = splitmix64(splitmix64(splitmix64(seed) ^ fnv1a(class)) ^ index)`; the key is the four
/// little-endian words `splitmix64(h + k * 0x9E3779B97F4A7C15)` for `k = 0..4` (i.e. the first
/// four outputs of a splitmix64 generator started at `h`). Chained hashing (rather than one XOR
/// of all inputs) keeps `(seed, index)` pairs from colliding by cancellation.
pub(crate) fn object_key(survey_seed: u64, class_name: &str, index_in_class: u64) -> [u8; 32] {
    let mixed = splitmix64(
        splitmix64(splitmix64(survey_seed) ^ class_name_hash(class_name)) ^ index_in_class,
    );
    let mut key = [0u8; 32];
    for (word_index, chunk) in key.chunks_exact_mut(8).enumerate() {
        let word =
            splitmix64(mixed.wrapping_add((word_index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)));
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    key
}

/// The independent random streams of one object. The numeric values are part of the output
/// contract: renumbering them changes every generated curve.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Stream {
    Cadence = 1,
    Signal = 2,
    Noise = 3,
}

/// A ChaCha8 stream with the handful of distributions the simulator uses.
pub(crate) struct Draw {
    rng: ChaCha8Rng,
}

impl Draw {
    pub(crate) fn new(key: [u8; 32], stream: Stream) -> Self {
        let mut rng = ChaCha8Rng::from_seed(key);
        rng.set_stream(stream as u64);
        Self { rng }
    }

    /// Uniform on [0, 1) with 53 random bits.
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform on [low, high).
    pub(crate) fn uniform_in(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.uniform()
    }

    /// Log-uniform on [low, high); both bounds must be positive.
    pub(crate) fn log_uniform(&mut self, low: f64, high: f64) -> f64 {
        libm::exp(self.uniform_in(libm::log(low), libm::log(high)))
    }

    /// Integer uniform on the inclusive range [low, high].
    pub(crate) fn integer_in(&mut self, low: usize, high: usize) -> usize {
        if high <= low {
            return low;
        }
        let span = (high - low + 1) as f64;
        low + ((self.uniform() * span) as usize).min(high - low)
    }

    /// True with probability `probability`.
    pub(crate) fn chance(&mut self, probability: f64) -> bool {
        self.uniform() < probability
    }

    /// Standard normal by the Box–Muller transform (one variate per call; no cached state, so
    /// the stream position depends only on the number of calls).
    pub(crate) fn standard_normal(&mut self) -> f64 {
        // 1 - U lies in (0, 1], so the logarithm is finite.
        let radius_uniform = 1.0 - self.uniform();
        let angle_uniform = self.uniform();
        libm::sqrt(-2.0 * libm::log(radius_uniform))
            * libm::cos(std::f64::consts::TAU * angle_uniform)
    }

    pub(crate) fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        mean + sd * self.standard_normal()
    }

    /// Normal restricted to [low, high] by rejection; after a bounded number of tries the last
    /// draw is clamped, so the call always terminates even for a badly placed window.
    pub(crate) fn truncated_normal(&mut self, mean: f64, sd: f64, low: f64, high: f64) -> f64 {
        let mut value = mean;
        for _ in 0..64 {
            value = self.normal(mean, sd);
            if (low..=high).contains(&value) {
                return value;
            }
        }
        value.clamp(low, high)
    }

    /// exp(sigma * Z): a multiplicative scatter factor with median 1.
    pub(crate) fn lognormal_factor(&mut self, sigma: f64) -> f64 {
        libm::exp(sigma * self.standard_normal())
    }

    /// Index drawn with probability proportional to `weights` (all finite and >= 0).
    pub(crate) fn weighted_index(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut target = self.uniform() * total;
        for (index, weight) in weights.iter().enumerate() {
            if target < *weight {
                return index;
            }
            target -= weight;
        }
        weights.len().saturating_sub(1)
    }

    /// Uniform angle in [0, 2π).
    pub(crate) fn angle(&mut self) -> f64 {
        std::f64::consts::TAU * self.uniform()
    }
}

#[cfg(test)]
mod rng_tests {
    use super::*;

    #[test]
    fn splitmix64_matches_reference_values() {
        // Reference: the first outputs of splitmix64 seeded with 0 are
        // 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4 (Vigna's splitmix64.c).
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(0x9E37_79B9_7F4A_7C15), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn keys_differ_by_seed_class_and_index() {
        let base = object_key(7, "RRab", 3);
        assert_ne!(base, object_key(8, "RRab", 3));
        assert_ne!(base, object_key(7, "RRc", 3));
        assert_ne!(base, object_key(7, "RRab", 4));
        assert_eq!(base, object_key(7, "RRab", 3));
    }

    #[test]
    fn streams_are_independent_and_reproducible() {
        let key = object_key(1, "EC", 0);
        let a: Vec<f64> = {
            let mut draw = Draw::new(key, Stream::Cadence);
            (0..8).map(|_| draw.uniform()).collect()
        };
        let b: Vec<f64> = {
            let mut draw = Draw::new(key, Stream::Noise);
            (0..8).map(|_| draw.uniform()).collect()
        };
        let a_again: Vec<f64> = {
            let mut draw = Draw::new(key, Stream::Cadence);
            (0..8).map(|_| draw.uniform()).collect()
        };
        assert_ne!(a, b);
        assert_eq!(a, a_again);
    }

    #[test]
    fn normal_has_unit_variance() {
        let mut draw = Draw::new(object_key(3, "x", 0), Stream::Signal);
        let samples: Vec<f64> = (0..20_000).map(|_| draw.standard_normal()).collect();
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        let variance =
            samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / samples.len() as f64;
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((variance - 1.0).abs() < 0.05, "variance {variance}");
    }

    #[test]
    fn integer_in_covers_inclusive_range() {
        let mut draw = Draw::new(object_key(3, "x", 1), Stream::Signal);
        let mut seen = [false; 3];
        for _ in 0..200 {
            let value = draw.integer_in(3, 5);
            assert!((3..=5).contains(&value));
            seen[value - 3] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}
