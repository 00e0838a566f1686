//! Preprocessing and the cosine silhouette score of the official embedding notebook (Fig. A.1).

use std::collections::BTreeMap;

use crate::error::RepresentationError;
use crate::matrix::Matrix;

/// StandardScaler per column (population std; constant columns left at 0) then L2-normalise each
/// row (all-zero rows stay zero), as the official notebook did before the cosine silhouette.
/// Statistics are accumulated in f64. A column counts as constant when its std is 0 or below
/// 1e-12 × (1 + |mean|) (rounding noise of a constant column).
pub fn standardize_then_normalize(m: &mut Matrix) {
    let (rows, cols) = (m.rows, m.cols);
    if rows == 0 || cols == 0 {
        return;
    }
    let mut mean = vec![0.0f64; cols];
    for r in m.data.chunks_exact(cols) {
        for (a, &v) in mean.iter_mut().zip(r) {
            *a += v as f64;
        }
    }
    mean.iter_mut().for_each(|a| *a /= rows as f64);
    let mut var = vec![0.0f64; cols];
    for r in m.data.chunks_exact(cols) {
        for ((a, &v), mu) in var.iter_mut().zip(r).zip(&mean) {
            let c = v as f64 - mu;
            *a += c * c;
        }
    }
    let inv_std: Vec<f64> = var
        .iter()
        .zip(&mean)
        .map(|(v, mu)| {
            let s = (v / rows as f64).sqrt();
            if s > 1e-12 * (1.0 + mu.abs()) {
                1.0 / s
            } else {
                0.0
            }
        })
        .collect();
    let mut row = vec![0.0f64; cols];
    for r in m.data.chunks_exact_mut(cols) {
        let mut norm2 = 0.0f64;
        for (((o, &v), mu), is) in row.iter_mut().zip(r.iter()).zip(&mean).zip(&inv_std) {
            *o = (v as f64 - mu) * is;
            norm2 += *o * *o;
        }
        let inv = if norm2 > 0.0 { 1.0 / norm2.sqrt() } else { 0.0 };
        for (dst, o) in r.iter_mut().zip(&row) {
            *dst = (o * inv) as f32;
        }
    }
}

/// Dot product with 8 independent f32 lanes (vectorises), summed in f64.
fn dot(a: &[f32], b: &[f32]) -> f64 {
    let mut acc = [0.0f32; 8];
    let (ac, ar) = a.split_at(a.len() / 8 * 8);
    let (bc, br) = b.split_at(ac.len());
    for (x, y) in ac.chunks_exact(8).zip(bc.chunks_exact(8)) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s: f64 = acc.iter().map(|&v| v as f64).sum();
    for (x, y) in ar.iter().zip(br) {
        s += (*x as f64) * (*y as f64);
    }
    s
}

/// Cosine distance matrix (N × N, f64), sklearn's `cosine_distances`: rows L2-normalised (zero
/// rows stay zero, distance 1 to everything), d = clip(1 − ⟨x̂, ŷ⟩, 0, 2), diagonal 0.
/// Rows are split across threads; each entry is computed independently, so the result does not
/// depend on the thread count.
pub(crate) fn cosine_distances(x: &Matrix) -> Vec<f64> {
    let (n, c) = (x.rows, x.cols);
    let normed: Vec<f32> = x
        .data
        .chunks_exact(c.max(1))
        .flat_map(|r| {
            let norm = dot(r, r).sqrt();
            let inv = if norm > 0.0 { 1.0 / norm } else { 0.0 };
            r.iter().map(move |&v| (v as f64 * inv) as f32)
        })
        .collect();
    let mut dist = vec![0.0f64; n * n];
    if c == 0 {
        // No features: every vector is zero → distance 1 off the diagonal.
        for i in 0..n {
            for j in 0..n {
                dist[i * n + j] = if i == j { 0.0 } else { 1.0 };
            }
        }
        return dist;
    }
    let threads = std::thread::available_parallelism()
        .map(|t| t.get())
        .unwrap_or(1)
        .clamp(1, 16);
    let rows_per = n.div_ceil(threads).max(1);
    std::thread::scope(|s| {
        for (ti, block) in dist.chunks_mut(rows_per * n).enumerate() {
            let normed = &normed;
            s.spawn(move || {
                for (ri, out) in block.chunks_exact_mut(n).enumerate() {
                    let i = ti * rows_per + ri;
                    let xi = &normed[i * c..(i + 1) * c];
                    for (j, o) in out.iter_mut().enumerate() {
                        *o = if i == j {
                            0.0
                        } else {
                            (1.0 - dot(xi, &normed[j * c..(j + 1) * c])).clamp(0.0, 2.0)
                        };
                    }
                }
            });
        }
    });
    dist
}

/// Mean silhouette coefficient with cosine distance (sklearn semantics: s = (b − a)/max(a, b),
/// a = mean intra-cluster distance excluding self, b = smallest mean distance to another cluster,
/// singleton clusters score 0, 0/0 → 0). Labels are arbitrary `usize` values.
///
/// Errors: fewer than 2 samples, length mismatch, fewer than 2 distinct labels or more than
/// n_samples − 1 (sklearn's valid range), non-finite values.
pub fn silhouette_cosine(x: &Matrix, labels: &[usize]) -> Result<f64, RepresentationError> {
    let n = x.rows;
    if labels.len() != n {
        return Err(RepresentationError::LengthMismatch {
            samples: n,
            labels: labels.len(),
        });
    }
    if n < 2 {
        return Err(RepresentationError::TooFewSamples {
            what: "silhouette",
            min: 2,
            got: n,
        });
    }
    if let Some(index) = x.first_non_finite() {
        return Err(RepresentationError::NonFinite {
            what: "silhouette input",
            index,
        });
    }
    // Dense cluster ids in label order.
    let mut ids: BTreeMap<usize, usize> = BTreeMap::new();
    for &l in labels {
        let next = ids.len();
        ids.entry(l).or_insert(next);
    }
    let k = ids.len();
    if k < 2 || k > n - 1 {
        return Err(RepresentationError::LabelCount {
            present: k,
            max: n - 1,
        });
    }
    let cluster: Vec<usize> = labels.iter().map(|l| ids[l]).collect();
    let mut size = vec![0usize; k];
    for &c in &cluster {
        size[c] += 1;
    }
    let dist = cosine_distances(x);
    let mut total = 0.0f64;
    let mut sums = vec![0.0f64; k];
    for i in 0..n {
        let ci = cluster[i];
        if size[ci] < 2 {
            continue; // singleton: s = 0
        }
        sums.iter_mut().for_each(|s| *s = 0.0);
        for (j, &dij) in dist[i * n..(i + 1) * n].iter().enumerate() {
            sums[cluster[j]] += dij;
        }
        let a = sums[ci] / (size[ci] - 1) as f64;
        let b = (0..k)
            .filter(|&c| c != ci)
            .map(|c| sums[c] / size[c] as f64)
            .fold(f64::INFINITY, f64::min);
        let m = a.max(b);
        if m > 0.0 {
            total += (b - a) / m;
        }
    }
    Ok(total / n as f64)
}
