//! A masked GRU with `tf.keras.layers.GRU` semantics, built from dfdx tensor ops (dfdx 0.13 has no
//! recurrent layers), so autograd handles back-propagation through time.
//!
//! Keras defaults: `activation = tanh`, `recurrent_activation = sigmoid`, `reset_after = True`,
//! `use_bias = True` with an input bias and a recurrent bias (Keras stores them as one (2, 3U)
//! tensor), gate order z, r, h in the kernels:
//!
//! ```text
//! z  = σ(x Wz + bz + h Uz + rbz)
//! r  = σ(x Wr + br + h Ur + rbr)
//! hh = tanh(x Wh + bh + r ⊙ (h Uh + rbh))
//! h' = z ⊙ h + (1 − z) ⊙ hh
//! ```
//!
//! Masking follows Keras: at a padded step the state is carried unchanged. Windows are
//! right-padded, so the output is the state after the last valid step.

use astromer::layers::{cached_tensor, Dense, ParamMut, ParamRef, Tensor2, Tensor3};
use dfdx::prelude::*;
use rand::Rng;

/// GRU layer, Keras layout: `input.weight` is the kernel (in, 3U), `input.bias` the input bias
/// (3U,), `recurrent.weight` the recurrent kernel (U, 3U), `recurrent.bias` the recurrent bias
/// (3U,); columns `0..U` are the update gate z, `U..2U` the reset gate r, `2U..3U` the candidate.
///
/// Initialisation as Keras: glorot-uniform kernel, **orthogonal** recurrent kernel (rows
/// orthonormal, Gram–Schmidt on a Gaussian matrix, as `tf.keras.initializers.Orthogonal` with
/// gain 1), zero biases.
#[derive(Clone, Debug)]
pub struct Gru<D: Device<f32>> {
    /// x W + b: kernel (in, 3U) and input bias (3U,).
    pub input: Dense<D>,
    /// h U + rb: recurrent kernel (U, 3U) and recurrent bias (3U,).
    pub recurrent: Dense<D>,
}

impl<D: Device<f32>> Gru<D> {
    /// A fresh layer with Keras's default initialisers.
    pub fn new(dev: &D, input: usize, units: usize, rng: &mut impl Rng) -> Self {
        let input = Dense::new(dev, input, 3 * units, rng);
        let recurrent = Dense {
            weight: dev.tensor_from_vec(orthogonal(units, 3 * units, rng), (units, 3 * units)),
            bias: dev.zeros_like(&(3 * units,)),
        };
        Self { input, recurrent }
    }

    pub fn input_features(&self) -> usize {
        self.input.in_features()
    }

    pub fn units(&self) -> usize {
        self.recurrent.in_features()
    }

    /// x: (B, L, in), right-padded: row b has `n_valid[b]` real steps (≤ L; a 0 gives the zero
    /// state). Returns the state after each row's last valid step, (B, units). Only the first
    /// `max(n_valid)` steps are computed.
    ///
    /// Panics if `n_valid.len() != B` or the input width is not `in` (programming errors; the
    /// models validate their inputs).
    pub fn forward<T: Tape<f32, D> + 'static>(
        &self,
        x: Tensor3<D, T>,
        n_valid: &[usize],
    ) -> Tensor2<D, T> {
        let (b, l, i) = *x.shape();
        let u = self.units();
        assert_eq!(n_valid.len(), b, "one n_valid per batch row");
        assert_eq!(i, self.input_features(), "GRU input width");
        let steps = n_valid.iter().copied().max().unwrap_or(0).min(l);
        let dev = x.device().clone();
        // Input projection of every step at once: (B·L, in) · (in, 3U) + b.
        let xp = self.input.forward(x.reshape_like(&(b * l, i)));
        // The whole recurrence as one fused op on the CPU (same states, bit for bit; analytic
        // backward through time), else the per-step ops below.
        let xp = match astromer::kernels::gru_recurrence(xp, &self.recurrent.weight, &self.recurrent.bias, (b, l), n_valid) {
            Ok(h) => return h,
            Err(xp) => xp.reshape_like(&(b, l, 3 * u)),
        };
        let (xp, tape) = xp.split_tape();
        // Per-step keep masks, negated: −1 at a valid step, 0 at padding; row t is step t.
        let neg_keep: Vec<f32> = (0..steps.max(1))
            .flat_map(|t| n_valid.iter().map(move |&n| if t < n { -1.0 } else { 0.0 }))
            .collect();
        let neg_keep: Tensor2<D> = cached_tensor(&dev, &neg_keep, (steps.max(1), b));
        let mut h: Tensor2<D, T> = dev.zeros_like(&(b, u)).put_tape(tape);
        for t in 0..steps {
            let (h_v, tape) = h.split_tape();
            let xs = xp
                .clone()
                .put_tape(tape)
                .slice((.., t..t + 1, ..))
                .reshape_like(&(b, 3 * u));
            let hp = self.recurrent.forward(h_v.retaped::<T>());
            let (xs, xs_tape) = xs.split_tape();
            let (hp, hp_tape) = hp.split_tape();
            // z and r together: σ(x W_zr + b_zr + h U_zr + rb_zr).
            let gates = (xs.clone().put_tape(xs_tape).slice((.., 0..2 * u))
                + hp.clone().put_tape(hp_tape).slice((.., 0..2 * u)))
            .sigmoid();
            let (gates, g_tape) = gates.split_tape();
            let z = gates.clone().put_tape(g_tape).slice((.., 0..u));
            let r = gates.retaped::<T>().slice((.., u..2 * u));
            let cand = (xs.retaped::<T>().slice((.., 2 * u..))
                + r * hp.retaped::<T>().slice((.., 2 * u..)))
            .tanh();
            // h' = h + keep·(1 − z)·(hh − h); keep·(1 − z) = (z − 1)·(−keep).
            let nk = neg_keep
                .clone()
                .slice((t..t + 1, ..))
                .reshape_like(&(b,))
                .broadcast_like::<_, Axis<1>>(&(b, u));
            let step = (z - 1.0) * nk;
            h = (cand - h_v.retaped::<T>()) * step + h_v;
        }
        h
    }

    pub(crate) fn params<'a>(&'a self, out: &mut Vec<ParamRef<'a, D>>) {
        out.push(ParamRef::R2(&self.input.weight));
        out.push(ParamRef::R1(&self.input.bias));
        out.push(ParamRef::R2(&self.recurrent.weight));
        out.push(ParamRef::R1(&self.recurrent.bias));
    }

    pub(crate) fn params_mut<'a>(&'a mut self, out: &mut Vec<ParamMut<'a, D>>) {
        out.push(ParamMut::R2(&mut self.input.weight));
        out.push(ParamMut::R1(&mut self.input.bias));
        out.push(ParamMut::R2(&mut self.recurrent.weight));
        out.push(ParamMut::R1(&mut self.recurrent.bias));
    }
}

/// Keras `Orthogonal` (gain 1) for a (rows, cols) kernel with rows ≤ cols: the rows are
/// orthonormal. Gram–Schmidt of `rows` Gaussian vectors of length `cols` (positive diagonal of R,
/// as Keras's sign correction). Falls back to the transposed construction when rows > cols.
fn orthogonal(rows: usize, cols: usize, rng: &mut impl Rng) -> Vec<f32> {
    let (n, len) = (rows.min(cols), rows.max(cols));
    let mut v: Vec<Vec<f64>> = (0..n)
        .map(|_| (0..len).map(|_| gaussian(rng)).collect())
        .collect();
    for j in 0..n {
        for k in 0..j {
            let dot: f64 = v[j].iter().zip(&v[k]).map(|(a, b)| a * b).sum();
            let (done, rest) = v.split_at_mut(j);
            for (a, b) in rest[0].iter_mut().zip(&done[k]) {
                *a -= dot * b;
            }
        }
        let norm = v[j].iter().map(|a| a * a).sum::<f64>().sqrt().max(1e-12);
        v[j].iter_mut().for_each(|a| *a /= norm);
    }
    if rows <= cols {
        v.into_iter().flatten().map(|a| a as f32).collect()
    } else {
        (0..rows)
            .flat_map(|r| v.iter().map(move |col| col[r] as f32))
            .collect()
    }
}

/// Standard normal (Box–Muller).
fn gaussian(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn sigmoid(v: f64) -> f64 {
        1.0 / (1.0 + (-v).exp())
    }

    /// The Keras equations in f64: kernel `w` (in, 3U), recurrent `uk` (U, 3U), row-major.
    fn reference(
        w: &[f64],
        b: &[f64],
        uk: &[f64],
        rb: &[f64],
        xs: &[Vec<f64>],
        units: usize,
    ) -> Vec<f64> {
        let n_in = w.len() / (3 * units);
        let mut h = vec![0.0; units];
        for x in xs {
            let proj = |c: usize, h: &[f64]| -> (f64, f64) {
                let xw: f64 = (0..n_in).map(|i| x[i] * w[i * 3 * units + c]).sum::<f64>() + b[c];
                let hu: f64 = (0..units)
                    .map(|k| h[k] * uk[k * 3 * units + c])
                    .sum::<f64>()
                    + rb[c];
                (xw, hu)
            };
            let mut next = vec![0.0; units];
            for j in 0..units {
                let (xz, hz) = proj(j, &h);
                let (xr, hr) = proj(units + j, &h);
                let (xh, hh) = proj(2 * units + j, &h);
                let z = sigmoid(xz + hz);
                let r = sigmoid(xr + hr);
                let cand = (xh + r * hh).tanh();
                next[j] = z * h[j] + (1.0 - z) * cand;
            }
            h = next;
        }
        h
    }

    fn hand_gru(dev: &Cpu) -> (Gru<Cpu>, [Vec<f64>; 4]) {
        // input 1, units 2: columns z0 z1 r0 r1 h0 h1.
        let w = vec![0.5, -0.3, 0.8, 0.1, -0.6, 0.9];
        let b = vec![0.1, 0.0, -0.2, 0.05, 0.3, -0.1];
        let uk = vec![
            0.2, -0.4, 0.3, 0.7, -0.5, 0.25, /* row 2 */ 0.6, 0.1, -0.3, 0.4, 0.35, -0.8,
        ];
        let rb = vec![-0.05, 0.2, 0.1, -0.1, 0.15, 0.4];
        let f = |v: &Vec<f64>| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
        let gru = Gru {
            input: Dense {
                weight: dev.tensor_from_vec(f(&w), (1, 6)),
                bias: dev.tensor_from_vec(f(&b), (6,)),
            },
            recurrent: Dense {
                weight: dev.tensor_from_vec(f(&uk), (2, 6)),
                bias: dev.tensor_from_vec(f(&rb), (6,)),
            },
        };
        (gru, [w, b, uk, rb])
    }

    #[test]
    fn matches_hand_computed_keras_equations_and_carries_state_over_padding() {
        let dev = Cpu::default();
        let (gru, [w, b, uk, rb]) = hand_gru(&dev);
        // Row 0: three valid steps. Row 1: the same first two steps, then padding holding junk.
        let x: Tensor3<Cpu> = dev.tensor_from_vec(vec![0.7, -1.2, 0.4, 0.7, -1.2, 5.0], (2, 3, 1));
        let h = gru.forward(x, &[3, 2]).as_vec();
        let three = reference(&w, &b, &uk, &rb, &[vec![0.7], vec![-1.2], vec![0.4]], 2);
        let two = reference(&w, &b, &uk, &rb, &[vec![0.7], vec![-1.2]], 2);
        let expected = [three, two].concat();
        for (got, want) in h.iter().zip(&expected) {
            assert!(
                (*got as f64 - want).abs() < 1e-6,
                "got {h:?}, want {expected:?}"
            );
        }
        // The padded row really differs from the full one (the test would be vacuous otherwise).
        assert!((expected[0] - expected[2]).abs() > 1e-3);
    }

    #[test]
    fn one_unit_two_steps_against_numbers_worked_by_hand() {
        // Keras column order z, r, h. Step 1 (x = 1, h = 0): z = σ(0.5 + 0.1) = 0.645656,
        // r = σ(−0.5 + 0.1) = 0.401312, hh = tanh(1 − 0.1 + r·(0 + 0.2)) = tanh(0.980262) = 0.753180,
        // h1 = (1 − z)·hh = 0.266884. Step 2 (x = −2): z = σ(−1 + 0.1 + 0.2·h1) = σ(−0.846623) =
        // 0.300142, r = σ(1 + 0.3·h1 + 0.1) = σ(1.180065) = 0.764960, hh = tanh(−2 − 0.1 +
        // r·(−0.4·h1 + 0.2)) = tanh(−2.028669) = −0.965998, h2 = z·h1 + (1 − z)·hh = −0.595959.
        let dev = Cpu::default();
        let gru = Gru {
            input: Dense {
                weight: dev.tensor_from_vec(vec![0.5, -0.5, 1.0], (1, 3)),
                bias: dev.tensor_from_vec(vec![0.1, 0.0, -0.1], (3,)),
            },
            recurrent: Dense {
                weight: dev.tensor_from_vec(vec![0.2, 0.3, -0.4], (1, 3)),
                bias: dev.tensor_from_vec(vec![0.0, 0.1, 0.2], (3,)),
            },
        };
        let x: Tensor3<Cpu> = dev.tensor_from_vec(vec![1.0, -2.0, 1.0, -2.0], (2, 2, 1));
        let h = gru.forward(x, &[2, 1]).as_vec();
        assert!((h[0] - (-0.595_959)).abs() < 1e-5, "{h:?}");
        assert!((h[1] - 0.266_884).abs() < 1e-5, "{h:?}");
    }

    #[test]
    fn padded_window_gives_the_truncated_windows_state() {
        let dev = Cpu::default();
        let gru = Gru::new(&dev, 3, 5, &mut ChaCha8Rng::seed_from_u64(7));
        let real: Vec<f32> = (0..9).map(|i| (i as f32 * 0.37).sin()).collect(); // 3 steps × 3
        let mut padded = real.clone();
        padded.extend([9.0, -9.0, 4.0, 2.0, 2.0, 2.0]); // 2 junk padding steps
        let full: Tensor3<Cpu> = dev.tensor_from_vec(padded, (1, 5, 3));
        let short: Tensor3<Cpu> = dev.tensor_from_vec(real, (1, 3, 3));
        let a = gru.forward(full, &[3]).as_vec();
        let b = gru.forward(short, &[3]).as_vec();
        assert_eq!(a, b);
        assert!(a.iter().any(|&v| v.abs() > 1e-3));
    }

    #[test]
    fn recurrent_kernel_is_orthogonal() {
        let dev = Cpu::default();
        let gru = Gru::new(&dev, 2, 4, &mut ChaCha8Rng::seed_from_u64(1));
        let q = gru.recurrent.weight.as_vec();
        for i in 0..4 {
            for j in 0..4 {
                let dot: f32 = (0..12).map(|c| q[i * 12 + c] * q[j * 12 + c]).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-5, "rows {i}, {j}: {dot}");
            }
        }
        assert!(gru
            .input
            .bias
            .as_vec()
            .iter()
            .chain(&gru.recurrent.bias.as_vec())
            .all(|&v| v == 0.0));
    }

    /// loss = Σ h ⊙ c over a batch with one padded row.
    fn loss_and_grads(gru: &Gru<Cpu>, x: &[f32]) -> (f32, Vec<Vec<f32>>) {
        let dev = Cpu::default();
        let mut grads: Gradients<f32, Cpu> = Gradients::leaky();
        let mut ps = Vec::new();
        gru.params(&mut ps);
        for p in &ps {
            match p {
                ParamRef::R1(t) => grads.try_alloc_for(*t).unwrap(),
                ParamRef::R2(t) => grads.try_alloc_for(*t).unwrap(),
            }
        }
        let x: Tensor3<Cpu, _> = dev.tensor_from_vec(x.to_vec(), (2, 4, 2)).traced(grads);
        let h = gru.forward(x, &[4, 2]);
        let c: Tensor2<Cpu> = dev.tensor_from_vec(vec![1.0, -2.0, 0.5, 1.5, 0.3, -1.0], (2, 3));
        let loss = (h * c).sum::<(), _>();
        let value = loss.retaped::<NoneTape>().as_vec()[0];
        let g = loss.backward();
        let grads = ps
            .iter()
            .map(|p| match p {
                ParamRef::R1(t) => g.get(*t).as_vec(),
                ParamRef::R2(t) => g.get(*t).as_vec(),
            })
            .collect();
        (value, grads)
    }

    #[test]
    fn gradients_match_finite_differences() {
        let dev = Cpu::default();
        let mut gru = Gru::new(&dev, 2, 3, &mut ChaCha8Rng::seed_from_u64(3));
        // Non-zero biases so that their gradients are exercised at a generic point.
        gru.input.bias = dev.tensor_from_vec((0..9).map(|i| 0.1 * i as f32 - 0.4).collect(), (9,));
        gru.recurrent.bias =
            dev.tensor_from_vec((0..9).map(|i| 0.3 - 0.07 * i as f32).collect(), (9,));
        let x: Vec<f32> = (0..16).map(|i| (i as f32 * 0.9).cos()).collect();
        let (_, analytic) = loss_and_grads(&gru, &x);
        let eps = 1e-2f32;
        for (pi, g) in analytic.iter().enumerate() {
            assert!(
                g.iter().any(|&v| v.abs() > 1e-4),
                "parameter {pi} got no gradient"
            );
            for k in 0..g.len() {
                let perturbed = |delta: f32| {
                    let mut m = gru.clone();
                    let mut ps = Vec::new();
                    m.params_mut(&mut ps);
                    let p = &mut ps[pi];
                    let mut v = match p {
                        ParamMut::R1(t) => t.as_vec(),
                        ParamMut::R2(t) => t.as_vec(),
                    };
                    v[k] += delta;
                    p.set(v);
                    drop(ps);
                    loss_and_grads(&m, &x).0
                };
                let fd = (perturbed(eps) - perturbed(-eps)) / (2.0 * eps);
                assert!(
                    (fd - g[k]).abs() < 2e-3 + 2e-2 * fd.abs(),
                    "param {pi}[{k}]: analytic {}, numeric {fd}",
                    g[k]
                );
            }
        }
    }

    /// Output, loss gradients of the four parameters and of the input, for a loss Σ h ⊙ c.
    fn outputs_and_grads(gru: &Gru<Cpu>, x: &[f32], (b, l, i): (usize, usize, usize), n_valid: &[usize]) -> (Vec<f32>, Vec<Vec<f32>>) {
        let dev = Cpu::default();
        let x: Tensor3<Cpu> = dev.tensor_from_vec(x.to_vec(), (b, l, i));
        let mut grads: Gradients<f32, Cpu> = Gradients::leaky();
        let mut ps = Vec::new();
        gru.params(&mut ps);
        for p in &ps {
            match p {
                ParamRef::R1(t) => grads.try_alloc_for(*t).unwrap(),
                ParamRef::R2(t) => grads.try_alloc_for(*t).unwrap(),
            }
        }
        grads.try_alloc_for(&x).unwrap();
        let h = gru.forward(x.clone().traced(grads), n_valid);
        let out = h.retaped::<NoneTape>().as_vec();
        let u = gru.units();
        let c: Tensor2<Cpu> = dev.tensor_from_vec((0..b * u).map(|k| (k as f32 * 0.61).sin() + 0.2).collect(), (b, u));
        let g = (h * c).sum::<(), _>().backward();
        let mut all: Vec<Vec<f32>> = ps
            .iter()
            .map(|p| match p {
                ParamRef::R1(t) => g.get(*t).as_vec(),
                ParamRef::R2(t) => g.get(*t).as_vec(),
            })
            .collect();
        all.push(g.get(&x).as_vec());
        (out, all)
    }

    #[test]
    fn fused_recurrence_equals_the_per_step_ops() {
        let dev = Cpu::default();
        let (b, l, i, u) = (5, 9, 3, 17);
        let mut gru = Gru::new(&dev, i, u, &mut ChaCha8Rng::seed_from_u64(11));
        gru.input.bias = dev.tensor_from_vec((0..3 * u).map(|k| 0.05 * (k % 7) as f32 - 0.15).collect(), (3 * u,));
        gru.recurrent.bias = dev.tensor_from_vec((0..3 * u).map(|k| 0.2 - 0.03 * (k % 11) as f32).collect(), (3 * u,));
        let x: Vec<f32> = (0..b * l * i).map(|k| (k as f32 * 0.37).cos() * 1.5).collect();
        // Full, shorter, empty and nearly full rows: padding, the zero state and masking.
        let n_valid = [9, 4, 0, 8, 1];
        let (fast, fast_g) = outputs_and_grads(&gru, &x, (b, l, i), &n_valid);
        let (generic, generic_g) = astromer::kernels::with_generic_kernels(|| outputs_and_grads(&gru, &x, (b, l, i), &n_valid));
        // The forward pass does the generic ops in their order: the same bits.
        assert_eq!(fast, generic);
        assert!(fast[2 * u..3 * u].iter().all(|&v| v == 0.0), "an empty row keeps the zero state");
        let names = ["input kernel", "input bias", "recurrent kernel", "recurrent bias", "input"];
        for ((f, g), name) in fast_g.iter().zip(&generic_g).zip(names) {
            assert_eq!(f.len(), g.len());
            assert!(g.iter().any(|&v| v.abs() > 1e-3), "{name}: no gradient to compare");
            for (k, (a, e)) in f.iter().zip(g).enumerate() {
                assert!((a - e).abs() <= 1e-5 * (1.0 + e.abs()), "{name}[{k}]: fused {a}, generic {e}");
            }
        }
        // Padded steps of the input get no gradient.
        let gx = &fast_g[4];
        for (row, &n) in n_valid.iter().enumerate() {
            for t in n..l {
                assert!(gx[(row * l + t) * i..(row * l + t + 1) * i].iter().all(|&v| v == 0.0), "row {row} step {t}");
            }
        }
    }
}
