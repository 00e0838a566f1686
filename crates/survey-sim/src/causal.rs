//! The star × instrument simulator of "Causal Foundation Models: Disentangling Physics from
//! Instrument Properties" (ICML 2025 workshop; issue 16): every observation is one star seen
//! through one instrument, so "same star, other instrument" and "same instrument, other star"
//! pairs exist by construction.
//!
//! The paper's equations, for observation n of star s through instrument m at time step t:
//!
//! ```text
//! F_obs(t)    = clip₍₋₁,₁₎( S_m(t) · F_true(t) + O_m(t) ) + ε,        ε ~ N(0, noise_sd²)
//! F_true(t)   = Re[ Σ_{k=1}^{K−1} θ_{s,k} · e^{iφ_{n,k−1}} / k^α · e^{i2πkt/L_s} ],  L_s = T · e^{θ_{s,0}} · λ
//! S_m(t)      = 1 + modulation · Re[ Σ_{j=0}^{M−1} β_{m,j} e^{iπjt/T} ]
//! O_m(t)      =     modulation · Re[ Σ_{j=0}^{M−1} γ_{m,j} e^{iπjt/T} ]
//! ```
//!
//! with modulation 0.05 and noise_sd 0.03 in the paper. What the paper leaves open is a field of
//! [`CausalSpec`] (docs/simulation.md, "Star × instrument simulator"): the distributions of θ
//! (θ₀ uniform, the harmonic amplitudes normal), α, λ, the per-observation phases (uniform), the
//! number M of instrument terms (not the number of instruments), real β and γ, and the time grid
//! t = 0, 1, …, T − 1.
//!
//! Determinism follows the survey simulator's contract (`rng.rs`): a star's parameters depend only
//! on (seed, star index), an instrument's on (seed, instrument index), an observation's phases and
//! noise on (seed, observation index); observation n shows star n mod n_stars, the r-th
//! observation of a star (r = n div n_stars) goes through instrument perm_s[r mod n_instruments],
//! perm_s being a per-star random permutation. So a star's first min(repeats, instruments)
//! observations use distinct instruments, and a spec with more observations extends a smaller one
//! without changing its observations.

use serde::{Deserialize, Serialize};

use crate::rng::{object_key, Draw, Stream};
use crate::SimError;

/// Identifies this generative model; bump whenever any output changes for some spec.
pub const CAUSAL_GENERATOR_VERSION: &str = "causal-sim/1";

/// What to simulate. Field names follow the paper's symbols where it has them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CausalSpec {
    pub seed: u64,
    pub n_stars: usize,
    pub n_instruments: usize,
    pub n_observations: usize,
    /// T: samples per light curve.
    pub n_steps: usize,
    /// K: stellar parameters θ₀ … θ_{K−1} (θ₀ sets the period, the others the K − 1 harmonics).
    pub n_star_params: usize,
    /// M: Fourier terms of each instrument's scale S_m and offset O_m.
    pub instrument_terms: usize,
    /// α: harmonic k's amplitude falls as 1/k^α.
    pub alpha: f64,
    /// λ: period scale, L_s = T · e^{θ₀} · λ.
    pub lambda: f64,
    /// θ₀ ~ U[theta0_low, theta0_high).
    pub theta0_low: f64,
    pub theta0_high: f64,
    /// θ_k ~ N(0, amplitude_sd²) for k ≥ 1.
    pub amplitude_sd: f64,
    /// Scale of S_m − 1 and of O_m (the paper: 0.05).
    pub modulation: f64,
    /// σ of the additive Gaussian noise ε (the paper: 0.03).
    pub noise_sd: f64,
}

impl CausalSpec {
    /// The paper's sizes (40,000 curves of 2,000 stars through 17 instruments, T = 100, K = 13)
    /// with this crate's choices for what the paper leaves open: α = 1, λ = 0.25, θ₀ ~ U[−1, 1)
    /// (periods of 9–68 steps, 1.5–11 cycles per curve), θ_k ~ N(0, 0.5²) (the noise-free signal
    /// has a standard deviation of about 0.44, so clipping at ±1 is rare), M = 4.
    pub fn paper(seed: u64) -> Self {
        Self {
            seed,
            n_stars: 2000,
            n_instruments: 17,
            n_observations: 40_000,
            n_steps: 100,
            n_star_params: 13,
            instrument_terms: 4,
            alpha: 1.0,
            lambda: 0.25,
            theta0_low: -1.0,
            theta0_high: 1.0,
            amplitude_sd: 0.5,
            modulation: 0.05,
            noise_sd: 0.03,
        }
    }

    /// The paper's choices at other sizes (e.g. for the smoke and small profiles).
    pub fn sized(seed: u64, n_stars: usize, n_instruments: usize, n_observations: usize) -> Self {
        Self { n_stars, n_instruments, n_observations, ..Self::paper(seed) }
    }

    /// The time grid t = 0, 1, …, T − 1.
    pub fn time_grid(&self) -> Vec<f64> {
        (0..self.n_steps).map(|t| t as f64).collect()
    }

    fn validate(&self) -> Result<(), SimError> {
        let bad = |field: &'static str, reason: String| Err(SimError::InvalidCausalSpec { field, reason });
        for (field, value) in [
            ("n_stars", self.n_stars),
            ("n_instruments", self.n_instruments),
            ("n_observations", self.n_observations),
            ("instrument_terms", self.instrument_terms),
        ] {
            if value == 0 {
                return bad(field, "must be at least 1".into());
            }
        }
        if self.n_steps < 2 {
            return bad("n_steps", format!("{} samples per curve; need at least 2", self.n_steps));
        }
        if self.n_star_params < 2 {
            return bad("n_star_params", format!("K = {}; need θ₀ and at least one harmonic (K ≥ 2)", self.n_star_params));
        }
        for (field, value) in [
            ("alpha", self.alpha),
            ("theta0_low", self.theta0_low),
            ("theta0_high", self.theta0_high),
            ("amplitude_sd", self.amplitude_sd),
            ("modulation", self.modulation),
            ("noise_sd", self.noise_sd),
        ] {
            if !value.is_finite() {
                return bad(field, format!("{value} is not finite"));
            }
        }
        if !(self.lambda.is_finite() && self.lambda > 0.0) {
            return bad("lambda", format!("{}; must be finite and > 0", self.lambda));
        }
        if self.theta0_low >= self.theta0_high {
            return bad("theta0_low", format!("[{}, {}) is empty", self.theta0_low, self.theta0_high));
        }
        for (field, value) in [("amplitude_sd", self.amplitude_sd), ("modulation", self.modulation), ("noise_sd", self.noise_sd)] {
            if value < 0.0 {
                return bad(field, format!("{value} is negative"));
            }
        }
        Ok(())
    }
}

/// One star: θ₀ … θ_{K−1}.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CausalStar {
    pub theta: Vec<f64>,
}

impl CausalStar {
    /// θ₀, the regression target of the paper's Fig. 3.
    pub fn theta0(&self) -> f64 {
        self.theta[0]
    }

    /// L_s = T · e^{θ₀} · λ, in time steps.
    pub fn period(&self, spec: &CausalSpec) -> f64 {
        spec.n_steps as f64 * libm::exp(self.theta[0]) * spec.lambda
    }
}

/// One instrument: the coefficients of its multiplicative (β) and additive (γ) distortions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CausalInstrument {
    pub beta: Vec<f64>,
    pub gamma: Vec<f64>,
}

/// One light curve: star `star` seen through instrument `instrument`, sampled on
/// [`CausalSpec::time_grid`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CausalObservation {
    pub star: usize,
    pub instrument: usize,
    pub flux: Vec<f64>,
}

/// A simulated data set with the index a triplet sampler needs.
#[derive(Debug, Clone, PartialEq)]
pub struct CausalSet {
    pub spec: CausalSpec,
    pub stars: Vec<CausalStar>,
    pub instruments: Vec<CausalInstrument>,
    pub observations: Vec<CausalObservation>,
    by_star: Vec<Vec<usize>>,
    by_instrument: Vec<Vec<usize>>,
}

impl CausalSet {
    /// A set read back from files (e.g. a data set written from [`simulate`]'s output): checks
    /// that every observation names an existing star and instrument and has `spec.n_steps` finite
    /// samples, that every star has `spec.n_star_params` finite parameters, and builds the index.
    pub fn from_parts(
        spec: CausalSpec,
        stars: Vec<CausalStar>,
        instruments: Vec<CausalInstrument>,
        observations: Vec<CausalObservation>,
    ) -> Result<Self, SimError> {
        let bad = |field: &'static str, reason: String| Err(SimError::InvalidCausalSpec { field, reason });
        if stars.len() != spec.n_stars || instruments.len() != spec.n_instruments || observations.len() != spec.n_observations {
            return bad(
                "n_observations",
                format!(
                    "the spec says {} stars, {} instruments, {} observations; the parts hold {}, {}, {}",
                    spec.n_stars,
                    spec.n_instruments,
                    spec.n_observations,
                    stars.len(),
                    instruments.len(),
                    observations.len()
                ),
            );
        }
        for (s, star) in stars.iter().enumerate() {
            if star.theta.len() != spec.n_star_params || star.theta.iter().any(|v| !v.is_finite()) {
                return bad("n_star_params", format!("star {s}: {} parameters (need {} finite values)", star.theta.len(), spec.n_star_params));
            }
        }
        let mut by_star = vec![Vec::new(); spec.n_stars];
        let mut by_instrument = vec![Vec::new(); spec.n_instruments];
        for (n, o) in observations.iter().enumerate() {
            if o.star >= spec.n_stars || o.instrument >= spec.n_instruments {
                return bad("n_observations", format!("observation {n}: star {} / instrument {} out of range", o.star, o.instrument));
            }
            if o.flux.len() != spec.n_steps || o.flux.iter().any(|v| !v.is_finite()) {
                return bad("n_steps", format!("observation {n}: {} samples (need {} finite values)", o.flux.len(), spec.n_steps));
            }
            by_star[o.star].push(n);
            by_instrument[o.instrument].push(n);
        }
        Ok(CausalSet { spec, stars, instruments, observations, by_star, by_instrument })
    }

    /// Observations of the anchor's star through another instrument (star-space positives).
    pub fn same_star_other_instrument(&self, anchor: usize) -> Vec<usize> {
        let a = &self.observations[anchor];
        self.by_star[a.star].iter().copied().filter(|&n| self.observations[n].instrument != a.instrument).collect()
    }

    /// Observations through the anchor's instrument of another star (instrument-space positives).
    pub fn same_instrument_other_star(&self, anchor: usize) -> Vec<usize> {
        let a = &self.observations[anchor];
        self.by_instrument[a.instrument].iter().copied().filter(|&n| self.observations[n].star != a.star).collect()
    }

    /// Every observation of `star`, in index order.
    pub fn observations_of_star(&self, star: usize) -> &[usize] {
        &self.by_star[star]
    }

    /// Every observation through `instrument`, in index order.
    pub fn observations_of_instrument(&self, instrument: usize) -> &[usize] {
        &self.by_instrument[instrument]
    }
}

/// F_true(t) of a star with parameters `theta` under per-harmonic phases `phases`
/// (`phases[k − 1]` for harmonic k), period `period` in time steps.
pub fn true_flux(theta: &[f64], phases: &[f64], alpha: f64, period: f64, t: f64) -> f64 {
    theta
        .iter()
        .enumerate()
        .skip(1)
        .map(|(k, &amplitude)| {
            let k_f = k as f64;
            amplitude / libm::pow(k_f, alpha) * libm::cos(std::f64::consts::TAU * k_f * t / period + phases[k - 1])
        })
        .sum()
}

/// Re[ Σ_j c_j e^{iπjt/T} ] = Σ_j c_j cos(πjt/T): the shape of S_m − 1 and O_m before scaling.
pub fn instrument_series(coefficients: &[f64], t: f64, n_steps: usize) -> f64 {
    coefficients
        .iter()
        .enumerate()
        .map(|(j, &c)| c * libm::cos(std::f64::consts::PI * j as f64 * t / n_steps as f64))
        .sum()
}

/// clip₍₋₁,₁₎(S · F + O) + ε.
pub fn observed_flux(scale: f64, true_flux: f64, offset: f64, noise: f64) -> f64 {
    (scale * true_flux + offset).clamp(-1.0, 1.0) + noise
}

const STAR_KEY: &str = "causal/star";
const INSTRUMENT_KEY: &str = "causal/instrument";
const OBSERVATION_KEY: &str = "causal/observation";

/// Simulates every observation of `spec`, in index order.
pub fn simulate(spec: &CausalSpec) -> Result<CausalSet, SimError> {
    spec.validate()?;
    let stars: Vec<CausalStar> = (0..spec.n_stars).map(|s| star(spec, s)).collect();
    let instruments: Vec<CausalInstrument> = (0..spec.n_instruments).map(|m| instrument(spec, m)).collect();
    let permutations: Vec<Vec<usize>> = (0..spec.n_stars).map(|s| instrument_order(spec, s)).collect();
    let grid = spec.time_grid();
    let mut by_star = vec![Vec::new(); spec.n_stars];
    let mut by_instrument = vec![Vec::new(); spec.n_instruments];
    let observations = (0..spec.n_observations)
        .map(|n| {
            let s = n % spec.n_stars;
            let repeat = n / spec.n_stars;
            let m = permutations[s][repeat % spec.n_instruments];
            by_star[s].push(n);
            by_instrument[m].push(n);
            let key = object_key(spec.seed, OBSERVATION_KEY, n as u64);
            let mut phase_draw = Draw::new(key, Stream::Signal);
            let phases: Vec<f64> = (1..spec.n_star_params).map(|_| phase_draw.angle()).collect();
            let mut noise_draw = Draw::new(key, Stream::Noise);
            let (theta, inst) = (&stars[s].theta, &instruments[m]);
            let period = stars[s].period(spec);
            let flux = grid
                .iter()
                .map(|&t| {
                    let scale = 1.0 + spec.modulation * instrument_series(&inst.beta, t, spec.n_steps);
                    let offset = spec.modulation * instrument_series(&inst.gamma, t, spec.n_steps);
                    let noise = spec.noise_sd * noise_draw.standard_normal();
                    observed_flux(scale, true_flux(theta, &phases, spec.alpha, period, t), offset, noise)
                })
                .collect();
            CausalObservation { star: s, instrument: m, flux }
        })
        .collect();
    Ok(CausalSet { spec: spec.clone(), stars, instruments, observations, by_star, by_instrument })
}

fn star(spec: &CausalSpec, s: usize) -> CausalStar {
    let mut draw = Draw::new(object_key(spec.seed, STAR_KEY, s as u64), Stream::Signal);
    let mut theta = Vec::with_capacity(spec.n_star_params);
    theta.push(draw.uniform_in(spec.theta0_low, spec.theta0_high));
    theta.extend((1..spec.n_star_params).map(|_| draw.normal(0.0, spec.amplitude_sd)));
    CausalStar { theta }
}

fn instrument(spec: &CausalSpec, m: usize) -> CausalInstrument {
    let mut draw = Draw::new(object_key(spec.seed, INSTRUMENT_KEY, m as u64), Stream::Signal);
    let beta = (0..spec.instrument_terms).map(|_| draw.standard_normal()).collect();
    let gamma = (0..spec.instrument_terms).map(|_| draw.standard_normal()).collect();
    CausalInstrument { beta, gamma }
}

/// The order in which star `s` visits the instruments (Fisher–Yates on its own stream).
fn instrument_order(spec: &CausalSpec, s: usize) -> Vec<usize> {
    let mut draw = Draw::new(object_key(spec.seed, STAR_KEY, s as u64), Stream::Cadence);
    let mut order: Vec<usize> = (0..spec.n_instruments).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, draw.integer_in(0, i));
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn true_flux_matches_hand_computed_values() {
        // θ = [θ₀, 1, 0.5], phases 0, α = 1, L = 100: F(t) = cos(2πt/100) + 0.25·cos(4πt/100).
        let (theta, phases) = ([0.0, 1.0, 0.5], [0.0, 0.0]);
        assert!(close(true_flux(&theta, &phases, 1.0, 100.0, 0.0), 1.25));
        assert!(close(true_flux(&theta, &phases, 1.0, 100.0, 25.0), -0.25));
        assert!(close(true_flux(&theta, &phases, 1.0, 100.0, 50.0), -0.75));
        // α = 2 divides harmonic 2 by 4; a phase of π/2 on harmonic 1 turns its cosine into −sine.
        assert!(close(true_flux(&theta, &phases, 2.0, 100.0, 0.0), 1.125));
        let shifted = [std::f64::consts::FRAC_PI_2, 0.0];
        assert!(close(true_flux(&theta, &shifted, 1.0, 100.0, 25.0), -1.0 - 0.25));
    }

    #[test]
    fn period_follows_theta0_and_lambda() {
        let spec = CausalSpec { lambda: 0.5, ..CausalSpec::paper(0) };
        let star = CausalStar { theta: vec![std::f64::consts::LN_2, 1.0] };
        // L = T · e^{ln 2} · λ = 100 · 2 · 0.5.
        assert!(close(star.period(&spec), 100.0));
    }

    #[test]
    fn instrument_terms_match_hand_computed_values() {
        // Σ_j c_j cos(πjt/T) with c = [1, 2], T = 100.
        assert!(close(instrument_series(&[1.0, 2.0], 0.0, 100), 3.0));
        assert!(close(instrument_series(&[1.0, 2.0], 50.0, 100), 1.0));
        assert!(close(instrument_series(&[1.0, 2.0], 100.0, 100), -1.0));
        // Clipping happens before the noise is added.
        assert_eq!(observed_flux(1.05, 2.0, 0.0, 0.0), 1.0);
        assert!(close(observed_flux(1.0, -3.0, 0.0, 0.01), -0.99));
        assert!(close(observed_flux(1.05, 0.5, 0.05, 0.0), 0.575));
    }

    #[test]
    fn observations_are_the_equations_applied_to_the_drawn_parameters() {
        let spec = CausalSpec { noise_sd: 0.0, ..CausalSpec::sized(3, 5, 4, 12) };
        let set = simulate(&spec).unwrap();
        let obs = &set.observations[7];
        let (star, inst) = (&set.stars[obs.star], &set.instruments[obs.instrument]);
        let mut draw = Draw::new(object_key(3, OBSERVATION_KEY, 7), Stream::Signal);
        let phases: Vec<f64> = (1..spec.n_star_params).map(|_| draw.angle()).collect();
        for (t, &value) in obs.flux.iter().enumerate() {
            let t = t as f64;
            let scale = 1.0 + 0.05 * instrument_series(&inst.beta, t, 100);
            let offset = 0.05 * instrument_series(&inst.gamma, t, 100);
            let expected = (scale * true_flux(&star.theta, &phases, 1.0, star.period(&spec), t) + offset).clamp(-1.0, 1.0);
            assert!(close(value, expected), "t = {t}: {value} vs {expected}");
        }
    }

    #[test]
    fn noise_has_the_requested_spread() {
        // No signal and no instrument: the curves are the noise alone.
        let spec = CausalSpec { amplitude_sd: 0.0, modulation: 0.0, ..CausalSpec::sized(1, 20, 3, 40) };
        let set = simulate(&spec).unwrap();
        let values: Vec<f64> = set.observations.iter().flat_map(|o| o.flux.iter().copied()).collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64).sqrt();
        assert!(mean.abs() < 0.003, "mean {mean}");
        assert!((sd - 0.03).abs() < 0.002, "sd {sd}");
    }

    #[test]
    fn deterministic_and_extended_without_change() {
        let small = simulate(&CausalSpec::sized(9, 10, 5, 30)).unwrap();
        let again = simulate(&CausalSpec::sized(9, 10, 5, 30)).unwrap();
        assert_eq!(small, again);
        let larger = simulate(&CausalSpec::sized(9, 10, 5, 60)).unwrap();
        assert_eq!(small.observations[..], larger.observations[..30]);
        let other_seed = simulate(&CausalSpec::sized(10, 10, 5, 30)).unwrap();
        assert_ne!(small.observations[0].flux, other_seed.observations[0].flux);
    }

    #[test]
    fn a_set_rebuilt_from_its_parts_is_the_same_and_bad_parts_are_refused() {
        let set = simulate(&CausalSpec::sized(4, 6, 3, 18)).unwrap();
        let rebuilt = CausalSet::from_parts(set.spec.clone(), set.stars.clone(), set.instruments.clone(), set.observations.clone()).unwrap();
        assert_eq!(rebuilt, set);
        let mut observations = set.observations.clone();
        observations[5].flux[3] = f64::NAN;
        assert!(CausalSet::from_parts(set.spec.clone(), set.stars.clone(), set.instruments.clone(), observations).is_err());
        let mut observations = set.observations.clone();
        observations[2].instrument = 3;
        assert!(CausalSet::from_parts(set.spec.clone(), set.stars.clone(), set.instruments.clone(), observations).is_err());
        assert!(CausalSet::from_parts(set.spec.clone(), set.stars[..5].to_vec(), set.instruments.clone(), set.observations.clone()).is_err());
    }

    #[test]
    fn triplets_exist_for_every_anchor() {
        // 20 observations per star through 17 instruments: each star meets at least 17 of them.
        let set = simulate(&CausalSpec::sized(0, 50, 17, 1000)).unwrap();
        for star in 0..50 {
            let mut seen: Vec<usize> = set.observations_of_star(star).iter().map(|&n| set.observations[n].instrument).collect();
            assert_eq!(seen.len(), 20);
            let first: std::collections::BTreeSet<usize> = seen[..17].iter().copied().collect();
            assert_eq!(first.len(), 17, "star {star}: the first 17 visits repeat an instrument");
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), 17);
        }
        for anchor in 0..set.observations.len() {
            let a = &set.observations[anchor];
            let star_positives = set.same_star_other_instrument(anchor);
            let instrument_positives = set.same_instrument_other_star(anchor);
            assert!(!star_positives.is_empty() && !instrument_positives.is_empty(), "anchor {anchor}");
            assert!(star_positives.iter().all(|&n| set.observations[n].star == a.star && set.observations[n].instrument != a.instrument));
            assert!(instrument_positives.iter().all(|&n| set.observations[n].instrument == a.instrument && set.observations[n].star != a.star));
        }
    }

    #[test]
    fn the_paper_choices_give_several_cycles_and_little_clipping() {
        let spec = CausalSpec { n_observations: 2000, noise_sd: 0.0, ..CausalSpec::paper(0) };
        let set = simulate(&spec).unwrap();
        let periods: Vec<f64> = set.stars.iter().map(|s| s.period(&spec)).collect();
        assert!(periods.iter().all(|&p| (9.0..68.0).contains(&p)));
        // Without noise a clipped sample is exactly ±1.
        let clipped = set.observations.iter().flat_map(|o| &o.flux).filter(|v| v.abs() == 1.0).count();
        let total = set.observations.len() * spec.n_steps;
        assert!((clipped as f64) < 0.05 * total as f64, "{clipped} of {total} samples clipped");
    }

    #[test]
    fn invalid_specs_name_the_field() {
        let cases = [
            (CausalSpec { n_stars: 0, ..CausalSpec::paper(0) }, "n_stars"),
            (CausalSpec { n_star_params: 1, ..CausalSpec::paper(0) }, "n_star_params"),
            (CausalSpec { lambda: 0.0, ..CausalSpec::paper(0) }, "lambda"),
            (CausalSpec { noise_sd: f64::NAN, ..CausalSpec::paper(0) }, "noise_sd"),
            (CausalSpec { noise_sd: -0.1, ..CausalSpec::paper(0) }, "noise_sd"),
            (CausalSpec { theta0_low: 1.0, ..CausalSpec::paper(0) }, "theta0_low"),
        ];
        for (spec, field) in cases {
            match simulate(&spec) {
                Err(SimError::InvalidCausalSpec { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: expected an error naming it, got {:?}", other.map(|s| s.observations.len())),
            }
        }
    }
}
