//! Class mixes of the surveys the paper uses, and integer allocation of a total over a mix.

/// Alcock et al. MACHO labelled set (Astromer papers): official class counts, test split
/// included. Alphabetical order = label order downstream.
pub const ALCOCK_CLASSES: [(&str, f64); 6] = [
    ("Cep_0", 1182.0),
    ("Cep_1", 683.0),
    ("EC", 6824.0),
    ("LPV", 3046.0),
    ("RRab", 7397.0),
    ("RRc", 1762.0),
];

/// ATLAS variable-star catalogue (Heinze et al. 2018) classes as used by Astromer 2, with
/// their counts. Alphabetical order = label order downstream.
pub const ATLAS_CLASSES: [(&str, f64); 5] = [
    ("CB", 80318.0),
    ("DB", 28867.0),
    ("Mira", 7470.0),
    ("Other", 281354.0),
    ("Pulse", 25121.0),
];

/// Pretraining mix standing in for the unlabelled MACHO LMC photometry: constant stars are the
/// majority (60%), irregular/"Other"-like variability 8%, and the remaining 32% split over the
/// Alcock classes in proportion to their catalogue counts. Weights sum to 1; alphabetical order.
pub const MACHO_UNLABELED_MIX: [(&str, f64); 8] = [
    ("Cep_0", 0.0181),
    ("Cep_1", 0.0105),
    ("EC", 0.1045),
    ("LPV", 0.0466),
    ("NonVar", 0.6000),
    ("Other", 0.0800),
    ("RRab", 0.1133),
    ("RRc", 0.0270),
];

/// Pretraining mix standing in for a *variability-selected* MACHO LMC field: the periodic
/// classes in proportion to the OGLE-III census of the LMC — long-period variables 91 995
/// (Soszyński et al. 2009, AcA 59, 239), RRab 17 693 and RRc 4 958 (Soszyński et al. 2009,
/// AcA 59, 1; RRd left out, the simulator has none), classical Cepheids 1 848 fundamental-mode
/// and 1 228 first-overtone (Soszyński et al. 2008, AcA 58, 163), eclipsing binaries 26 121
/// (Graczyk et al. 2011, AcA 61, 103) — plus irregular/stochastic `Other` at 10 % of the total
/// (our choice: no census counts them), and no constant stars: the official pipeline keeps only
/// variable-looking curves (spec §2.1). Red giants dominate the variable LMC, so this mix is 58 %
/// LPV where [`MACHO_UNLABELED_MIX`] (which follows the labelled Alcock catalogue) has 4.7 %.
/// Weights are catalogue counts (not normalised); alphabetical order.
pub const MACHO_LMC_VARIABLES_MIX: [(&str, f64); 7] = [
    ("Cep_0", 1848.0),
    ("Cep_1", 1228.0),
    ("EC", 26121.0),
    ("LPV", 91995.0),
    ("Other", 15983.0),
    ("RRab", 17693.0),
    ("RRc", 4958.0),
];

/// Splits `total` objects over `weights` by the largest-remainder (Hamilton) method, giving
/// every class at least `min_per_class`.
///
/// The result sums to `max(total, weights.len() * min_per_class)` and keeps the input order.
/// Classes whose proportional share falls below the minimum are pinned to the minimum and the
/// rest is re-apportioned among the others, so the floor distorts the mix as little as possible.
/// Ties in the remainders go to the earlier class, which makes the result deterministic.
/// Non-finite or negative weights count as 0; if no weight is positive the split is uniform.
/// An empty `weights` gives an empty result.
pub fn counts_in_proportion(
    total: usize,
    weights: &[(&str, f64)],
    min_per_class: usize,
) -> Vec<(String, usize)> {
    let class_count = weights.len();
    if class_count == 0 {
        return Vec::new();
    }
    let clean: Vec<f64> = weights
        .iter()
        .map(|(_, weight)| {
            if weight.is_finite() && *weight > 0.0 {
                *weight
            } else {
                0.0
            }
        })
        .collect();
    let clean = if clean.iter().all(|&w| w == 0.0) {
        vec![1.0; class_count]
    } else {
        clean
    };

    let target = total.max(class_count.saturating_mul(min_per_class));
    let mut pinned = vec![false; class_count];
    let mut counts = vec![min_per_class; class_count];

    // Pin classes whose share is below the floor until the remaining shares all clear it.
    loop {
        let free_weight: f64 = (0..class_count)
            .filter(|&i| !pinned[i])
            .map(|i| clean[i])
            .sum();
        let pinned_total = pinned.iter().filter(|&&p| p).count() * min_per_class;
        let free_total = target - pinned_total;
        let newly_pinned: Vec<usize> = (0..class_count)
            .filter(|&i| !pinned[i])
            .filter(|&i| {
                free_weight <= 0.0
                    || (free_total as f64) * clean[i] / free_weight < min_per_class as f64
            })
            .collect();
        if newly_pinned.is_empty() {
            let free: Vec<usize> = (0..class_count).filter(|&i| !pinned[i]).collect();
            apportion_largest_remainder(free_total, &free, &clean, free_weight, &mut counts);
            break;
        }
        for index in newly_pinned {
            pinned[index] = true;
        }
        if pinned.iter().all(|&p| p) {
            // Every class sits at the floor; hand out what is left (if anything) by weight.
            let all: Vec<usize> = (0..class_count).collect();
            let leftover = target - class_count * min_per_class;
            let mut extra = vec![0; class_count];
            apportion_largest_remainder(leftover, &all, &clean, clean.iter().sum(), &mut extra);
            for (count, add) in counts.iter_mut().zip(extra) {
                *count = min_per_class + add;
            }
            break;
        }
    }

    weights
        .iter()
        .zip(counts)
        .map(|((name, _), count)| (name.to_string(), count))
        .collect()
}

/// Hamilton apportionment of `total` over the `members` (indices into `weights`), written into
/// `counts`. Ties in the fractional parts are broken by lower index.
fn apportion_largest_remainder(
    total: usize,
    members: &[usize],
    weights: &[f64],
    weight_sum: f64,
    counts: &mut [usize],
) {
    if members.is_empty() {
        return;
    }
    let quotas: Vec<f64> = members
        .iter()
        .map(|&i| {
            if weight_sum > 0.0 {
                total as f64 * weights[i] / weight_sum
            } else {
                0.0
            }
        })
        .collect();
    let mut assigned = 0usize;
    for (&i, quota) in members.iter().zip(&quotas) {
        counts[i] = quota.floor() as usize;
        assigned += counts[i];
    }
    let mut by_remainder: Vec<(usize, f64)> = members
        .iter()
        .zip(&quotas)
        .map(|(&i, quota)| (i, quota - quota.floor()))
        .collect();
    by_remainder.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    // Floating-point quotas can sum to slightly more or less than `total`; fix either way.
    let mut cursor = 0;
    while assigned < total {
        counts[by_remainder[cursor % by_remainder.len()].0] += 1;
        assigned += 1;
        cursor += 1;
    }
    let mut cursor = by_remainder.len();
    while assigned > total && cursor > 0 {
        cursor -= 1;
        let index = by_remainder[cursor].0;
        if counts[index] > 0 {
            counts[index] -= 1;
            assigned -= 1;
        }
    }
}

#[cfg(test)]
mod counts_tests {
    use super::*;

    fn sum(counts: &[(String, usize)]) -> usize {
        counts.iter().map(|(_, c)| c).sum()
    }

    #[test]
    fn sums_to_total_and_keeps_order() {
        for total in [0, 1, 7, 100, 1000, 12345] {
            let counts = counts_in_proportion(total, &ALCOCK_CLASSES, 0);
            assert_eq!(sum(&counts), total);
            let names: Vec<&str> = counts.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, ["Cep_0", "Cep_1", "EC", "LPV", "RRab", "RRc"]);
        }
    }

    #[test]
    fn exact_proportions_are_reproduced() {
        let counts = counts_in_proportion(20894, &ALCOCK_CLASSES, 0);
        for ((_, count), (_, weight)) in counts.iter().zip(ALCOCK_CLASSES) {
            assert_eq!(*count as f64, weight);
        }
    }

    #[test]
    fn respects_minimum_per_class() {
        for total in [0, 5, 30, 100, 500] {
            let counts = counts_in_proportion(total, &ATLAS_CLASSES, 20);
            assert_eq!(sum(&counts), total.max(5 * 20));
            assert!(counts.iter().all(|(_, c)| *c >= 20), "{counts:?}");
        }
        // Mira (1.8% of ATLAS) is lifted to the floor, the rest keep their ratios roughly.
        let counts = counts_in_proportion(500, &ATLAS_CLASSES, 20);
        let other = counts
            .iter()
            .find(|(n, _)| n == "Other")
            .map(|(_, c)| *c)
            .unwrap_or(0);
        assert!(other > 250, "{counts:?}");
    }

    #[test]
    fn handles_degenerate_weights_without_panicking() {
        assert!(counts_in_proportion(10, &[], 3).is_empty());
        let counts = counts_in_proportion(10, &[("a", 0.0), ("b", f64::NAN), ("c", -1.0)], 0);
        assert_eq!(sum(&counts), 10);
        let counts = counts_in_proportion(10, &[("a", 1.0), ("b", 0.0)], 2);
        assert_eq!(counts, vec![("a".to_string(), 8), ("b".to_string(), 2)]);
    }

    #[test]
    fn unlabeled_mix_is_normalised_and_mostly_constant() {
        let total: f64 = MACHO_UNLABELED_MIX.iter().map(|(_, w)| w).sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        let counts = counts_in_proportion(1000, &MACHO_UNLABELED_MIX, 1);
        assert_eq!(sum(&counts), 1000);
        assert_eq!(counts[4], ("NonVar".to_string(), 600));
    }

    #[test]
    fn lmc_variables_mix_is_red_giant_dominated_and_has_no_constant_stars() {
        let total: f64 = MACHO_LMC_VARIABLES_MIX.iter().map(|(_, w)| w).sum();
        let share = |name: &str| {
            MACHO_LMC_VARIABLES_MIX
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(0.0, |(_, w)| w / total)
        };
        assert!((share("Other") - 0.10).abs() < 1e-4, "{}", share("Other"));
        assert!((share("LPV") - 0.5755).abs() < 1e-3, "{}", share("LPV"));
        assert_eq!(share("NonVar"), 0.0);
        let counts = counts_in_proportion(1000, &MACHO_LMC_VARIABLES_MIX, 0);
        assert_eq!(sum(&counts), 1000);
        let lpv = counts.iter().find(|(n, _)| n == "LPV").map(|(_, c)| *c);
        assert_eq!(lpv, Some(576), "{counts:?}");
    }
}
