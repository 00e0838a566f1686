//! Prints per-class summary statistics of a simulated survey, for eyeballing the models.
//!
//! `cargo run -p survey-sim --example survey_summary -- [alcock|atlas|macho] [objects] [seed]`

use survey_sim::{generate, SurveySpec};

fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let survey = args.get(1).map(String::as_str).unwrap_or("alcock");
    let total: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(300);
    let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let spec = match survey {
        "atlas" => SurveySpec::atlas(seed, total, 20),
        "macho" => SurveySpec::macho_unlabeled(seed, total, 0),
        "macho-lmc-variables" => SurveySpec::macho_lmc_variables(seed, total, 0),
        _ => SurveySpec::alcock(seed, total, 20),
    };
    let curves = match generate(&spec) {
        Ok(curves) => curves,
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(1);
        }
    };
    println!(
        "{:<7} {:>4} | {:>15} | {:>13} | {:>15} | {:>17} | {:>15} | {:>17} | {:>15}",
        "class",
        "n",
        "points 5/50/95",
        "baseline (d)",
        "med dt (d) 50",
        "mean mag 5/50/95",
        "med err 5/50/95",
        "period 5/50/95",
        "amp 5/50/95"
    );
    for (class, _) in &spec.class_counts {
        let members: Vec<_> = curves.iter().filter(|c| &c.class == class).collect();
        let points: Vec<f64> = members.iter().map(|c| c.time.len() as f64).collect();
        let gaps: Vec<f64> = members
            .iter()
            .map(|c| {
                quantile(
                    &c.time.windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>(),
                    0.5,
                )
            })
            .collect();
        let baselines: Vec<f64> = members
            .iter()
            .map(|c| c.time[c.time.len() - 1] - c.time[0])
            .collect();
        let mean_mags: Vec<f64> = members.iter().map(|c| c.truth.mean_mag).collect();
        let errors: Vec<f64> = members.iter().map(|c| quantile(&c.err, 0.5)).collect();
        let periods: Vec<f64> = members.iter().filter_map(|c| c.truth.period_days).collect();
        let amplitudes: Vec<f64> = members.iter().map(|c| c.truth.amplitude_mag).collect();
        let triple = |v: &[f64], w: usize, p: usize| {
            format!(
                "{:>w$.p$} {:>w$.p$} {:>w$.p$}",
                quantile(v, 0.05),
                quantile(v, 0.5),
                quantile(v, 0.95)
            )
        };
        println!(
            "{:<7} {:>4} | {} | {:>13.0} | {:>15.3} | {} | {} | {} | {}",
            class,
            members.len(),
            triple(&points, 5, 0),
            quantile(&baselines, 0.5),
            quantile(&gaps, 0.5),
            triple(&mean_mags, 5, 1),
            triple(&errors, 5, 3),
            triple(&periods, 5, 2),
            triple(&amplitudes, 5, 2),
        );
    }
}
