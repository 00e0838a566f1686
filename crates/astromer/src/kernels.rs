//! CPU fast paths for the two operations that dominate a training step: the Dense layer
//! (`x·W + b`) and multi-head scaled-dot-product attention.
//!
//! Why: dfdx 0.13 runs matmuls through `gemm` 0.15, which has no AVX-512 kernels on stable Rust,
//! and builds attention from many separate passes over (B, H, L, L) tensors (scale, bias
//! broadcast, softmax as max/sub/exp/sum/div, each with its own backward and its own buffer), plus
//! two permute copies per Q/K/V. Here:
//! - matmuls call `gemm` 0.19 directly (AVX-512 on stable; ~1.4× the GFLOP/s of 0.15 on the A2
//!   shapes);
//! - the Dense bias is fused into the GEMM (rows pre-filled with the bias, GEMM accumulates);
//! - attention is one op per (window, head): logits, bias, softmax and P·V in one pass over an
//!   L×L tile, reading Q/K/V straight from the (B·L, d) activations (no permute copies); the
//!   backward is the analytic softmax backward. The softmax probabilities are the only saved
//!   (B, H, L, L) tensor; the constant mask bias never enters the tape.
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

/// Raw pointer that may cross rayon threads: every task writes a disjoint region.
#[derive(Clone, Copy)]
struct SyncPtr(*mut f32);
unsafe impl Send for SyncPtr {}
unsafe impl Sync for SyncPtr {}
impl SyncPtr {
    // A method (not `.0`) so closures capture the whole `SyncPtr`, which is `Send + Sync`.
    fn get(self) -> *mut f32 {
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

/// C (m×n) ← alpha·C + beta·A·B with explicit (row, column) strides; `read_dst` false ignores C.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_raw(
    (m, n, k): (usize, usize, usize),
    dst: *mut f32,
    (dst_rs, dst_cs): (usize, usize),
    read_dst: bool,
    lhs: *const f32,
    (lhs_rs, lhs_cs): (usize, usize),
    rhs: *const f32,
    (rhs_rs, rhs_cs): (usize, usize),
    beta: f32,
    parallel: bool,
) {
    let par = if parallel {
        gemm::Parallelism::Rayon(rayon::current_num_threads())
    } else {
        gemm::Parallelism::None
    };
    gemm::gemm(
        m,
        n,
        k,
        dst,
        dst_cs as isize,
        dst_rs as isize,
        read_dst,
        lhs,
        lhs_cs as isize,
        lhs_rs as isize,
        rhs,
        rhs_cs as isize,
        rhs_rs as isize,
        1.0,
        beta,
        false,
        false,
        false,
        par,
    );
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
    macro_rules! try_tape {
        ($x:expr, $tape:ty) => {
            match cast::<Tensor2<D, T>, Tensor2<Cpu, $tape>>($x) {
                Ok(x) => {
                    return match dense_cpu(x, w, b) {
                        Ok(y) => Ok(cast(y).ok().expect("same type")),
                        Err(x) => Err(cast(x).ok().expect("same type")),
                    }
                }
                Err(x) => x,
            }
        };
    }
    let x = try_tape!(x, CpuOwned);
    let x = try_tape!(x, NoneTape);
    Err(x)
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

/// Row-wise softmax, in place, of one (L×L) tile of scaled logits after adding the bias.
fn softmax_rows(s: &mut [f32], bias: &[f32], full: bool, l: usize) {
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
        let mut sum = 0.0f32;
        for x in row.iter_mut() {
            let z = *x - max;
            // exp(z) is exactly 0 in f32 below ≈ −104: skip libm's slow underflow path (masked
            // keys sit at −1e9).
            let e = if z < -110.0 { 0.0 } else { z.exp() };
            *x = e;
            sum += e;
        }
        let inv = 1.0 / sum;
        for x in row.iter_mut() {
            *x *= inv;
        }
    }
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
    // Softmax probabilities (B, H, L, L): kept for the backward pass only when taped.
    let mut probs = vec![0.0f32; if keep { b * h * l * l } else { 0 }];
    {
        let (qp, kp, vp) = (
            SyncPtr(qp as *mut f32),
            SyncPtr(kp as *mut f32),
            SyncPtr(vp as *mut f32),
        );
        let (op, pp) = (SyncPtr(op), SyncPtr(probs.as_mut_ptr()));
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
    if keep {
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
            let probs = &probs;
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
