//! Deterministic f32 matrix products for the CPU fast paths: the same bits on every x86-64 CPU,
//! for every thread count.
//!
//! Why not `gemm`: it picks its register tiles by instruction set (AVX2 or AVX-512) and its
//! k-blocking from the cache sizes it reads from `/sys` at run time, so the order in which a dot
//! product is summed — hence its rounding — depends on the machine. A classifier head trained for
//! hundreds of steps turns one-ulp differences into other early-stopping epochs and other F1
//! scores: the smoke results committed from an AMD Zen 3 machine did not reproduce on a Zen 5
//! (`cargo xtask check --profile smoke` flagged head F1 moves of 0.05), so the regression gate
//! would have failed on whichever CPU CI happened to get.
//!
//! Here every output element is one fused multiply-add chain over k = 0, 1, …, K−1 starting from
//! zero, `acc = fma(a_ik, b_kj, acc)`, then `dst = [dst +] beta·acc`. The vector width only
//! decides how many outputs advance together, never the order of one output's terms; threads
//! split the rows, never a dot product. The AVX2+FMA micro-kernel (chosen at run time) and the
//! scalar one (`f32::mul_add`, a correctly rounded fma) therefore give identical bits, which the
//! tests check.
//!
//! Layout: B is packed once per call into depth blocks of [`KC`] rows and panels of [`NR`]
//! columns (zero-padded); A is read in place, [`MR`] rows at a time with its own strides (only a
//! last partial block is copied, zero-padded); a micro-kernel continues an MR × NR tile's fma
//! chains over one depth block, and the chains' running values wait in an f32 buffer between
//! blocks (stored and reloaded exactly, so the chain is the unblocked one); the last block writes
//! dst directly.

use rayon::prelude::*;

use crate::kernels::SyncPtr;

/// Rows of a register tile.
const MR: usize = 6;
/// Columns of a register tile (two AVX2 vectors).
const NR: usize = 16;
/// Depth of a block of k (B's block of KC × n stays in cache while every row block uses it). A
/// constant, not a cache size read from the machine: blocking must not depend on the CPU.
const KC: usize = 256;
/// Products smaller than this many multiply-adds run on the calling thread.
const PARALLEL_MIN_FLOPS: usize = 1 << 20;

/// Which micro-kernel this CPU runs (both give the same bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// 6 × 16 tile in twelve AVX2 registers, `vfmadd231ps`.
    Avx2Fma,
    /// Plain Rust with `f32::mul_add`.
    Scalar,
}

/// The micro-kernel of this CPU.
pub fn detected_kernel() -> Kernel {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            return Kernel::Avx2Fma;
        }
    }
    Kernel::Scalar
}

/// Strides of a matrix operand, in elements: (row stride, column stride).
pub type Strides = (usize, usize);

/// `dst (m×n) ← [dst +] beta·(lhs (m×k) · rhs (k×n))`, the `dst +` when `read_dst`; with
/// `parallel`, large products split their rows over the rayon pool.
///
/// # Safety
/// Every element addressed through the pointers and strides must be valid (dst writable, not
/// overlapping lhs or rhs).
#[allow(clippy::too_many_arguments)]
pub unsafe fn matmul(
    (m, n, k): (usize, usize, usize),
    dst: *mut f32,
    dst_strides: Strides,
    read_dst: bool,
    lhs: *const f32,
    lhs_strides: Strides,
    rhs: *const f32,
    rhs_strides: Strides,
    beta: f32,
    parallel: bool,
) {
    matmul_with(detected_kernel(), (m, n, k), dst, dst_strides, read_dst, lhs, lhs_strides, rhs, rhs_strides, beta, parallel)
}

/// [`matmul`] with an explicit micro-kernel (tests compare them).
///
/// # Safety
/// As [`matmul`]; `Kernel::Avx2Fma` only on a CPU that has AVX2 and FMA.
#[allow(clippy::too_many_arguments)]
pub unsafe fn matmul_with(
    kernel: Kernel,
    (m, n, k): (usize, usize, usize),
    dst: *mut f32,
    (dst_rs, dst_cs): Strides,
    read_dst: bool,
    lhs: *const f32,
    (lhs_rs, lhs_cs): Strides,
    rhs: *const f32,
    (rhs_rs, rhs_cs): Strides,
    beta: f32,
    parallel: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    let panels = n.div_ceil(NR);
    let width = panels * NR;
    let row_blocks = m.div_ceil(MR);
    // B in depth blocks of KC rows, each in column panels of NR (zero-padded): block kb, panel p
    // holds rows kb·KC … of columns p·NR … p·NR+NR−1 at `kb·KC·width + p·kc·NR`.
    let mut packed_b = scratch(&PACKED_B, k * width);
    for kb in 0..k.div_ceil(KC) {
        let (k0, kc) = (kb * KC, KC.min(k - kb * KC));
        for p in 0..panels {
            let cols = NR.min(n - p * NR);
            let panel = &mut packed_b[k0 * width + p * kc * NR..][..kc * NR];
            for kk in 0..kc {
                let src = rhs.add((k0 + kk) * rhs_rs + p * NR * rhs_cs);
                let row = &mut panel[kk * NR..kk * NR + NR];
                if rhs_cs == 1 {
                    std::ptr::copy_nonoverlapping(src, row.as_mut_ptr(), cols);
                } else {
                    for (jj, v) in row[..cols].iter_mut().enumerate() {
                        *v = *src.add(jj * rhs_cs);
                    }
                }
                row[cols..].fill(0.0);
            }
        }
    }
    // At least one depth block, so that k = 0 still writes dst (= [dst +] beta·0).
    let depth_blocks = k.div_ceil(KC).max(1);
    // The fma chains' running values between depth blocks (rows padded to whole blocks): the
    // chain of a block starts from the value the previous one stored, so blocking never changes
    // the bits. One block (k ≤ KC, most products here) needs no buffer: tiles go straight to dst.
    // (The first block never reads it, so a reused buffer needs no zeroing.)
    let mut acc = if depth_blocks > 1 { scratch(&ACC, row_blocks * MR * width) } else { Vec::new() };
    let (accp, lhs, dst) = (SyncPtr(acc.as_mut_ptr()), SyncPtr(lhs as *mut f32), SyncPtr(dst));
    let threads = rayon::current_num_threads();
    let split = parallel && threads > 1 && row_blocks >= 2 * threads && m * n * k >= PARALLEL_MIN_FLOPS;
    for kb in 0..depth_blocks {
        let (k0, kc) = (kb * KC, KC.min(k - kb * KC));
        let (first, last) = (kb == 0, kb + 1 == depth_blocks);
        let b_block = &packed_b[k0 * width..][..kc * width];
        let block = |rb: usize, packed_a: &mut Vec<f32>| {
            let i0 = rb * MR;
            let rows = MR.min(m - i0);
            // A whole block of MR rows is read in place, with A's own strides; the last, partial
            // block is copied into MR rows of kc (zero rows below), so the kernel never branches.
            let (a, a_rs, a_cs) = if rows == MR {
                (lhs.get().add(i0 * lhs_rs + k0 * lhs_cs) as *const f32, lhs_rs, lhs_cs)
            } else {
                packed_a.clear();
                packed_a.resize(MR * kc, 0.0);
                for ii in 0..rows {
                    let src = lhs.get().add((i0 + ii) * lhs_rs + k0 * lhs_cs) as *const f32;
                    for (kk, v) in packed_a[ii * kc..(ii + 1) * kc].iter_mut().enumerate() {
                        *v = *src.add(kk * lhs_cs);
                    }
                }
                (packed_a.as_ptr(), kc, 1)
            };
            let mut tile = [[0.0f32; NR]; MR];
            for p in 0..panels {
                // wrapping_add: with one depth block the buffer is empty and never touched.
                let saved = accp.get().wrapping_add(i0 * width + p * NR);
                if first {
                    tile = [[0.0f32; NR]; MR];
                } else {
                    for (ii, row) in tile.iter_mut().enumerate() {
                        std::ptr::copy_nonoverlapping(saved.add(ii * width), row.as_mut_ptr(), NR);
                    }
                }
                let b = b_block[p * kc * NR..][..kc * NR].as_ptr();
                match kernel {
                    #[cfg(target_arch = "x86_64")]
                    Kernel::Avx2Fma => tile_avx2_fma(a, (a_rs, a_cs), b, kc, &mut tile),
                    _ => tile_scalar(a, (a_rs, a_cs), b, kc, &mut tile),
                }
                if last {
                    let cols = NR.min(n - p * NR);
                    #[cfg(target_arch = "x86_64")]
                    if kernel == Kernel::Avx2Fma && cols == NR && dst_cs == 1 {
                        store_tile_avx(&tile, rows, dst.get().add(i0 * dst_rs + p * NR), dst_rs, read_dst, beta);
                        continue;
                    }
                    for (ii, row) in tile[..rows].iter().enumerate() {
                        let out = dst.get().add((i0 + ii) * dst_rs + p * NR * dst_cs);
                        for (jj, &v) in row[..cols].iter().enumerate() {
                            let d = out.add(jj * dst_cs);
                            *d = if read_dst { *d + beta * v } else { beta * v };
                        }
                    }
                } else {
                    for (ii, row) in tile.iter().enumerate() {
                        std::ptr::copy_nonoverlapping(row.as_ptr(), saved.add(ii * width), NR);
                    }
                }
            }
        };
        if split {
            (0..row_blocks).into_par_iter().for_each_init(Vec::new, |packed_a, rb| block(rb, packed_a));
        } else {
            let mut packed_a = Vec::new();
            for rb in 0..row_blocks {
                block(rb, &mut packed_a);
            }
        }
    }
    give_back(&PACKED_B, packed_b);
    give_back(&ACC, acc);
}

thread_local! {
    // Buffers kept per thread between products (a training step makes thousands): no allocation,
    // no zeroing, no page faults on fresh memory. Taken out while in use, so a product started on
    // this thread while another waits for the pool (rayon work stealing) just allocates its own.
    static PACKED_B: std::cell::Cell<Vec<f32>> = const { std::cell::Cell::new(Vec::new()) };
    static ACC: std::cell::Cell<Vec<f32>> = const { std::cell::Cell::new(Vec::new()) };
}

/// This thread's buffer from `cell`, `len` long; its contents are whatever was there (every
/// element is written before it is read).
fn scratch(cell: &'static std::thread::LocalKey<std::cell::Cell<Vec<f32>>>, len: usize) -> Vec<f32> {
    let mut v = cell.with(|c| c.take());
    if v.len() < len {
        v.resize(len, 0.0);
    }
    v.truncate(len);
    v
}

/// Keeps the larger of `v` and the buffer already in `cell` (capacity is what counts).
fn give_back(cell: &'static std::thread::LocalKey<std::cell::Cell<Vec<f32>>>, v: Vec<f32>) {
    cell.with(|c| {
        let old = c.take();
        c.set(if old.capacity() > v.capacity() { old } else { v });
    });
}

/// One MR × NR tile: `tile[i][j] += Σ_k a[i·a_rs + k·a_cs]·b[k·NR + j]`, continuing one fma
/// chain per element from the value in `tile`.
unsafe fn tile_scalar(a: *const f32, (a_rs, a_cs): Strides, b: *const f32, k: usize, tile: &mut [[f32; NR]; MR]) {
    for (ii, row) in tile.iter_mut().enumerate() {
        for (jj, out) in row.iter_mut().enumerate() {
            let mut acc = *out;
            for kk in 0..k {
                acc = (*a.add(ii * a_rs + kk * a_cs)).mul_add(*b.add(kk * NR + jj), acc);
            }
            *out = acc;
        }
    }
}

/// [`tile_scalar`] in twelve AVX2 accumulators (the same fma chains, eight outputs at a time).
/// The accumulators are twelve named locals, not an array: rustc kept an array of them on the
/// stack, so every fma went through memory (4x slower on a Zen 3, hidden by a Zen 5's memory
/// renaming).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_avx2_fma(a: *const f32, (a_rs, a_cs): Strides, b: *const f32, k: usize, tile: &mut [[f32; NR]; MR]) {
    use std::arch::x86_64::*;
    let t = tile.as_mut_ptr() as *mut f32;
    // One pointer per row of A, each stepping a_cs along k.
    let (mut a0p, mut a1p, mut a2p) = (a, a.add(a_rs), a.add(2 * a_rs));
    let (mut a3p, mut a4p, mut a5p) = (a.add(3 * a_rs), a.add(4 * a_rs), a.add(5 * a_rs));
    let (mut c00, mut c01) = (_mm256_loadu_ps(t), _mm256_loadu_ps(t.add(8)));
    let (mut c10, mut c11) = (_mm256_loadu_ps(t.add(NR)), _mm256_loadu_ps(t.add(NR + 8)));
    let (mut c20, mut c21) = (_mm256_loadu_ps(t.add(2 * NR)), _mm256_loadu_ps(t.add(2 * NR + 8)));
    let (mut c30, mut c31) = (_mm256_loadu_ps(t.add(3 * NR)), _mm256_loadu_ps(t.add(3 * NR + 8)));
    let (mut c40, mut c41) = (_mm256_loadu_ps(t.add(4 * NR)), _mm256_loadu_ps(t.add(4 * NR + 8)));
    let (mut c50, mut c51) = (_mm256_loadu_ps(t.add(5 * NR)), _mm256_loadu_ps(t.add(5 * NR + 8)));
    let mut bp = b;
    for _ in 0..k {
        let b0 = _mm256_loadu_ps(bp);
        let b1 = _mm256_loadu_ps(bp.add(8));
        let a0 = _mm256_broadcast_ss(&*a0p);
        c00 = _mm256_fmadd_ps(a0, b0, c00);
        c01 = _mm256_fmadd_ps(a0, b1, c01);
        let a1 = _mm256_broadcast_ss(&*a1p);
        c10 = _mm256_fmadd_ps(a1, b0, c10);
        c11 = _mm256_fmadd_ps(a1, b1, c11);
        let a2 = _mm256_broadcast_ss(&*a2p);
        c20 = _mm256_fmadd_ps(a2, b0, c20);
        c21 = _mm256_fmadd_ps(a2, b1, c21);
        let a3 = _mm256_broadcast_ss(&*a3p);
        c30 = _mm256_fmadd_ps(a3, b0, c30);
        c31 = _mm256_fmadd_ps(a3, b1, c31);
        let a4 = _mm256_broadcast_ss(&*a4p);
        c40 = _mm256_fmadd_ps(a4, b0, c40);
        c41 = _mm256_fmadd_ps(a4, b1, c41);
        let a5 = _mm256_broadcast_ss(&*a5p);
        c50 = _mm256_fmadd_ps(a5, b0, c50);
        c51 = _mm256_fmadd_ps(a5, b1, c51);
        (a0p, a1p, a2p) = (a0p.add(a_cs), a1p.add(a_cs), a2p.add(a_cs));
        (a3p, a4p, a5p) = (a3p.add(a_cs), a4p.add(a_cs), a5p.add(a_cs));
        bp = bp.add(NR);
    }
    for (i, (lo, hi)) in [(c00, c01), (c10, c11), (c20, c21), (c30, c31), (c40, c41), (c50, c51)].into_iter().enumerate() {
        _mm256_storeu_ps(t.add(i * NR), lo);
        _mm256_storeu_ps(t.add(i * NR + 8), hi);
    }
}

/// The last step of a whole-width tile into a row-major dst: `dst = [dst +] beta·tile` for the
/// first `rows` rows, eight outputs at a time. A multiply, then an add, each rounded (no fma): the
/// bits of the scalar `*d + beta * v`. The scalar loop cost more than the fmas of a product with
/// a short k (attention scores: k = 32).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn store_tile_avx(tile: &[[f32; NR]; MR], rows: usize, dst: *mut f32, dst_rs: usize, read_dst: bool, beta: f32) {
    use std::arch::x86_64::*;
    let b = _mm256_set1_ps(beta);
    for (ii, row) in tile[..rows].iter().enumerate() {
        let out = dst.add(ii * dst_rs);
        for half in 0..NR / 8 {
            let v = _mm256_mul_ps(b, _mm256_loadu_ps(row.as_ptr().add(8 * half)));
            let d = out.add(8 * half);
            let v = if read_dst { _mm256_add_ps(_mm256_loadu_ps(d), v) } else { v };
            _mm256_storeu_ps(d, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// A (rows × cols) matrix in a buffer with the given strides (room for transposed layouts).
    fn random(rows: usize, cols: usize, (rs, cs): Strides, rng: &mut impl Rng) -> Vec<f32> {
        let len = if rows == 0 || cols == 0 { 0 } else { (rows - 1) * rs + (cols - 1) * cs + 1 };
        (0..len).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
    }

    fn product(kernel: Kernel, (m, n, k): (usize, usize, usize), transposed: (bool, bool), read: bool, beta: f32, parallel: bool, seed: u64) -> (Vec<f32>, Vec<f64>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let ls = if transposed.0 { (1, m) } else { (k, 1) };
        let rs = if transposed.1 { (1, k) } else { (n, 1) };
        let a = random(m, k, ls, &mut rng);
        let b = random(k, n, rs, &mut rng);
        // dst rows padded to n + 3 (a head's columns inside a wider matrix).
        let ds = (n + 3, 1);
        let mut dst = random(m, n + 3, ds, &mut rng);
        let before = dst.clone();
        unsafe { matmul_with(kernel, (m, n, k), dst.as_mut_ptr(), ds, read, a.as_ptr(), ls, b.as_ptr(), rs, beta, parallel) };
        let mut want = vec![0.0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                let dot: f64 = (0..k).map(|kk| a[i * ls.0 + kk * ls.1] as f64 * b[kk * rs.0 + j * rs.1] as f64).sum();
                want[i * n + j] = if read { before[i * ds.0 + j] as f64 } else { 0.0 } + beta as f64 * dot;
            }
        }
        // Padding columns are never written.
        for i in 0..m {
            for j in n..n + 3 {
                assert_eq!(dst[i * ds.0 + j], before[i * ds.0 + j]);
            }
        }
        let got = (0..m).flat_map(|i| (0..n).map(move |j| (i, j))).map(|(i, j)| dst[i * ds.0 + j]).collect();
        (got, want)
    }

    const SHAPES: [(usize, usize, usize); 8] = [(1, 1, 1), (7, 17, 5), (32, 64, 128), (13, 40, 200), (200, 32, 200), (6, 16, 0), (50, 3, 33), (20, 24, 700)];

    #[test]
    fn products_match_a_double_precision_reference() {
        for (s, &shape) in SHAPES.iter().enumerate() {
            for transposed in [(false, false), (true, false), (false, true), (true, true)] {
                for (read, beta) in [(false, 1.0), (true, 1.0), (true, 0.25)] {
                    let (got, want) = product(detected_kernel(), shape, transposed, read, beta, true, s as u64);
                    let tol = 1e-5 * (shape.2 as f64).sqrt().max(1.0) * 4.0;
                    for (g, w) in got.iter().zip(&want) {
                        assert!((*g as f64 - w).abs() <= tol, "{shape:?} {transposed:?}: {g} vs {w}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_kernel_and_thread_count_gives_the_same_bits() {
        let pool = |n| rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap();
        for (s, &shape) in SHAPES.iter().chain(&[(300, 70, 96)]).enumerate() {
            let reference = product(Kernel::Scalar, shape, (false, true), true, 0.5, false, 100 + s as u64).0;
            let fast = product(detected_kernel(), shape, (false, true), true, 0.5, false, 100 + s as u64).0;
            let two = pool(2).install(|| product(detected_kernel(), shape, (false, true), true, 0.5, true, 100 + s as u64).0);
            let three = pool(3).install(|| product(detected_kernel(), shape, (false, true), true, 0.5, true, 100 + s as u64).0);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&reference), "{shape:?}: {:?} kernel vs scalar", detected_kernel());
            assert_eq!(bits(&two), bits(&reference), "{shape:?}: 2 threads");
            assert_eq!(bits(&three), bits(&reference), "{shape:?}: 3 threads");
        }
    }
}
