//! Observation epochs of MACHO-like and ATLAS-like surveys.
//!
//! Both models walk night by night through a survey calendar: observing seasons (the field is
//! behind the Sun part of the year), a per-object revisit rhythm, weather/technical losses and a
//! time of night around local midnight at the observatory. Epochs are returned sorted and
//! strictly increasing (before the final 1e-5 d rounding, which `lib.rs` handles).

use crate::rng::Draw;
use crate::Cadence;

const DAYS_PER_YEAR: f64 = 365.25;

/// MACHO started regular LMC monitoring in July 1992 (MJD 48823 = 1992-07-22) and ran to the
/// end of 1999 (Alcock et al. 1997, 2000).
const MACHO_PROJECT_START_MJD: f64 = 48_823.0;
const MACHO_PROJECT_END_MJD: f64 = 51_544.0;
/// Local midnight at Mount Stromlo (UT+10 h) as a fraction of the MJD (UT) day.
const MACHO_LOCAL_MIDNIGHT: f64 = 0.58;
/// Fraction of a year (after the project start) at which the survey's off-season is centred.
const MACHO_OFF_SEASON_CENTRE: f64 = 0.45;
/// Per-visit chance that the next stretch is lost to weather or engineering (~3 gaps per curve).
const MACHO_LONG_GAP_PROBABILITY: f64 = 0.006;
/// Point-count window the revisit interval is tuned to (the expected count, not a hard cut).
const MACHO_TYPICAL_POINTS: f64 = 430.0;
const MACHO_MIN_EXPECTED_POINTS: f64 = 320.0;
const MACHO_MAX_EXPECTED_POINTS: f64 = 1080.0;
/// Mean over median of the gap between visited nights (lognormal σ = 0.5, rounding to whole
/// nights, weather/engineering gaps), measured from the model.
const MACHO_GAP_MEAN_OVER_MEDIAN: f64 = 1.2;
/// Nobody revisits a field more than every night and a half, or less than every five nights, on
/// average.
const MACHO_FASTEST_REVISIT_DAYS: f64 = 1.5;
const MACHO_SLOWEST_REVISIT_DAYS: f64 = 5.0;

/// ATLAS began its survey mid-2015 (Tonry et al. 2018); MJD 57200 = 2015-06-28.
const ATLAS_SURVEY_START_MJD: f64 = 57_200.0;
/// Local midnight on Haleakalā/Mauna Loa (UT−10 h) as a fraction of the MJD day.
const ATLAS_LOCAL_MIDNIGHT: f64 = 0.42;
/// ATLAS switches to the cyan filter in dark time, so o-band nights avoid new moon.
const SYNODIC_MONTH_DAYS: f64 = 29.530_589;
/// New moon of 2015-07-16 01:24 UT.
const REFERENCE_NEW_MOON_MJD: f64 = 57_219.06;
/// Hard stop for the night loop; never reached with the parameters below.
const ATLAS_MAX_SURVEY_DAYS: f64 = 20.0 * DAYS_PER_YEAR;

pub(crate) fn observation_times(cadence: Cadence, draw: &mut Draw) -> Vec<f64> {
    match cadence {
        Cadence::Macho => macho_like_times(draw),
        Cadence::Atlas => atlas_like_times(draw),
    }
}

/// Observing seasons: the object is unobservable for `1 - duty` of each year, centred on
/// `off_centre` (a fraction of the year counted from `year_zero`).
#[derive(Clone, Copy)]
struct Seasons {
    year_zero: f64,
    off_centre: f64,
    duty: f64,
}

impl Seasons {
    fn contains(&self, mjd: f64) -> bool {
        let year_phase = (mjd - self.year_zero) / DAYS_PER_YEAR - self.off_centre;
        let wrapped = year_phase - year_phase.floor();
        let distance_from_off_centre = wrapped.min(1.0 - wrapped);
        distance_from_off_centre >= 0.5 * (1.0 - self.duty)
    }
}

fn macho_like_times(draw: &mut Draw) -> Vec<f64> {
    // Fields entered the rotation at different times and some were dropped before the end.
    let field_start = (MACHO_PROJECT_START_MJD + draw.uniform_in(0.0, 300.0)).floor();
    let baseline = draw.uniform_in(5.6, 7.4) * DAYS_PER_YEAR;
    let field_end = (field_start + baseline).min(MACHO_PROJECT_END_MJD);
    // ~8 months on, ~4 months off.
    let seasons = Seasons {
        year_zero: MACHO_PROJECT_START_MJD,
        off_centre: MACHO_OFF_SEASON_CENTRE + draw.normal(0.0, 0.03),
        duty: draw.uniform_in(0.62, 0.72),
    };
    // Fields were visited at different rates (the LMC bar most often), so the number of points
    // is drawn first (lognormal around ~430, a few percent above 800) and the field's typical
    // revisit interval (median gap between visited nights) follows from the time available.
    let active_days = (field_end - field_start) * seasons.duty;
    let double_visit_probability = draw.uniform_in(0.0, 0.2);
    let target_points = (MACHO_TYPICAL_POINTS * draw.lognormal_factor(0.35))
        .clamp(MACHO_MIN_EXPECTED_POINTS, MACHO_MAX_EXPECTED_POINTS);
    let revisit_days = (active_days * (1.0 + double_visit_probability)
        / (MACHO_GAP_MEAN_OVER_MEDIAN * target_points))
        .clamp(MACHO_FASTEST_REVISIT_DAYS, MACHO_SLOWEST_REVISIT_DAYS);

    let mut times = Vec::with_capacity(1200);
    let mut night = field_start;
    let mut was_in_season = seasons.contains(night);
    while night < field_end {
        if !seasons.contains(night) {
            was_in_season = false;
            night += 1.0;
            continue;
        }
        if !was_in_season {
            // First night back: start somewhere within one revisit interval, not all fields on
            // the first possible night.
            was_in_season = true;
            night += draw.uniform_in(0.0, revisit_days).floor();
            continue;
        }
        if draw.chance(MACHO_LONG_GAP_PROBABILITY) {
            night += draw.uniform_in(8.0, 45.0).floor();
            continue;
        }
        let epoch = night + MACHO_LOCAL_MIDNIGHT + draw.uniform_in(-0.17, 0.17);
        times.push(epoch);
        if draw.chance(double_visit_probability) {
            // Some fields were imaged twice in a night, 1.5–6 h apart.
            times.push(epoch + draw.uniform_in(0.06, 0.25));
        }
        let gap_nights = (revisit_days * draw.lognormal_factor(0.5)).round().max(1.0);
        night += gap_nights;
    }
    times
}

fn atlas_like_times(draw: &mut Draw) -> Vec<f64> {
    let target_points = draw.integer_in(100, 300);
    let survey_start = (ATLAS_SURVEY_START_MJD + draw.uniform_in(0.0, 150.0)).floor();
    // All-sky survey: each object's season falls at its own time of year.
    let seasons = Seasons {
        year_zero: ATLAS_SURVEY_START_MJD,
        off_centre: draw.uniform(),
        duty: draw.uniform_in(0.55, 0.7),
    };
    // Fraction of each lunation around new moon given to the c filter.
    let dark_time_fraction = draw.uniform_in(0.25, 0.45);
    // Scheduled o-band visits lost to weather, technical downtime and the field rotation;
    // varies by field and sets how long it takes to collect the points (baselines ~1–2.5 yr).
    let night_loss = draw.uniform_in(0.2, 0.7);

    let mut times = Vec::with_capacity(target_points);
    let mut night = survey_start;
    while times.len() < target_points && night < survey_start + ATLAS_MAX_SURVEY_DAYS {
        let lunar_phase = (night - REFERENCE_NEW_MOON_MJD) / SYNODIC_MONTH_DAYS;
        let lunar_phase = lunar_phase - lunar_phase.floor();
        let distance_from_new_moon = lunar_phase.min(1.0 - lunar_phase);
        let o_band_night = distance_from_new_moon >= 0.5 * dark_time_fraction;
        let clear = !draw.chance(night_loss);
        if seasons.contains(night) && o_band_night && clear {
            // 3–5 exposures of the same field within about an hour.
            let visits = draw.integer_in(3, 5);
            let mut epoch = night + ATLAS_LOCAL_MIDNIGHT + draw.uniform_in(-0.2, 0.2);
            for _ in 0..visits {
                if times.len() == target_points {
                    break;
                }
                times.push(epoch);
                epoch += draw.uniform_in(12.0, 20.0) / 1440.0;
            }
        }
        // A field comes round again every ~2 nights.
        night += (2.0 * draw.lognormal_factor(0.35)).round().max(1.0);
    }
    times
}

#[cfg(test)]
mod cadence_tests {
    use super::*;
    use crate::rng::{object_key, Stream};
    use crate::test_support::median;

    fn times_for(cadence: Cadence, index: u64) -> Vec<f64> {
        let mut draw = Draw::new(object_key(2024, "NonVar", index), Stream::Cadence);
        observation_times(cadence, &mut draw)
    }

    fn gaps(times: &[f64]) -> Vec<f64> {
        times.windows(2).map(|w| w[1] - w[0]).collect()
    }

    #[test]
    fn macho_like_has_multi_year_seasons_and_few_day_sampling() {
        let mut per_object_medians = Vec::new();
        for index in 0..40 {
            let times = times_for(Cadence::Macho, index);
            assert!(times.windows(2).all(|w| w[1] > w[0]));
            assert!(
                (280..=1150).contains(&times.len()),
                "object {index}: {} points",
                times.len()
            );
            let baseline_years = (times[times.len() - 1] - times[0]) / DAYS_PER_YEAR;
            assert!(
                (5.0..7.6).contains(&baseline_years),
                "baseline {baseline_years}"
            );
            let object_gaps = gaps(&times);
            let median_gap = median(&object_gaps);
            assert!(
                (1.0..=6.0).contains(&median_gap),
                "object {index}: median gap {median_gap}"
            );
            per_object_medians.push(median_gap);
            // Seasonal gaps: at least one gap per year longer than two months.
            let long_gaps = object_gaps.iter().filter(|&&g| g > 60.0).count();
            assert!(long_gaps >= 4, "object {index}: {long_gaps} season gaps");
        }
        let survey_median = median(&per_object_medians);
        assert!(
            (2.5..=4.5).contains(&survey_median),
            "survey median gap {survey_median}"
        );
    }

    #[test]
    fn macho_like_point_counts_vary_between_objects() {
        let counts: Vec<usize> = (0..60)
            .map(|i| times_for(Cadence::Macho, i).len())
            .collect();
        let (min, max) = (counts.iter().min().copied(), counts.iter().max().copied());
        assert!(min < Some(350) && max > Some(650), "counts {counts:?}");
    }

    #[test]
    fn atlas_like_has_intra_night_visits() {
        for index in 0..40 {
            let times = times_for(Cadence::Atlas, index);
            assert!(times.windows(2).all(|w| w[1] > w[0]));
            assert!(
                (100..=300).contains(&times.len()),
                "object {index}: {} points",
                times.len()
            );
            let median_gap_minutes = median(&gaps(&times)) * 1440.0;
            assert!(
                (5.0..=40.0).contains(&median_gap_minutes),
                "median gap {median_gap_minutes} min"
            );
            // Nights are separated by about two days or more.
            let night_gaps: Vec<f64> = gaps(&times).into_iter().filter(|&g| g > 0.5).collect();
            let median_night_gap = median(&night_gaps);
            assert!(
                (1.5..=15.0).contains(&median_night_gap),
                "median night gap {median_night_gap}"
            );
        }
    }
}
