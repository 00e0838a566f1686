//! Eclipsing binaries: MACHO `EC`, ATLAS `CB` (contact) and `DB` (detached).
//!
//! Detached and semi-detached systems use a geometric model: two uniform stellar disks on a
//! circular orbit (radii `r1`, `r2` in units of the separation, inclination `i`, surface
//! brightness ratio `J`), the eclipsed area being the circle–circle overlap. Star 1 is the hotter
//! one, so the primary eclipse (star 2 in front, phase 0) is deeper than the secondary (phase
//! 0.5) — two eclipses of unequal depth. Ellipsoidal variation ∝ cos 4πφ (tidally distorted
//! stars) and a reflection term ∝ cos 2πφ are added; relative radii shrink with period as
//! r ∝ P^(−2/3) (Kepler's third law), so long-period detached systems have short eclipses and
//! flat maxima. Eccentric orbits displace the secondary eclipse from phase 0.5.
//!
//! Contact (W UMa) systems vary continuously; their light is well described by a low-order
//! cosine series (Rucinski 1993): a dominant cos 4πφ term, a cos 2πφ term making the minima
//! unequal, and a small sin 2πφ term for unequal maxima (O'Connell effect).
//!
//! Blending with unresolved neighbours (very common in crowded LMC fields and in ATLAS's 1.9"
//! pixels) dilutes the eclipses; a "third light" sets each system's depth to a drawn target.

use std::f64::consts::{PI, TAU};

use crate::classes::Variability;
use crate::rng::Draw;

const PHASE_GRID_POINTS: usize = 2048;
const GEOMETRY_ATTEMPTS: usize = 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Configuration {
    Contact,
    SemiDetached,
    Detached,
}

/// MACHO `EC`: contact, semi-detached and detached systems with 0.25–10 d periods.
pub(crate) fn macho_ec(times: &[f64], draw: &mut Draw) -> Variability {
    match draw.weighted_index(&[0.4, 0.25, 0.35]) {
        0 => {
            let period = draw.log_uniform(0.25, 1.0);
            binary(Configuration::Contact, period, times, draw)
        }
        1 => {
            let period = draw.log_uniform(0.5, 5.0);
            binary(Configuration::SemiDetached, period, times, draw)
        }
        _ => {
            let period = draw.log_uniform(1.0, 10.0);
            binary(Configuration::Detached, period, times, draw)
        }
    }
}

/// ATLAS `CB`: contact binaries, periods concentrated around 0.35 d (Rucinski 2007).
pub(crate) fn contact_binary(times: &[f64], draw: &mut Draw) -> Variability {
    let log_period = draw.truncated_normal(-0.45, 0.12, libm::log10(0.2), 0.0);
    binary(
        Configuration::Contact,
        libm::pow(10.0, log_period),
        times,
        draw,
    )
}

/// ATLAS `DB`: detached binaries with 1–50 d periods.
pub(crate) fn detached_binary(times: &[f64], draw: &mut Draw) -> Variability {
    let period = draw.log_uniform(1.0, 50.0);
    binary(Configuration::Detached, period, times, draw)
}

fn binary(
    configuration: Configuration,
    period: f64,
    times: &[f64],
    draw: &mut Draw,
) -> Variability {
    let max_depth = if configuration == Configuration::Contact {
        0.9
    } else {
        1.0
    };
    let target_depth = draw.uniform_in(0.1, max_depth);
    // Find a geometry deep enough for the target, keeping the deepest seen as a fallback.
    let mut best: Option<(LightModel, f64, f64)> = None;
    for _ in 0..GEOMETRY_ATTEMPTS {
        let model = LightModel::draw(configuration, period, target_depth, draw);
        let (min_flux, max_flux) = model.flux_extremes();
        let depth = 2.5 * libm::log10(max_flux / min_flux);
        let is_deeper = best
            .as_ref()
            .map_or(true, |(_, _, best_depth)| depth > *best_depth);
        if is_deeper {
            best = Some((model, min_flux, depth));
        }
        if depth >= target_depth {
            break;
        }
    }
    let (model, min_flux, depth) = match best {
        Some(found) => found,
        None => return Variability::constant(times.len()),
    };
    let max_flux = model.flux_extremes().1;
    // Third light that brings the depth down to the target: (max + L3) / (min + L3) = k.
    let third_light = if depth > target_depth {
        let ratio = libm::pow(10.0, 0.4 * target_depth);
        ((max_flux - ratio * min_flux) / (ratio - 1.0)).max(0.0)
    } else {
        0.0
    };
    let epoch = draw.uniform_in(0.0, period);
    let magnitude_at = |phase: f64| {
        -2.5 * libm::log10((model.flux(phase) + third_light) / (max_flux + third_light))
    };
    // Report magnitudes relative to the phase-averaged magnitude.
    let grid: Vec<f64> = (0..PHASE_GRID_POINTS)
        .map(|i| magnitude_at(i as f64 / PHASE_GRID_POINTS as f64))
        .collect();
    let phase_average = grid.iter().sum::<f64>() / grid.len() as f64;
    let amplitude = grid.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b))
        - grid.iter().fold(f64::INFINITY, |a, &b| a.min(b));
    let delta_mag = times
        .iter()
        .map(|&t| magnitude_at((t - epoch) / period) - phase_average)
        .collect();
    Variability {
        period_days: Some(period),
        amplitude_mag: amplitude,
        delta_mag,
    }
}

#[derive(Clone, Debug)]
enum LightModel {
    Geometric(GeometricBinary),
    Contact(ContactBinary),
}

impl LightModel {
    fn draw(configuration: Configuration, period: f64, target_depth: f64, draw: &mut Draw) -> Self {
        match configuration {
            Configuration::Contact => LightModel::Contact(ContactBinary::draw(target_depth, draw)),
            Configuration::SemiDetached => {
                LightModel::Geometric(GeometricBinary::semi_detached(draw))
            }
            Configuration::Detached => {
                LightModel::Geometric(GeometricBinary::detached(period, draw))
            }
        }
    }

    fn flux(&self, phase: f64) -> f64 {
        let phase = phase - phase.floor();
        match self {
            LightModel::Geometric(binary) => binary.flux(phase),
            LightModel::Contact(binary) => binary.flux(phase),
        }
    }

    fn flux_extremes(&self) -> (f64, f64) {
        (0..PHASE_GRID_POINTS)
            .map(|i| self.flux(i as f64 / PHASE_GRID_POINTS as f64))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), f| {
                (low.min(f), high.max(f))
            })
    }
}

#[derive(Clone, Debug)]
struct GeometricBinary {
    primary_radius: f64,
    secondary_radius: f64,
    cos_inclination: f64,
    surface_brightness_ratio: f64,
    ellipsoidal: f64,
    reflection: f64,
    /// Displacement of the secondary eclipse from phase 0.5 (e cos ω ≠ 0).
    secondary_shift: f64,
}

impl GeometricBinary {
    fn detached(period: f64, draw: &mut Draw) -> Self {
        // (r1 + r2) ≈ 0.32 at 1 d for two main-sequence stars, scaling as P^(-2/3).
        let radius_sum =
            (0.32 * libm::pow(period, -2.0 / 3.0) * draw.lognormal_factor(0.35)).clamp(0.02, 0.45);
        let radius_ratio = draw.uniform_in(0.4, 1.0);
        let primary_radius = radius_sum / (1.0 + radius_ratio);
        Self {
            primary_radius,
            secondary_radius: radius_ratio * primary_radius,
            cos_inclination: draw.uniform_in(0.0, 0.9) * radius_sum,
            surface_brightness_ratio: draw.uniform_in(0.1, 1.0),
            ellipsoidal: libm::pow(primary_radius, 3.0) * draw.uniform_in(0.5, 2.0),
            reflection: 0.0,
            secondary_shift: if draw.chance(0.35) {
                draw.uniform_in(-0.05, 0.05)
            } else {
                0.0
            },
        }
    }

    /// Algol-type systems: a Roche-lobe-filling cool subgiant, strongly unequal eclipses.
    fn semi_detached(draw: &mut Draw) -> Self {
        let radius_sum = draw.uniform_in(0.45, 0.7);
        let radius_ratio = draw.uniform_in(0.5, 1.0);
        let primary_radius = radius_sum / (1.0 + radius_ratio);
        Self {
            primary_radius,
            secondary_radius: radius_ratio * primary_radius,
            cos_inclination: draw.uniform_in(0.0, 0.6) * radius_sum,
            surface_brightness_ratio: draw.uniform_in(0.05, 0.6),
            ellipsoidal: draw.uniform_in(0.02, 0.08),
            reflection: draw.uniform_in(0.0, 0.03),
            secondary_shift: 0.0,
        }
    }

    fn flux(&self, phase: f64) -> f64 {
        // Only the eclipse geometry moves with eccentricity; the tidal terms stay symmetric.
        let orbital_phase = if (0.25..0.75).contains(&phase) {
            phase - self.secondary_shift
        } else {
            phase
        };
        let angle = TAU * orbital_phase;
        let (sin_angle, cos_angle) = (libm::sin(angle), libm::cos(angle));
        let projected_separation = libm::sqrt(
            sin_angle * sin_angle
                + self.cos_inclination * self.cos_inclination * cos_angle * cos_angle,
        );
        let overlap = circle_overlap_area(
            self.primary_radius,
            self.secondary_radius,
            projected_separation,
        );
        // Near phase 0 the secondary is in front and hides part of the primary.
        let hidden = if cos_angle > 0.0 {
            overlap
        } else {
            overlap * self.surface_brightness_ratio
        };
        let unobscured = PI * self.primary_radius * self.primary_radius
            + self.surface_brightness_ratio * PI * self.secondary_radius * self.secondary_radius;
        // Ellipsoidal light is faintest at the conjunctions; the heated face of the secondary
        // is turned away from us at phase 0.
        let tidal = 1.0
            - self.ellipsoidal * libm::cos(2.0 * TAU * phase)
            - self.reflection * 0.5 * (1.0 + libm::cos(TAU * phase));
        (unobscured - hidden) * tidal / unobscured
    }
}

#[derive(Clone, Debug)]
struct ContactBinary {
    /// Overall variation depth (flux fraction) of the cos 4πφ term.
    depth: f64,
    unequal_minima: f64,
    oconnell: f64,
}

impl ContactBinary {
    fn draw(target_depth: f64, draw: &mut Draw) -> Self {
        let unequal_minima = draw.uniform_in(0.0, 0.25);
        let oconnell = draw.uniform_in(-0.05, 0.05);
        let mut binary = Self {
            depth: 1.0,
            unequal_minima,
            oconnell,
        };
        // Solve for the depth giving `target_depth` magnitudes between extremes:
        // flux = 1 − depth·h(φ), so max/min = (1 − d·h_min)/(1 − d·h_max) = k.
        let (h_min, h_max) = (0..PHASE_GRID_POINTS)
            .map(|i| binary.shape(i as f64 / PHASE_GRID_POINTS as f64))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), h| {
                (low.min(h), high.max(h))
            });
        let ratio = libm::pow(10.0, 0.4 * target_depth);
        binary.depth = ((ratio - 1.0) / (ratio * h_max - h_min)).clamp(0.0, 0.95 / h_max.max(1e-9));
        binary
    }

    /// Light lost relative to quadrature: 0 at maxima, ~1 at primary minimum (phase 0).
    fn shape(&self, phase: f64) -> f64 {
        0.5 * (1.0 + libm::cos(2.0 * TAU * phase))
            + self.unequal_minima * 0.5 * (1.0 + libm::cos(TAU * phase))
            + self.oconnell * libm::sin(TAU * phase)
    }

    fn flux(&self, phase: f64) -> f64 {
        1.0 - self.depth * self.shape(phase)
    }
}

/// Area of the intersection of two circles of radii `a`, `b` whose centres are `distance` apart.
fn circle_overlap_area(a: f64, b: f64, distance: f64) -> f64 {
    if distance >= a + b {
        return 0.0;
    }
    let smaller = a.min(b);
    if distance <= (a - b).abs() {
        return PI * smaller * smaller;
    }
    let half_angle_a =
        libm::acos(((distance * distance + a * a - b * b) / (2.0 * distance * a)).clamp(-1.0, 1.0));
    let half_angle_b =
        libm::acos(((distance * distance + b * b - a * a) / (2.0 * distance * b)).clamp(-1.0, 1.0));
    a * a * (half_angle_a - 0.5 * libm::sin(2.0 * half_angle_a))
        + b * b * (half_angle_b - 0.5 * libm::sin(2.0 * half_angle_b))
}

#[cfg(test)]
mod eclipsing_tests {
    use super::*;
    use crate::rng::{object_key, Stream};
    use crate::stats::quantile;

    #[test]
    fn overlap_area_limits() {
        assert_eq!(circle_overlap_area(1.0, 0.5, 2.0), 0.0);
        assert!((circle_overlap_area(1.0, 0.5, 0.2) - PI * 0.25).abs() < 1e-12);
        // Two unit circles one radius apart overlap in 2π/3 − √3/2.
        let lens = circle_overlap_area(1.0, 1.0, 1.0);
        assert!((lens - (2.0 * PI / 3.0 - 3f64.sqrt() / 2.0)).abs() < 1e-12);
    }

    #[test]
    fn detached_geometry_gives_a_deeper_primary_and_a_shallower_secondary() {
        for index in 0..30 {
            let mut draw = Draw::new(object_key(9, "geometry", index), Stream::Signal);
            let binary = GeometricBinary::detached(draw.log_uniform(1.0, 50.0), &mut draw);
            let primary = binary.flux(0.0);
            let secondary = binary.flux(0.5 + binary.secondary_shift);
            let quadrature = binary.flux(0.25);
            assert!(
                primary < secondary + 1e-12,
                "primary {primary} secondary {secondary}"
            );
            assert!(primary < quadrature && secondary <= quadrature + 1e-12);
            // Out of eclipse the light is nearly constant (only weak ellipsoidal variation).
            assert!((binary.flux(0.2) - binary.flux(0.3)).abs() < 0.02);
        }
    }

    #[test]
    fn detached_binaries_are_flat_out_of_eclipse_with_requested_depths() {
        let times: Vec<f64> = (0..20_000).map(|i| i as f64 * 0.0031).collect();
        for index in 0..20 {
            let mut draw = Draw::new(object_key(9, "DB", index), Stream::Signal);
            let variability = detached_binary(&times, &mut draw);
            let period = variability.period_days.unwrap_or(0.0);
            assert!((1.0..=50.0).contains(&period));
            assert!(variability.amplitude_mag <= 1.0 + 1e-9 && variability.amplitude_mag > 0.0);
            // Most of the time the star sits near maximum light.
            let median = quantile(&variability.delta_mag, 0.5);
            let brightest = quantile(&variability.delta_mag, 0.0);
            assert!(median - brightest < 0.1 * variability.amplitude_mag + 0.01);
        }
    }

    #[test]
    fn contact_binaries_vary_continuously_with_requested_depth() {
        for index in 0..20 {
            let mut draw = Draw::new(object_key(9, "CB", index), Stream::Signal);
            let times: Vec<f64> = (0..4000).map(|i| i as f64 * 0.00025).collect();
            let variability = contact_binary(&times, &mut draw);
            assert!((0.2..=1.0).contains(&variability.period_days.unwrap_or(0.0)));
            assert!(
                (0.1..=0.9 + 1e-6).contains(&variability.amplitude_mag),
                "{}",
                variability.amplitude_mag
            );
            // Continuous variation: the median sits well inside the range, unlike detached EBs.
            let brightest = quantile(&variability.delta_mag, 0.0);
            let median = quantile(&variability.delta_mag, 0.5);
            assert!(median - brightest > 0.2 * variability.amplitude_mag);
        }
    }
}
