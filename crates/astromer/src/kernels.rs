//! CPU fast paths for the two operations that dominate a training step: the Dense layer
//! (`x·W + b`) and multi-head scaled-dot-product attention.
//!
//! Why: dfdx 0.13 runs matmuls through `gemm` 0.15, which has no AVX-512 kernels on stable Rust,
//! and builds attention from many separate passes over (B, H, L, L) tensors (scale, bias
//! broadcast, softmax as max/sub/exp/sum/div, each with its own backward and its own buffer), plus
//! two permute copies per Q/K/V. Here:
//! - matmuls call [`crate::matmul`], whose products have the same bits on every CPU and thread
//!   count (`gemm`, which dfdx uses, sums in an order that depends on the instruction set and the
//!   cache sizes);
//! - the Dense bias is fused into the GEMM (rows pre-filled with the bias, GEMM accumulates);
//! - attention is one op per (window, head): logits, bias, softmax and P·V in one pass over an
//!   L×L tile, reading Q/K/V straight from the (B·L, d) activations (no permute copies); the
//!   backward is the analytic softmax backward. The softmax probabilities are the only saved
//!   (B, H, L, L) tensor; the constant mask bias never enters the tape.
//!
//! Besides those two, the elementwise work around them is fused (dfdx ran each as one or more
//! generic broadcast passes with their own buffers and backward passes):
//! - [`layer_norm`]: LayerNorm, optionally with the post-LN residual add, `LN(x + r)`, in one pass
//!   per row (statistics, normalisation, γ/β), saving x̂ and 1/σ; analytic backward for x (= r), γ,
//!   β with fixed-size row tasks, so the γ/β sums do not depend on the thread count;
//! - [`tanh`]: the FFN activation in one pass with [`fast_tanh`] (a vectorisable rational, ≤ 4.4e-7
//!   from the exact tanh; glibc's `tanhf` cost ≈ 20 ns a value), backward dY·(1 − y²) from the
//!   saved output;
//! - the attention softmax uses [`fast_exp`] (vectorised; ≈ 1 ulp), and its probabilities come
//!   from dfdx's buffer cache instead of a fresh `Vec`.
//!
//! The ops are written against `Cpu` and selected at run time by downcasting (the model stays
//! generic over the device; any other device — CUDA — uses the generic dfdx path, which is the
//! reference). [`with_generic_kernels`] forces the generic path on the CPU too, so tests can check
//! that both agree.

use std::any::Any;
use std::cell::Cell;

use dfdx::prelude::*;
use rayon::prelude::*;

use crate::layers::{Tensor1, Tensor2};

thread_local! {
    static FORCE_GENERIC: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with the generic dfdx kernels forced on this thread (reference path for tests and
/// benchmarks). Thread-local: other threads (other tests) are unaffected.
pub fn with_generic_kernels<R>(f: impl FnOnce() -> R) -> R {
    let old = FORCE_GENERIC.with(|c| c.replace(true));
    let out = f();
    FORCE_GENERIC.with(|c| c.set(old));
    out
}

fn fast_enabled() -> bool {
    !FORCE_GENERIC.with(|c| c.get())
}

/// `Tensor<S, f32, D, T>` → the same tensor typed as `Cpu` with tape `T2`, if those are the types.
fn cast<Src: 'static, Dst: 'static>(x: Src) -> Result<Dst, Src> {
    let b: Box<dyn Any> = Box::new(x);
    match b.downcast::<Dst>() {
        Ok(v) => Ok(*v),
        Err(b) => Err(*b.downcast::<Src>().expect("same type")),
    }
}

type CpuOwned = OwnedTape<f32, Cpu>;

/// Runs `$call` (an expression in `$x`) on the (rows, cols) tensor `$input` retyped as a `Cpu`
/// tensor with an owned or no tape, and types the result back; any other device or tape gives the
/// input back as `Err` (the caller then takes dfdx's generic path). Used inside fns generic over
/// `D` and `T`, where `$input: Tensor2<D, T>`.
macro_rules! on_cpu_tensor2 {
    ($input:expr, |$x:ident| $call:expr) => {{
        let input = $input;
        let input = match cast::<Tensor2<D, T>, Tensor2<Cpu, CpuOwned>>(input) {
            Ok($x) => {
                return match $call {
                    Ok(y) => Ok(cast(y).ok().expect("same type")),
                    Err(x) => Err(cast(x).ok().expect("same type")),
                }
            }
            Err(x) => x,
        };
        match cast::<Tensor2<D, T>, Tensor2<Cpu, NoneTape>>(input) {
            Ok($x) => match $call {
                Ok(y) => Ok(cast(y).ok().expect("same type")),
                Err(x) => Err(cast(x).ok().expect("same type")),
            },
            Err(x) => Err(x),
        }
    }};
}

/// Raw pointer that may cross rayon threads: every task writes a disjoint region (also used by
/// [`crate::matmul`]).
#[derive(Clone, Copy)]
pub(crate) struct SyncPtr(pub(crate) *mut f32);
unsafe impl Send for SyncPtr {}
unsafe impl Sync for SyncPtr {}
impl SyncPtr {
    // A method (not `.0`) so closures capture the whole `SyncPtr`, which is `Send + Sync`.
    pub(crate) fn get(self) -> *mut f32 {
        self.0
    }
}

// dfdx 0.13 exposes no borrow of a CPU tensor's buffer; indexing does (`Index` returns a
// reference into the buffer, `IndexMut` goes through `Arc::make_mut`, which does not copy a
// uniquely owned buffer). dfdx tensors never have an offset, so element [0, …, 0] is the start of
// the buffer, and a tensor whose element strides (measured from addresses) are row-major holds its
// `numel` values contiguously from there.

/// Start of a row-major (rows, cols) Cpu tensor's buffer, or `None` if it is strided/broadcast.
fn ptr2<T>(t: &Tensor<(usize, usize), f32, Cpu, T>) -> Option<*const f32> {
    let (r, c) = *t.shape();
    if r == 0 || c == 0 {
        return None;
    }
    let p0 = &t[[0, 0]] as *const f32;
    let ok_row = r == 1 || unsafe { (&t[[1, 0]] as *const f32).offset_from(p0) } == c as isize;
    let ok_col = c == 1 || unsafe { (&t[[0, 1]] as *const f32).offset_from(p0) } == 1;
    (ok_row && ok_col).then_some(p0)
}

fn ptr1<T>(t: &Tensor<(usize,), f32, Cpu, T>) -> Option<*const f32> {
    let n = t.shape().0;
    if n == 0 {
        return None;
    }
    let p0 = &t[[0]] as *const f32;
    (n == 1 || unsafe { (&t[[1]] as *const f32).offset_from(p0) } == 1).then_some(p0)
}

fn ptr3<T>(t: &Tensor<(usize, usize, usize), f32, Cpu, T>) -> Option<*const f32> {
    let (a, b, c) = *t.shape();
    if a == 0 || b == 0 || c == 0 {
        return None;
    }
    let p0 = &t[[0, 0, 0]] as *const f32;
    let s = |idx: [usize; 3]| unsafe { (&t[idx] as *const f32).offset_from(p0) };
    let ok = (a == 1 || s([1, 0, 0]) == (b * c) as isize)
        && (b == 1 || s([0, 1, 0]) == c as isize)
        && (c == 1 || s([0, 0, 1]) == 1);
    ok.then_some(p0)
}

/// A new (rows, cols) Cpu tensor from dfdx's buffer cache, and a pointer to write its values.
/// (A `Vec` handed to `tensor_from_vec` would enter the cache on drop and never be popped again,
/// growing the cache every step.)
fn new_tensor(dev: &Cpu, shape: (usize, usize)) -> (Tensor2<Cpu>, *mut f32) {
    let mut t: Tensor2<Cpu> = dev.zeros_like(&shape);
    let p = &mut t[[0, 0]] as *mut f32;
    (t, p)
}

/// C (m×n) ← [C +] beta·A·B with explicit (row, column) strides; `read_dst` false ignores C.
/// [`crate::matmul`]: the same bits on every CPU and thread count.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_raw(
    mnk: (usize, usize, usize),
    dst: *mut f32,
    dst_strides: (usize, usize),
    read_dst: bool,
    lhs: *const f32,
    lhs_strides: (usize, usize),
    rhs: *const f32,
    rhs_strides: (usize, usize),
    beta: f32,
    parallel: bool,
) {
    crate::matmul::matmul(mnk, dst, dst_strides, read_dst, lhs, lhs_strides, rhs, rhs_strides, beta, parallel);
}

// ---------------------------------------------------------------------------------------------
// Adam

/// Adam's update of one CPU parameter in a single pass over its buffer, in place:
/// m += (g − m)(1 − β1); v += (g² − v)(1 − β2); p −= α·m / (√v + ε). dfdx ran this as eight
/// generic elementwise ops, each allocating a fresh parameter-sized buffer; for a classifier head
/// (0.8 M parameters, batch 32) that was most of a training step. The f32 operations are the
/// generic path's, in its order (Rust does not contract them into FMAs), so both give the same
/// bits. `false` (nothing touched) when the fast path does not apply.
pub(crate) fn adam_update<D: Device<f32>>(
    param: &mut crate::layers::ParamMut<'_, D>,
    grads: &Gradients<f32, D>,
    m: &mut Tensor1<D>,
    v: &mut Tensor1<D>,
    (one_minus_b1, one_minus_b2, alpha, eps): (f32, f32, f32, f32),
) -> bool {
    use crate::layers::ParamMut;
    if !fast_enabled() {
        return false;
    }
    let (Some(grads), Some(m), Some(v)) = (
        (grads as &dyn Any).downcast_ref::<Gradients<f32, Cpu>>(),
        (m as &mut dyn Any).downcast_mut::<Tensor1<Cpu>>(),
        (v as &mut dyn Any).downcast_mut::<Tensor1<Cpu>>(),
    ) else {
        return false;
    };
    // The gradient (a copy, as the generic path takes) and a writable view of the parameter.
    let (g, p, n) = match param {
        ParamMut::R1(t) => {
            let Some(t) = (&mut **t as &mut dyn Any).downcast_mut::<Tensor1<Cpu>>() else {
                return false;
            };
            if ptr1(t).is_none() {
                return false;
            }
            let g = grads.get(&*t);
            let n = t.shape().0;
            (g.reshape_like(&(n,)), &mut t[[0]] as *mut f32, n)
        }
        ParamMut::R2(t) => {
            let Some(t) = (&mut **t as &mut dyn Any).downcast_mut::<Tensor2<Cpu>>() else {
                return false;
            };
            if ptr2(t).is_none() {
                return false;
            }
            let g = grads.get(&*t);
            let n = t.shape().0 * t.shape().1;
            (g.reshape_like(&(n,)), &mut t[[0, 0]] as *mut f32, n)
        }
    };
    let (Some(gp), Some(_), Some(_)) = (ptr1(&g), ptr1(m), ptr1(v)) else {
        return false;
    };
    if m.shape().0 != n || v.shape().0 != n {
        return false;
    }
    // IndexMut makes a buffer shared with a clone (a kept best-epoch copy) unique first.
    let (mp, vp) = (&mut m[[0]] as *mut f32, &mut v[[0]] as *mut f32);
    unsafe {
        let (g, p) = (std::slice::from_raw_parts(gp, n), std::slice::from_raw_parts_mut(p, n));
        let (m, v) = (std::slice::from_raw_parts_mut(mp, n), std::slice::from_raw_parts_mut(vp, n));
        for i in 0..n {
            let gi = g[i];
            let mi = m[i] + (gi - m[i]) * one_minus_b1;
            let vi = v[i] + (gi * gi - v[i]) * one_minus_b2;
            p[i] -= (mi * alpha) / (vi.sqrt() + eps);
            m[i] = mi;
            v[i] = vi;
        }
    }
    true
}

// ---------------------------------------------------------------------------------------------
// Dense

/// `x·W + b` for x (N, in), W (in, out), b (out,) on the CPU fast path; `Err(x)` when it does not
/// apply (another device, generic kernels forced, strided input), and the caller runs dfdx ops.
pub(crate) fn dense<D: Device<f32>, T: Tape<f32, D> + 'static>(
    x: Tensor2<D, T>,
    w: &Tensor2<D>,
    b: &Tensor1<D>,
) -> Result<Tensor2<D, T>, Tensor2<D, T>> {
    if !fast_enabled() {
        return Err(x);
    }
    let (Some(w), Some(b)) = (
        (w as &dyn Any).downcast_ref::<Tensor2<Cpu>>(),
        (b as &dyn Any).downcast_ref::<Tensor1<Cpu>>(),
    ) else {
        return Err(x);
    };
    on_cpu_tensor2!(x, |x| dense_cpu(x, w, b))
}

fn dense_cpu<T: Tape<f32, Cpu>>(
    x: Tensor2<Cpu, T>,
    w: &Tensor2<Cpu>,
    b: &Tensor1<Cpu>,
) -> Result<Tensor2<Cpu, T>, Tensor2<Cpu, T>> {
    let (n, i) = *x.shape();
    let o = w.shape().1;
    let (Some(xp), Some(wp), Some(bp)) = (ptr2(&x), ptr2(w), ptr1(b)) else {
        return Err(x);
    };
    assert_eq!(w.shape().0, i, "Dense input width");
    assert_eq!(b.shape().0, o, "Dense bias width");
    let (x, mut tape) = x.split_tape();
    let (out, op) = new_tensor(x.device(), (n, o));
    unsafe {
        // Rows pre-filled with the bias, then out += x·W.
        let bias = std::slice::from_raw_parts(bp, o);
        for r in 0..n {
            std::ptr::copy_nonoverlapping(bias.as_ptr(), op.add(r * o), o);
        }
        gemm_raw(
            (n, o, i),
            op,
            (o, 1),
            true,
            xp,
            (i, 1),
            wp,
            (o, 1),
            1.0,
            true,
        );
    }
    if T::OWNS_TAPE {
        let (out_g, w_g, b_g, x_g) = (out.ghost(), w.ghost(), b.ghost(), x.ghost());
        // Keep x and W alive for the backward pass (the pointers above point into them).
        let (x, w) = (x.clone(), w.clone());
        tape.add_backward_op(move |grads: &mut Gradients<f32, Cpu>| {
            let (xp, wp) = (ptr2(&x).unwrap(), ptr2(&w).unwrap());
            // Take dY out of the gradient map while the input/parameter gradients are written.
            let gy = std::mem::take(&mut **grads.get_or_alloc_mut(&out_g)?);
            unsafe {
                // dX += dY·Wᵀ
                let gx = grads.get_or_alloc_mut(&x_g)?;
                gemm_raw(
                    (n, i, o),
                    gx.as_mut_ptr(),
                    (i, 1),
                    true,
                    gy.as_ptr(),
                    (o, 1),
                    wp,
                    (1, o),
                    1.0,
                    true,
                );
                // dW += Xᵀ·dY
                let gw = grads.get_or_alloc_mut(&w_g)?;
                gemm_raw(
                    (i, o, n),
                    gw.as_mut_ptr(),
                    (o, 1),
                    true,
                    xp,
                    (1, i),
                    gy.as_ptr(),
                    (o, 1),
                    1.0,
                    true,
                );
            }
            // db += Σ_rows dY (sequential, hence deterministic).
            let mut acc = vec![0.0f32; o];
            for row in gy.chunks_exact(o) {
                for (a, g) in acc.iter_mut().zip(row) {
                    *a += g;
                }
            }
            let gb = grads.get_or_alloc_mut(&b_g)?;
            for (g, a) in gb.iter_mut().zip(&acc) {
                *g += a;
            }
            **grads.get_or_alloc_mut(&out_g)? = gy;
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

// ---------------------------------------------------------------------------------------------
// Attention

/// Additive logit bias of the attention op (a constant: it gets no gradient).
pub(crate) enum BiasRef<'a, D: Device<f32>> {
    /// (B, L_key), broadcast over heads and queries.
    Key(&'a Tensor2<D>),
    /// (B, L_query, L_key), broadcast over heads.
    Full(&'a Tensor<(usize, usize, usize), f32, D>),
}

type QKV<D, T> = (Tensor2<D, T>, Tensor2<D, T>, Tensor2<D, T>);

/// softmax(Q·Kᵀ·scale + bias)·V per window and head. q, k, v: (B·L, d), head j in columns
/// j·d/h … (j+1)·d/h; result (B·L, d) with the heads concatenated the same way. `Err` gives the
/// inputs back when the fast path does not apply.
pub(crate) fn attention<D: Device<f32>, T: Tape<f32, D> + 'static>(
    (q, k, v): QKV<D, T>,
    bias: BiasRef<'_, D>,
    (b, l, h): (usize, usize, usize),
) -> Result<Tensor2<D, T>, QKV<D, T>> {
    if !fast_enabled() {
        return Err((q, k, v));
    }
    let (bias, full) = match bias {
        BiasRef::Key(t) => match (t as &dyn Any).downcast_ref::<Tensor2<Cpu>>() {
            Some(t) if *t.shape() == (b, l) => (ptr2(t), false),
            _ => return Err((q, k, v)),
        },
        BiasRef::Full(t) => {
            match (t as &dyn Any).downcast_ref::<Tensor<(usize, usize, usize), f32, Cpu>>() {
                Some(t) if *t.shape() == (b, l, l) => (ptr3(t), true),
                _ => return Err((q, k, v)),
            }
        }
    };
    let Some(bias) = bias else {
        return Err((q, k, v));
    };
    let bias_len = if full { b * l * l } else { b * l };
    // SAFETY: contiguous (checked by ptr2/ptr3), borrowed for this call only.
    let bias = unsafe { std::slice::from_raw_parts(bias, bias_len) };
    macro_rules! try_tape {
        ($qkv:expr, $tape:ty) => {{
            let (q, k, v) = $qkv;
            match cast::<Tensor2<D, T>, Tensor2<Cpu, $tape>>(q) {
                Ok(q) => {
                    let k = cast::<_, Tensor2<Cpu, $tape>>(k).ok().expect("same type");
                    let v = cast::<_, Tensor2<Cpu, $tape>>(v).ok().expect("same type");
                    return match attention_cpu((q, k, v), bias, full, (b, l, h)) {
                        Ok(o) => Ok(cast(o).ok().expect("same type")),
                        Err((q, k, v)) => Err((
                            cast(q).ok().expect("same type"),
                            cast(k).ok().expect("same type"),
                            cast(v).ok().expect("same type"),
                        )),
                    };
                }
                Err(q) => (q, k, v),
            }
        }};
    }
    let qkv = try_tape!((q, k, v), CpuOwned);
    let qkv = try_tape!(qkv, NoneTape);
    Err(qkv)
}

/// e^x for the softmax (x ≤ 0 there): Cephes' `expf` (n = round(x·log2 e), x − n·ln 2 in two
/// parts, degree-5 polynomial, ·2ⁿ through the exponent bits), in plain multiply-adds so it
/// vectorises and gives the same value at every vector width; 0 below −87 (e^−87 ≈ 1.6e-38).
/// Valid for x ≤ 88. Max error against f64 `exp`, checked exhaustively over every f32 in
/// [−87, 88]: 8.3e-8 relative, 0.99 ulp (the test `fast_exp_error_is_bounded` re-checks a sample).
#[inline(always)]
pub fn fast_exp(x: f32) -> f32 {
    const SHIFT: f32 = 12_582_912.0; // 1.5·2²³: adding it rounds to an integer
    const C1: f32 = 0.693_359_4; // 355/512
    const C2: f32 = -2.121_944_4e-4;
    // Outside [−88, 88] the result is 0 (below −87, returned below) or overflows anyway; clamping
    // keeps the exponent arithmetic in range (no i32 overflow for runaway logits). NaN stays NaN.
    let underflow = x < -87.0;
    let x = x.clamp(-88.0, 88.0);
    let t = x * std::f32::consts::LOG2_E + SHIFT;
    let n = t - SHIFT;
    let r = (x - n * C1) - n * C2;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 5.000_000_1e-1;
    let y = (p * r * r + r) + 1.0;
    // t's low mantissa bits hold n + 2²² (exactly: |n| < 2²²).
    let bits = ((t.to_bits() as i32).wrapping_sub(0x4B40_0000) + 127) << 23;
    let e = y * f32::from_bits(bits as u32);
    if underflow {
        0.0
    } else {
        e
    }
}

#[inline(always)]
fn softmax_rows_body(s: &mut [f32], bias: &[f32], full: bool, l: usize) {
    for (qi, row) in s.chunks_exact_mut(l).enumerate() {
        let brow = if full {
            &bias[qi * l..(qi + 1) * l]
        } else {
            bias
        };
        let mut max = f32::NEG_INFINITY;
        for (x, bb) in row.iter_mut().zip(brow) {
            *x += bb;
            max = max.max(*x);
        }
        for x in row.iter_mut() {
            *x = fast_exp(*x - max);
        }
        let inv = 1.0 / sum8(row);
        for x in row.iter_mut() {
            *x *= inv;
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn softmax_rows_avx2(s: &mut [f32], bias: &[f32], full: bool, l: usize) {
    softmax_rows_body(s, bias, full, l)
}

/// Row-wise softmax, in place, of one (L×L) tile of scaled logits after adding the bias (exp by
/// [`fast_exp`]; 8 lanes with AVX2, else SSE2, same values either way).
fn softmax_rows(s: &mut [f32], bias: &[f32], full: bool, l: usize) {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { softmax_rows_avx2(s, bias, full, l) };
    }
    softmax_rows_body(s, bias, full, l)
}

fn attention_cpu<T: Tape<f32, Cpu>>(
    (q, k, v): QKV<Cpu, T>,
    bias: &[f32],
    full: bool,
    (b, l, h): (usize, usize, usize),
) -> Result<Tensor2<Cpu, T>, QKV<Cpu, T>> {
    let (n, d) = *q.shape();
    let (Some(qp), Some(kp), Some(vp)) = (ptr2(&q), ptr2(&k), ptr2(&v)) else {
        return Err((q, k, v));
    };
    assert!(n == b * l && *k.shape() == (n, d) && *v.shape() == (n, d) && d % h == 0);
    let hd = d / h;
    let scale = 1.0 / (hd as f32).sqrt();
    let bias_len = if full { l * l } else { l };
    let (q, tq) = q.split_tape();
    let (k, tk) = k.split_tape();
    let (v, tv) = v.split_tape();
    let mut tape = tq.merge(tk).merge(tv);
    let (out, op) = new_tensor(q.device(), (n, d));
    let keep = T::OWNS_TAPE;
    // Softmax probabilities (B, H, L, L): kept for the backward pass only when taped. From
    // dfdx's buffer cache (a fresh Vec per call page-faulted ~20 MB per block and step).
    let mut probs: Option<Tensor1<Cpu>> = keep.then(|| q.device().zeros_like(&(b * h * l * l,)));
    let probs_ptr = match &mut probs {
        Some(t) => &mut t[[0]] as *mut f32,
        None => std::ptr::null_mut(),
    };
    {
        let (qp, kp, vp) = (
            SyncPtr(qp as *mut f32),
            SyncPtr(kp as *mut f32),
            SyncPtr(vp as *mut f32),
        );
        let (op, pp) = (SyncPtr(op), SyncPtr(probs_ptr));
        // One task per (window, head); each writes its own tile of `probs` and its own block of
        // the output, so the result does not depend on scheduling.
        (0..b * h).into_par_iter().for_each_init(
            || vec![0.0f32; if keep { 0 } else { l * l }],
            |scratch, bh| {
                let (bi, hi) = (bh / h, bh % h);
                let off = bi * l * d + hi * hd;
                let s: &mut [f32] = if keep {
                    unsafe { std::slice::from_raw_parts_mut(pp.get().add(bh * l * l), l * l) }
                } else {
                    &mut scratch[..]
                };
                unsafe {
                    // S = scale·Q·Kᵀ
                    gemm_raw(
                        (l, l, hd),
                        s.as_mut_ptr(),
                        (l, 1),
                        false,
                        qp.get().add(off),
                        (d, 1),
                        kp.get().add(off),
                        (1, d),
                        scale,
                        false,
                    );
                }
                softmax_rows(s, &bias[bi * bias_len..(bi + 1) * bias_len], full, l);
                unsafe {
                    // O = P·V, into this head's columns of the output.
                    gemm_raw(
                        (l, hd, l),
                        op.get().add(off),
                        (d, 1),
                        false,
                        s.as_ptr(),
                        (l, 1),
                        vp.get().add(off),
                        (d, 1),
                        1.0,
                        false,
                    );
                }
            },
        );
    }
    if let Some(probs) = probs {
        let (out_g, q_g, k_g, v_g) = (out.ghost(), q.ghost(), k.ghost(), v.ghost());
        tape.add_backward_op(move |grads: &mut Gradients<f32, Cpu>| {
            let (qp, kp, vp) = (ptr2(&q).unwrap(), ptr2(&k).unwrap(), ptr2(&v).unwrap());
            let (qp, kp, vp) = (
                SyncPtr(qp as *mut f32),
                SyncPtr(kp as *mut f32),
                SyncPtr(vp as *mut f32),
            );
            let go = std::mem::take(&mut **grads.get_or_alloc_mut(&out_g)?);
            let gq = SyncPtr(grads.get_or_alloc_mut(&q_g)?.as_mut_ptr());
            let gk = SyncPtr(grads.get_or_alloc_mut(&k_g)?.as_mut_ptr());
            let gv = SyncPtr(grads.get_or_alloc_mut(&v_g)?.as_mut_ptr());
            let gop = SyncPtr(go.as_ptr() as *mut f32);
            // SAFETY: contiguous (a fresh cached tensor), alive in this closure.
            let probs = unsafe { std::slice::from_raw_parts(ptr1(&probs).unwrap(), b * h * l * l) };
            (0..b * h).into_par_iter().for_each_init(
                || vec![0.0f32; l * l],
                |dp, bh| {
                    let (bi, hi) = (bh / h, bh % h);
                    let off = bi * l * d + hi * hd;
                    let p = &probs[bh * l * l..(bh + 1) * l * l];
                    unsafe {
                        // dP = dO·Vᵀ
                        gemm_raw(
                            (l, l, hd),
                            dp.as_mut_ptr(),
                            (l, 1),
                            false,
                            gop.get().add(off),
                            (d, 1),
                            vp.get().add(off),
                            (1, d),
                            1.0,
                            false,
                        );
                        // dV += Pᵀ·dO
                        gemm_raw(
                            (l, hd, l),
                            gv.get().add(off),
                            (d, 1),
                            true,
                            p.as_ptr(),
                            (1, l),
                            gop.get().add(off),
                            (d, 1),
                            1.0,
                            false,
                        );
                    }
                    // dS = P ⊙ (dP − Σ_k dP·P): softmax backward (the bias is a constant).
                    for (dprow, prow) in dp.chunks_exact_mut(l).zip(p.chunks_exact(l)) {
                        let dot: f32 = dprow.iter().zip(prow).map(|(a, b)| a * b).sum();
                        for (g, pp) in dprow.iter_mut().zip(prow) {
                            *g = pp * (*g - dot);
                        }
                    }
                    unsafe {
                        // dQ += scale·dS·K
                        gemm_raw(
                            (l, hd, l),
                            gq.get().add(off),
                            (d, 1),
                            true,
                            dp.as_ptr(),
                            (l, 1),
                            kp.get().add(off),
                            (d, 1),
                            scale,
                            false,
                        );
                        // dK += scale·dSᵀ·Q
                        gemm_raw(
                            (l, hd, l),
                            gk.get().add(off),
                            (d, 1),
                            true,
                            dp.as_ptr(),
                            (1, l),
                            qp.get().add(off),
                            (d, 1),
                            scale,
                            false,
                        );
                    }
                },
            );
            **grads.get_or_alloc_mut(&out_g)? = go;
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

// ---------------------------------------------------------------------------------------------
// LayerNorm, optionally with the preceding residual add fused: LN(x) or LN(x + r)

/// The inputs of [`layer_norm`], given back when the fast path does not apply.
pub(crate) type LnInputs<D, T> = (Tensor2<D, T>, Option<Tensor2<D, T>>);

/// `(s − μ)/sqrt(σ² + eps)·γ + β` per row of s = x (+ r), population variance (Keras), on the
/// CPU fast path: one pass for the statistics and the output, saving x̂ and 1/σ per row; the
/// backward is the analytic LayerNorm backward (the residual add is fused: x and r get the same
/// gradient). `Err` gives the inputs back (another device, generic kernels forced, strided input).
pub(crate) fn layer_norm<D: Device<f32>, T: Tape<f32, D> + 'static>(
    x: Tensor2<D, T>,
    r: Option<Tensor2<D, T>>,
    gamma: &Tensor1<D>,
    beta: &Tensor1<D>,
    eps: f32,
) -> Result<Tensor2<D, T>, LnInputs<D, T>> {
    if !fast_enabled() {
        return Err((x, r));
    }
    let (Some(g), Some(b)) = (
        (gamma as &dyn Any).downcast_ref::<Tensor1<Cpu>>(),
        (beta as &dyn Any).downcast_ref::<Tensor1<Cpu>>(),
    ) else {
        return Err((x, r));
    };
    macro_rules! try_tape {
        ($x:expr, $r:expr, $tape:ty) => {
            match cast::<Tensor2<D, T>, Tensor2<Cpu, $tape>>($x) {
                Ok(x) => {
                    let r = $r.map(|r| cast::<_, Tensor2<Cpu, $tape>>(r).ok().expect("same type"));
                    return match layer_norm_cpu(x, r, g, b, eps) {
                        Ok(y) => Ok(cast(y).ok().expect("same type")),
                        Err((x, r)) => Err((
                            cast(x).ok().expect("same type"),
                            r.map(|r| cast(r).ok().expect("same type")),
                        )),
                    };
                }
                Err(x) => x,
            }
        };
    }
    let x = try_tape!(x, r, CpuOwned);
    let x = try_tape!(x, r, NoneTape);
    Err((x, r))
}

/// Σ of a slice with 8 independent accumulators (vectorisable; deterministic).
#[inline(always)]
fn sum8(xs: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for v in rest {
        s += v;
    }
    s
}

/// Rows per LayerNorm task: fixed, so the γ/β gradient partial sums (and their order) do not
/// depend on the number of threads.
const LN_ROWS: usize = 64;

fn layer_norm_cpu<T: Tape<f32, Cpu>>(
    x: Tensor2<Cpu, T>,
    r: Option<Tensor2<Cpu, T>>,
    gamma: &Tensor1<Cpu>,
    beta: &Tensor1<Cpu>,
    eps: f32,
) -> Result<Tensor2<Cpu, T>, LnInputs<Cpu, T>> {
    let (n, d) = *x.shape();
    let r_ok = r
        .as_ref()
        .map_or(true, |r| *r.shape() == (n, d) && ptr2(r).is_some());
    if !r_ok {
        return Err((x, r));
    }
    let rp = r.as_ref().map(|r| SyncPtr(ptr2(r).unwrap() as *mut f32));
    let (Some(xp), Some(gp), Some(bp)) = (ptr2(&x), ptr1(gamma), ptr1(beta)) else {
        return Err((x, r));
    };
    // x and r the same tensor (one gradient buffer for both): leave it to dfdx.
    if gamma.shape().0 != d
        || beta.shape().0 != d
        || rp.is_some_and(|p| p.get() as *const f32 == xp)
    {
        return Err((x, r));
    }
    let xp = SyncPtr(xp as *mut f32);
    let (x, tx) = x.split_tape();
    let (r, mut tape) = match r {
        Some(r) => {
            let (r, tr) = r.split_tape();
            (Some(r), tx.merge(tr))
        }
        None => (None, tx),
    };
    let keep = T::OWNS_TAPE;
    let dev = x.device().clone();
    let (out, op) = new_tensor(&dev, (n, d));
    let op = SyncPtr(op);
    // Saved for the backward pass: x̂ (N, d) and 1/σ (N,).
    let mut saved: Option<(Tensor2<Cpu>, Tensor1<Cpu>)> = None;
    let (xhp, rsp) = if keep {
        let (xh, xhp) = new_tensor(&dev, (n, d));
        let mut rs: Tensor1<Cpu> = dev.zeros_like(&(n,));
        let rsp = &mut rs[[0]] as *mut f32;
        saved = Some((xh, rs));
        (SyncPtr(xhp), SyncPtr(rsp))
    } else {
        (SyncPtr(std::ptr::null_mut()), SyncPtr(std::ptr::null_mut()))
    };
    {
        // SAFETY: γ, β (d,) contiguous and alive for this call.
        let (g, bb) = unsafe {
            (
                std::slice::from_raw_parts(gp, d),
                std::slice::from_raw_parts(bp, d),
            )
        };
        let inv_d = 1.0 / d as f32;
        (0..n)
            .into_par_iter()
            .with_min_len(16)
            .for_each(|row| unsafe {
                let xr = std::slice::from_raw_parts(xp.get().add(row * d), d);
                let yr = std::slice::from_raw_parts_mut(op.get().add(row * d), d);
                match rp {
                    Some(rp) => {
                        let rr = std::slice::from_raw_parts(rp.get().add(row * d), d);
                        for ((y, a), b) in yr.iter_mut().zip(xr).zip(rr) {
                            *y = a + b;
                        }
                    }
                    None => yr.copy_from_slice(xr),
                }
                let mean = sum8(yr) * inv_d;
                let mut acc = [0.0f32; 8];
                let chunks = yr.chunks_exact(8);
                let rest = chunks.remainder();
                for c in chunks {
                    for (a, v) in acc.iter_mut().zip(c) {
                        let z = v - mean;
                        *a += z * z;
                    }
                }
                let mut ss = ((acc[0] + acc[4]) + (acc[1] + acc[5]))
                    + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
                for v in rest {
                    ss += (v - mean) * (v - mean);
                }
                let rstd = 1.0 / (ss * inv_d + eps).sqrt();
                if keep {
                    let xh = std::slice::from_raw_parts_mut(xhp.get().add(row * d), d);
                    for (((y, h), gg), b) in yr.iter_mut().zip(xh.iter_mut()).zip(g).zip(bb) {
                        let z = (*y - mean) * rstd;
                        *h = z;
                        *y = z * gg + b;
                    }
                    *rsp.get().add(row) = rstd;
                } else {
                    for ((y, gg), b) in yr.iter_mut().zip(g).zip(bb) {
                        *y = (*y - mean) * rstd * gg + b;
                    }
                }
            });
    }
    if let Some((xh, rs)) = saved {
        let (out_g, x_g, g_g, b_g) = (out.ghost(), x.ghost(), gamma.ghost(), beta.ghost());
        let r_g = r.as_ref().map(|r| r.ghost());
        // γ stays alive in the closure (the pointer is re-derived there).
        let gamma = gamma.clone();
        tape.add_backward_op(move |grads: &mut Gradients<f32, Cpu>| {
            let gy = std::mem::take(&mut **grads.get_or_alloc_mut(&out_g)?);
            let gx = SyncPtr(grads.get_or_alloc_mut(&x_g)?.as_mut_ptr());
            let gr = match &r_g {
                Some(r_g) => Some(SyncPtr(grads.get_or_alloc_mut(r_g)?.as_mut_ptr())),
                None => None,
            };
            let (xhp, rsp, gp) = (
                ptr2(&xh).unwrap(),
                ptr1(&rs).unwrap(),
                ptr1(&gamma).unwrap(),
            );
            let (xhp, rsp, gp) = (
                SyncPtr(xhp as *mut f32),
                SyncPtr(rsp as *mut f32),
                SyncPtr(gp as *mut f32),
            );
            let gyp = SyncPtr(gy.as_ptr() as *mut f32);
            let inv_d = 1.0 / d as f32;
            // Per task: dX rows, and partial Σ dY·x̂ (dγ) and Σ dY (dβ) over its rows.
            let partials: Vec<Vec<f32>> = (0..n.div_ceil(LN_ROWS))
                .into_par_iter()
                .map(|c| unsafe {
                    let g = std::slice::from_raw_parts(gp.get(), d);
                    let mut acc = vec![0.0f32; 2 * d];
                    let (dg, db) = acc.split_at_mut(d);
                    for row in c * LN_ROWS..((c + 1) * LN_ROWS).min(n) {
                        let gyr = std::slice::from_raw_parts(gyp.get().add(row * d), d);
                        let xhr = std::slice::from_raw_parts(xhp.get().add(row * d), d);
                        let rstd = *rsp.get().add(row);
                        let mut s1 = [0.0f32; 8];
                        let mut s2 = [0.0f32; 8];
                        for (j, ((gyv, xhv), gg)) in gyr.iter().zip(xhr).zip(g).enumerate() {
                            dg[j] += gyv * xhv;
                            db[j] += gyv;
                            let dxh = gyv * gg;
                            s1[j % 8] += dxh;
                            s2[j % 8] += dxh * xhv;
                        }
                        let m1 = s1.iter().sum::<f32>() * inv_d;
                        let m2 = s2.iter().sum::<f32>() * inv_d;
                        let gxr = std::slice::from_raw_parts_mut(gx.get().add(row * d), d);
                        match gr {
                            Some(gr) => {
                                let grr = std::slice::from_raw_parts_mut(gr.get().add(row * d), d);
                                for ((((a, b), gyv), xhv), gg) in
                                    gxr.iter_mut().zip(grr.iter_mut()).zip(gyr).zip(xhr).zip(g)
                                {
                                    let v = rstd * (gyv * gg - m1 - xhv * m2);
                                    *a += v;
                                    *b += v;
                                }
                            }
                            None => {
                                for (((a, gyv), xhv), gg) in gxr.iter_mut().zip(gyr).zip(xhr).zip(g)
                                {
                                    *a += rstd * (gyv * gg - m1 - xhv * m2);
                                }
                            }
                        }
                    }
                    acc
                })
                .collect();
            let mut acc = vec![0.0f32; 2 * d];
            for p in &partials {
                for (a, v) in acc.iter_mut().zip(p) {
                    *a += v;
                }
            }
            for (g, a) in grads.get_or_alloc_mut(&g_g)?.iter_mut().zip(&acc[..d]) {
                *g += a;
            }
            for (g, a) in grads.get_or_alloc_mut(&b_g)?.iter_mut().zip(&acc[d..]) {
                *g += a;
            }
            **grads.get_or_alloc_mut(&out_g)? = gy;
            Ok(())
        });
    }
    drop(r);
    Ok(out.put_tape(tape))
}

// ---------------------------------------------------------------------------------------------
// tanh

/// Clamp beyond which tanh is ±1 in f32 (tanh(9) = 1 − 3.0e-8).
const TANH_CLAMP: f32 = 9.0;

/// tanh(x) as a 13/6-degree odd/even rational interpolant on [−9, 9] (the coefficients of Eigen's
/// `generic_fast_tanh_float`), ±1 beyond, x itself for |x| < 4e-4; NaN stays NaN. Plain
/// multiply-adds (no FMA contraction), so the result is the same on every x86 CPU whichever
/// vector width runs it. Max error against f64 `tanh` over every f32 (checked exhaustively on
/// [−12, 12], ±1 exactly beyond): 4.4e-7 absolute, 7.4 ulp (both at x ≈ ±5.85, where
/// tanh ≈ 1 − 1.7e-5; glibc's `tanhf` is within 2.2 ulp). The test `fast_tanh_error_is_bounded`
/// re-checks a 1/61 sample of the bit patterns.
#[inline(always)]
pub fn fast_tanh(x: f32) -> f32 {
    const A1: f32 = 4.893_524_6e-3;
    const A3: f32 = 6.372_619_3e-4;
    const A5: f32 = 1.485_722_4e-5;
    const A7: f32 = 5.122_297e-8;
    const A9: f32 = -8.604_671_5e-11;
    const A11: f32 = 2.000_187_9e-13;
    const A13: f32 = -2.760_768_5e-16;
    const B0: f32 = 4.893_525e-3;
    const B2: f32 = 2.268_434_7e-3;
    const B4: f32 = 1.185_347_1e-4;
    const B6: f32 = 1.198_258_4e-6;
    let c = if x > TANH_CLAMP {
        TANH_CLAMP
    } else if x < -TANH_CLAMP {
        -TANH_CLAMP
    } else {
        x
    };
    let x2 = c * c;
    let p = ((((((A13 * x2 + A11) * x2 + A9) * x2 + A7) * x2 + A5) * x2 + A3) * x2 + A1) * c;
    let q = ((B6 * x2 + B4) * x2 + B2) * x2 + B0;
    let t = p / q;
    let t = if t > 1.0 {
        1.0
    } else if t < -1.0 {
        -1.0
    } else {
        t
    };
    if x.abs() < 4e-4 {
        x
    } else {
        t
    }
}

#[inline(always)]
fn tanh_slice_body(x: &[f32], y: &mut [f32]) {
    for (o, v) in y.iter_mut().zip(x) {
        *o = fast_tanh(*v);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn tanh_slice_avx2(x: &[f32], y: &mut [f32]) {
    tanh_slice_body(x, y)
}

/// y = fast_tanh(x), elementwise (8 lanes with AVX2, else SSE2; same values either way).
fn tanh_slice(x: &[f32], y: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { tanh_slice_avx2(x, y) };
    }
    tanh_slice_body(x, y)
}

/// Elements per tanh task.
const TANH_CHUNK: usize = 1 << 14;

/// Elementwise tanh on the CPU fast path: one pass ([`fast_tanh`]) into a cached buffer, saving
/// y; backward dX += dY·(1 − y²). `Err(x)` when it does not apply.
pub(crate) fn tanh<D: Device<f32>, T: Tape<f32, D> + 'static>(
    x: Tensor2<D, T>,
) -> Result<Tensor2<D, T>, Tensor2<D, T>> {
    if !fast_enabled() {
        return Err(x);
    }
    on_cpu_tensor2!(x, |x| tanh_cpu(x))
}

fn tanh_cpu<T: Tape<f32, Cpu>>(x: Tensor2<Cpu, T>) -> Result<Tensor2<Cpu, T>, Tensor2<Cpu, T>> {
    let (n, d) = *x.shape();
    let Some(xp) = ptr2(&x) else {
        return Err(x);
    };
    let len = n * d;
    let (x, mut tape) = x.split_tape();
    let (out, op) = new_tensor(x.device(), (n, d));
    unsafe {
        let xs = std::slice::from_raw_parts(xp, len);
        let ys = std::slice::from_raw_parts_mut(op, len);
        ys.par_chunks_mut(TANH_CHUNK)
            .zip(xs.par_chunks(TANH_CHUNK))
            .for_each(|(y, x)| tanh_slice(x, y));
    }
    if T::OWNS_TAPE {
        let (out_g, x_g) = (out.ghost(), x.ghost());
        let y = out.clone();
        tape.add_backward_op(move |grads: &mut Gradients<f32, Cpu>| {
            let gy = std::mem::take(&mut **grads.get_or_alloc_mut(&out_g)?);
            let ys = unsafe { std::slice::from_raw_parts(ptr2(&y).unwrap(), len) };
            let gx = grads.get_or_alloc_mut(&x_g)?;
            gx.par_chunks_mut(TANH_CHUNK)
                .zip(gy.par_chunks(TANH_CHUNK))
                .zip(ys.par_chunks(TANH_CHUNK))
                .for_each(|((gx, gy), y)| {
                    for ((a, g), v) in gx.iter_mut().zip(gy).zip(y) {
                        *a += g * (1.0 - v * v);
                    }
                });
            **grads.get_or_alloc_mut(&out_g)? = gy;
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}
// ---------------------------------------------------------------------------------------------
// GRU recurrence

/// The recurrence of a Keras GRU (`reset_after`, gate order z, r, h; see `baselines::Gru`) over
/// right-padded windows on the CPU fast path, as one op on the tape instead of about fifteen
/// per step. `xp` (B·L, 3U) is x·W + b of every step (row b·L + t), `w_rec` (U, 3U) and `b_rec`
/// (3U,) the recurrent kernel and bias, `n_valid[b]` the real steps of row b (a padded step
/// carries the state). Returns the state after each row's last valid step, (B, U).
///
/// The forward pass does the generic path's f32 operations in its order (h·U + rb through the
/// same matrix product, dfdx's sigmoid 1/(1 + e^−x), std tanh, h + (c − h)·(1 − z)), so the
/// states are the same bits; backward through time is analytic, with dU as one product over all
/// steps at the end. `Err(xp)` when the fast path does not apply.
pub fn gru_recurrence<D: Device<f32>, T: Tape<f32, D> + 'static>(
    xp: Tensor2<D, T>,
    w_rec: &Tensor2<D>,
    b_rec: &Tensor1<D>,
    (batch, len): (usize, usize),
    n_valid: &[usize],
) -> Result<Tensor2<D, T>, Tensor2<D, T>> {
    if !fast_enabled() {
        return Err(xp);
    }
    let (Some(w), Some(rb)) = (
        (w_rec as &dyn Any).downcast_ref::<Tensor2<Cpu>>(),
        (b_rec as &dyn Any).downcast_ref::<Tensor1<Cpu>>(),
    ) else {
        return Err(xp);
    };
    on_cpu_tensor2!(xp, |x| gru_cpu(x, w, rb, (batch, len), n_valid))
}

fn sigmoid_f32(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

fn gru_cpu<T: Tape<f32, Cpu>>(
    xp: Tensor2<Cpu, T>,
    w: &Tensor2<Cpu>,
    rb: &Tensor1<Cpu>,
    (batch, len): (usize, usize),
    n_valid: &[usize],
) -> Result<Tensor2<Cpu, T>, Tensor2<Cpu, T>> {
    let (rows, u3) = *xp.shape();
    let u = u3 / 3;
    assert_eq!(rows, batch * len, "GRU input projection rows = batch × steps");
    assert_eq!(n_valid.len(), batch, "one n_valid per batch row");
    assert_eq!(*w.shape(), (u, u3), "GRU recurrent kernel shape");
    assert_eq!(rb.shape().0, u3, "GRU recurrent bias width");
    if u == 0 || batch == 0 {
        return Err(xp);
    }
    let (Some(xpp), Some(wp), Some(bp)) = (ptr2(&xp), ptr2(w), ptr1(rb)) else {
        return Err(xp);
    };
    let steps = n_valid.iter().copied().max().unwrap_or(0).min(len);
    let (xp, mut tape) = xp.split_tape();
    let (out, op) = new_tensor(xp.device(), (batch, u));
    let bu = batch * u;
    // states[t] is the state before step t (states[0] = 0); z, r, c and h·U_h + rb_h per step.
    let mut states = vec![0.0f32; (steps + 1) * bu];
    let mut saved = vec![0.0f32; 4 * steps * bu];
    let mut hp = vec![0.0f32; batch * u3];
    let (xs, bias) = unsafe { (std::slice::from_raw_parts(xpp, rows * u3), std::slice::from_raw_parts(bp, u3)) };
    for t in 0..steps {
        for row in hp.chunks_exact_mut(u3) {
            row.copy_from_slice(bias);
        }
        unsafe {
            gemm_raw((batch, u3, u), hp.as_mut_ptr(), (u3, 1), true, states[t * bu..].as_ptr(), (u, 1), wp, (u3, 1), 1.0, false);
        }
        let (before, after) = states.split_at_mut((t + 1) * bu);
        let (prev, next) = (&before[t * bu..], &mut after[..bu]);
        let step_saved = &mut saved[4 * t * bu..4 * (t + 1) * bu];
        for b in 0..batch {
            let (h, h_next) = (&prev[b * u..(b + 1) * u], &mut next[b * u..(b + 1) * u]);
            if t >= n_valid[b] {
                h_next.copy_from_slice(h);
                continue;
            }
            let x = &xs[(b * len + t) * u3..(b * len + t + 1) * u3];
            let p = &hp[b * u3..(b + 1) * u3];
            for j in 0..u {
                let z = sigmoid_f32(x[j] + p[j]);
                let r = sigmoid_f32(x[u + j] + p[u + j]);
                let c = (x[2 * u + j] + r * p[2 * u + j]).tanh();
                h_next[j] = (c - h[j]) * (1.0 - z) + h[j];
                let k = b * u + j;
                step_saved[k] = z;
                step_saved[bu + k] = r;
                step_saved[2 * bu + k] = c;
                step_saved[3 * bu + k] = p[2 * u + j];
            }
        }
    }
    unsafe { std::ptr::copy_nonoverlapping(states[steps * bu..].as_ptr(), op, bu) };
    if T::OWNS_TAPE && steps > 0 {
        let (out_g, xp_g, w_g, rb_g) = (out.ghost(), xp.ghost(), w.ghost(), rb.ghost());
        let w = w.clone();
        let n_valid = n_valid.to_vec();
        tape.add_backward_op(move |grads: &mut Gradients<f32, Cpu>| {
            let wp = ptr2(&w).unwrap();
            // dL/dh, carried back through the steps.
            let mut dh = grads.get_or_alloc_mut(&out_g)?.to_vec();
            // dL/d(h·U + rb) of every step, rows t·B + b (zero at padded steps).
            let mut dhp = vec![0.0f32; steps * batch * u3];
            {
                let gx = grads.get_or_alloc_mut(&xp_g)?;
                for t in (0..steps).rev() {
                    let prev = &states[t * bu..(t + 1) * bu];
                    let step_saved = &saved[4 * t * bu..4 * (t + 1) * bu];
                    let dhp_t = &mut dhp[t * batch * u3..(t + 1) * batch * u3];
                    for b in 0..batch {
                        if t >= n_valid[b] {
                            continue; // the state passed through: dh unchanged, no gate gradient
                        }
                        let gx_row = &mut gx[(b * len + t) * u3..(b * len + t + 1) * u3];
                        let d_row = &mut dhp_t[b * u3..(b + 1) * u3];
                        for j in 0..u {
                            let k = b * u + j;
                            let (z, r, c, hph) = (step_saved[k], step_saved[bu + k], step_saved[2 * bu + k], step_saved[3 * bu + k]);
                            let g = dh[k];
                            // h' = h + (c − h)(1 − z)
                            let dz = g * (prev[k] - c);
                            let dc = g * (1.0 - z) * (1.0 - c * c);
                            let dz_pre = dz * z * (1.0 - z);
                            let dr_pre = dc * hph * r * (1.0 - r);
                            gx_row[j] += dz_pre;
                            gx_row[u + j] += dr_pre;
                            gx_row[2 * u + j] += dc;
                            d_row[j] = dz_pre;
                            d_row[u + j] = dr_pre;
                            d_row[2 * u + j] = dc * r;
                            dh[k] = g * z;
                        }
                    }
                    // dh += d(hp)·Uᵀ (padded rows of d(hp) are zero).
                    unsafe {
                        gemm_raw((batch, u, u3), dh.as_mut_ptr(), (u, 1), true, dhp_t.as_ptr(), (u3, 1), wp, (1, u3), 1.0, false);
                    }
                }
            }
            // dU += Σ_t h_tᵀ·d(hp)_t as one product over all steps: (U, T·B)·(T·B, 3U).
            let gw = grads.get_or_alloc_mut(&w_g)?;
            unsafe {
                gemm_raw((u, u3, steps * batch), gw.as_mut_ptr(), (u3, 1), true, states.as_ptr(), (1, u), dhp.as_ptr(), (u3, 1), 1.0, true);
            }
            let mut acc = vec![0.0f32; u3];
            for row in dhp.chunks_exact(u3) {
                for (a, g) in acc.iter_mut().zip(row) {
                    *a += g;
                }
            }
            let gb = grads.get_or_alloc_mut(&rb_g)?;
            for (g, a) in gb.iter_mut().zip(&acc) {
                *g += a;
            }
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

// ---------------------------------------------------------------------------------------------
// LSTM recurrence

/// The recurrence of an unmasked LSTM without recurrent bias (Keras gate order i, f, c, o; see
/// `causal::Lstm`) on the CPU fast path, as one op on the tape instead of about twenty per step.
/// `xp` (B·L, 4U) is x·W + b of every step (row b·L + t), `w_rec` (U, 4U) the recurrent kernel;
/// returns every step's hidden state, (B·L, U) in the same row order. Backward through time is
/// analytic, with dU as one product over all steps at the end. The forward pass is the generic
/// one's up to the rounding of h·U (this crate's product instead of dfdx's): within 1e-5, not the
/// same bits. `Err(xp)` when the fast path does not apply.
pub fn lstm_recurrence<D: Device<f32>, T: Tape<f32, D> + 'static>(
    xp: Tensor2<D, T>,
    w_rec: &Tensor2<D>,
    (batch, len): (usize, usize),
) -> Result<Tensor2<D, T>, Tensor2<D, T>> {
    if !fast_enabled() {
        return Err(xp);
    }
    let Some(w) = (w_rec as &dyn Any).downcast_ref::<Tensor2<Cpu>>() else {
        return Err(xp);
    };
    on_cpu_tensor2!(xp, |x| lstm_cpu(x, w, (batch, len)))
}

fn lstm_cpu<T: Tape<f32, Cpu>>(xp: Tensor2<Cpu, T>, w: &Tensor2<Cpu>, (batch, len): (usize, usize)) -> Result<Tensor2<Cpu, T>, Tensor2<Cpu, T>> {
    let (rows, u4) = *xp.shape();
    let u = u4 / 4;
    assert_eq!(rows, batch * len, "LSTM input projection rows = batch × steps");
    assert_eq!(*w.shape(), (u, u4), "LSTM recurrent kernel shape");
    if u == 0 || batch == 0 || len == 0 {
        return Err(xp);
    }
    let (Some(xpp), Some(wp)) = (ptr2(&xp), ptr2(w)) else {
        return Err(xp);
    };
    let (xp, mut tape) = xp.split_tape();
    let (out, op) = new_tensor(xp.device(), (rows, u));
    let bu = batch * u;
    // h_states[t] / c_states[t]: the state before step t; per step the gates i, f, cc, o and tanh(c).
    let mut h_states = vec![0.0f32; (len + 1) * bu];
    let mut c_states = vec![0.0f32; (len + 1) * bu];
    let mut saved = vec![0.0f32; 5 * len * bu];
    let mut hp = vec![0.0f32; batch * u4];
    let xs = unsafe { std::slice::from_raw_parts(xpp, rows * u4) };
    let outs = unsafe { std::slice::from_raw_parts_mut(op, rows * u) };
    for t in 0..len {
        unsafe {
            gemm_raw((batch, u4, u), hp.as_mut_ptr(), (u4, 1), false, h_states[t * bu..].as_ptr(), (u, 1), wp, (u4, 1), 1.0, false);
        }
        let step_saved = &mut saved[5 * t * bu..5 * (t + 1) * bu];
        for b in 0..batch {
            let x = &xs[(b * len + t) * u4..(b * len + t + 1) * u4];
            let p = &hp[b * u4..(b + 1) * u4];
            for j in 0..u {
                let k = b * u + j;
                let i_g = sigmoid_f32(x[j] + p[j]);
                let f_g = sigmoid_f32(x[u + j] + p[u + j]);
                let cc = (x[2 * u + j] + p[2 * u + j]).tanh();
                let o_g = sigmoid_f32(x[3 * u + j] + p[3 * u + j]);
                let c = f_g * c_states[t * bu + k] + i_g * cc;
                let tc = c.tanh();
                let h = o_g * tc;
                c_states[(t + 1) * bu + k] = c;
                h_states[(t + 1) * bu + k] = h;
                outs[(b * len + t) * u + j] = h;
                step_saved[k] = i_g;
                step_saved[bu + k] = f_g;
                step_saved[2 * bu + k] = cc;
                step_saved[3 * bu + k] = o_g;
                step_saved[4 * bu + k] = tc;
            }
        }
    }
    if T::OWNS_TAPE {
        let (out_g, xp_g, w_g) = (out.ghost(), xp.ghost(), w.ghost());
        let w = w.clone();
        tape.add_backward_op(move |grads: &mut Gradients<f32, Cpu>| {
            let wp = ptr2(&w).unwrap();
            let gout = grads.get_or_alloc_mut(&out_g)?.to_vec();
            // dL/dh and dL/dc carried back from step t + 1; dL/d(gates) of every step, rows t·B + b.
            let (mut dh_next, mut dc_next) = (vec![0.0f32; bu], vec![0.0f32; bu]);
            let mut dgates = vec![0.0f32; len * batch * u4];
            {
                let gx = grads.get_or_alloc_mut(&xp_g)?;
                for t in (0..len).rev() {
                    let step_saved = &saved[5 * t * bu..5 * (t + 1) * bu];
                    let dg_t = &mut dgates[t * batch * u4..(t + 1) * batch * u4];
                    for b in 0..batch {
                        let gx_row = &mut gx[(b * len + t) * u4..(b * len + t + 1) * u4];
                        let d_row = &mut dg_t[b * u4..(b + 1) * u4];
                        for j in 0..u {
                            let k = b * u + j;
                            let (i_g, f_g, cc, o_g, tc) = (step_saved[k], step_saved[bu + k], step_saved[2 * bu + k], step_saved[3 * bu + k], step_saved[4 * bu + k]);
                            let dh = gout[(b * len + t) * u + j] + dh_next[k];
                            let dc = dc_next[k] + dh * o_g * (1.0 - tc * tc);
                            let di = dc * cc * i_g * (1.0 - i_g);
                            let df = dc * c_states[t * bu + k] * f_g * (1.0 - f_g);
                            let dcc = dc * i_g * (1.0 - cc * cc);
                            let d_o = dh * tc * o_g * (1.0 - o_g);
                            dc_next[k] = dc * f_g;
                            for (q, v) in [di, df, dcc, d_o].into_iter().enumerate() {
                                gx_row[q * u + j] += v;
                                d_row[q * u + j] = v;
                            }
                        }
                    }
                    // dh of step t − 1 = d(gates)_t · Uᵀ.
                    unsafe {
                        gemm_raw((batch, u, u4), dh_next.as_mut_ptr(), (u, 1), false, dg_t.as_ptr(), (u4, 1), wp, (1, u4), 1.0, false);
                    }
                }
            }
            // dU += Σ_t h_{t−1}ᵀ·d(gates)_t as one product over all steps: (U, L·B)·(L·B, 4U).
            let gw = grads.get_or_alloc_mut(&w_g)?;
            unsafe {
                gemm_raw((u, u4, len * batch), gw.as_mut_ptr(), (u4, 1), true, h_states.as_ptr(), (1, u), dgates.as_ptr(), (u4, 1), 1.0, true);
            }
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}
