//! Triplet batches: for each anchor observation (star s through instrument m), one observation of
//! s through another instrument (its star-space partner) and one of another star through m (its
//! instrument-space partner). The batch's rows are the anchors, then the star partners, then the
//! instrument partners; the losses take their positives from the rows' star and instrument ids, so
//! rows that share a star (or instrument) by chance count as positives too (multi-positive).

use rand::Rng;
use survey_sim::causal::CausalSet;

use crate::loss::Positives;
use crate::CausalError;

/// The observations of one batch and the ids its two contrastive spaces group by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TripletBatch {
    /// Observation indices: B anchors, B star partners, B instrument partners.
    pub rows: Vec<usize>,
    /// Star id of every row.
    pub stars: Vec<usize>,
    /// Instrument id of every row.
    pub instruments: Vec<usize>,
}

impl TripletBatch {
    /// Anchors in the batch (B; the batch has 3B rows).
    pub fn anchors(&self) -> usize {
        self.rows.len() / 3
    }

    /// Star-space positives: same star.
    pub fn star_positives(&self) -> Positives {
        Positives::same_group(&self.stars)
    }

    /// Instrument-space positives: same instrument.
    pub fn instrument_positives(&self) -> Positives {
        Positives::same_group(&self.instruments)
    }
}

/// Draws triplets inside one split of a data set (partners come from the split's observations
/// only, so a validation or test batch never sees training curves).
#[derive(Debug, Clone)]
pub struct TripletSampler<'a> {
    set: &'a CausalSet,
    member: Vec<bool>,
}

impl<'a> TripletSampler<'a> {
    /// A sampler over `members` (observation indices of the split; out-of-range ones are errors).
    pub fn new(set: &'a CausalSet, members: &[usize]) -> Result<Self, CausalError> {
        let len = set.observations.len();
        let mut member = vec![false; len];
        for &n in members {
            if n >= len {
                return Err(CausalError::AnchorOutOfRange { anchor: n, len });
            }
            member[n] = true;
        }
        Ok(Self { set, member })
    }

    /// Every observation of the data set as one split.
    pub fn whole(set: &'a CausalSet) -> Self {
        Self { set, member: vec![true; set.observations.len()] }
    }

    /// The triplets of `anchors` (members of the split), partners drawn uniformly from `rng`
    /// (deterministic for a seeded RNG). Errors on an anchor outside the split or without a
    /// partner inside it.
    pub fn batch(&self, anchors: &[usize], rng: &mut impl Rng) -> Result<TripletBatch, CausalError> {
        let set = self.set;
        let len = set.observations.len();
        let (mut star_partners, mut instrument_partners) = (Vec::with_capacity(anchors.len()), Vec::with_capacity(anchors.len()));
        for &anchor in anchors {
            if anchor >= len || !self.member[anchor] {
                return Err(CausalError::AnchorOutOfRange { anchor, len });
            }
            let inside = |partners: Vec<usize>| -> Vec<usize> { partners.into_iter().filter(|&n| self.member[n]).collect() };
            let same_star = inside(set.same_star_other_instrument(anchor));
            let same_instrument = inside(set.same_instrument_other_star(anchor));
            if same_star.is_empty() {
                return Err(CausalError::NoPartner { anchor, which: "same-star" });
            }
            if same_instrument.is_empty() {
                return Err(CausalError::NoPartner { anchor, which: "same-instrument" });
            }
            star_partners.push(same_star[rng.gen_range(0..same_star.len())]);
            instrument_partners.push(same_instrument[rng.gen_range(0..same_instrument.len())]);
        }
        let rows: Vec<usize> = anchors.iter().chain(&star_partners).chain(&instrument_partners).copied().collect();
        let stars = rows.iter().map(|&n| set.observations[n].star).collect();
        let instruments = rows.iter().map(|&n| set.observations[n].instrument).collect();
        Ok(TripletBatch { rows, stars, instruments })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use survey_sim::causal::{simulate, CausalSpec};

    #[test]
    fn partners_share_what_they_should_and_differ_in_the_rest() {
        let set = simulate(&CausalSpec::sized(4, 30, 6, 300)).unwrap();
        let anchors: Vec<usize> = (0..300).step_by(7).collect();
        let batch = TripletSampler::whole(&set).batch(&anchors, &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
        let b = batch.anchors();
        assert_eq!((b, batch.rows.len()), (anchors.len(), 3 * anchors.len()));
        for i in 0..b {
            let (a, s, m) = (batch.rows[i], batch.rows[b + i], batch.rows[2 * b + i]);
            let obs = |n: usize| &set.observations[n];
            assert_eq!(obs(s).star, obs(a).star);
            assert_ne!(obs(s).instrument, obs(a).instrument);
            assert_eq!(obs(m).instrument, obs(a).instrument);
            assert_ne!(obs(m).star, obs(a).star);
            // Every anchor has a positive in both spaces.
            assert!(batch.star_positives().is_positive(i, b + i));
            assert!(batch.instrument_positives().is_positive(i, 2 * b + i));
        }
    }

    #[test]
    fn deterministic_for_a_seed() {
        let set = simulate(&CausalSpec::sized(4, 30, 6, 300)).unwrap();
        let anchors: Vec<usize> = (0..40).collect();
        let draw = |seed| TripletSampler::whole(&set).batch(&anchors, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap();
        assert_eq!(draw(5), draw(5));
        assert_ne!(draw(5).rows, draw(6).rows);
    }

    #[test]
    fn anchors_without_partners_are_errors() {
        // One visit per star: no same-star partner for anyone.
        let set = simulate(&CausalSpec::sized(4, 30, 6, 30)).unwrap();
        let whole = TripletSampler::whole(&set);
        let err = whole.batch(&[3], &mut ChaCha8Rng::seed_from_u64(0)).unwrap_err();
        assert_eq!(err, CausalError::NoPartner { anchor: 3, which: "same-star" });
        let err = whole.batch(&[30], &mut ChaCha8Rng::seed_from_u64(0)).unwrap_err();
        assert_eq!(err, CausalError::AnchorOutOfRange { anchor: 30, len: 30 });
    }

    #[test]
    fn partners_stay_inside_the_split() {
        // Split by star: stars 0-19 train, 20-29 validation.
        let set = simulate(&CausalSpec::sized(4, 30, 6, 300)).unwrap();
        let (train, val): (Vec<usize>, Vec<usize>) = (0..300).partition(|&n| set.observations[n].star < 20);
        let sampler = TripletSampler::new(&set, &val).unwrap();
        let batch = sampler.batch(&val, &mut ChaCha8Rng::seed_from_u64(2)).unwrap();
        assert!(batch.rows.iter().all(|&n| set.observations[n].star >= 20));
        assert!(sampler.batch(&train[..1], &mut ChaCha8Rng::seed_from_u64(2)).is_err());
    }
}
