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
//! columns (zero-padded), A per block of [`MR`] rows; a micro-kernel continues an MR × NR tile's
//! fma chains over one depth block, and the chains' running values wait in an f32 buffer between
//! blocks (stored and reloaded exactly, so the chain is the unblocked one).

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
    let mut packed_b = vec![0.0f32; k * width];
    for kb in 0..k.div_ceil(KC) {
        let (k0, kc) = (kb * KC, KC.min(k - kb * KC));
        for p in 0..panels {
            let cols = NR.min(n - p * NR);
            let panel = &mut packed_b[k0 * width + p * kc * NR..][..kc * NR];
            for kk in 0..kc {
                let src = rhs.add((k0 + kk) * rhs_rs + p * NR * rhs_cs);
                for (jj, v) in panel[kk * NR..kk * NR + cols].iter_mut().enumerate() {
                    *v = *src.add(jj * rhs_cs);
                }
            }
        }
    }
    // Every output's running fma chain, rows padded to whole blocks: the chain of a depth block
    // starts from the value the previous one stored, so blocking never changes the bits.
    let mut acc = vec![0.0f32; row_blocks * MR * width];
    let (accp, lhs) = (SyncPtr(acc.as_mut_ptr()), SyncPtr(lhs as *mut f32));
    let threads = rayon::current_num_threads();
    let split = parallel && threads > 1 && row_blocks >= 2 * threads && m * n * k >= PARALLEL_MIN_FLOPS;
    for kb in 0..k.div_ceil(KC) {
        let (k0, kc) = (kb * KC, KC.min(k - kb * KC));
        let b_block = &packed_b[k0 * width..][..kc * width];
        let block = |rb: usize, packed_a: &mut Vec<f32>| {
            let i0 = rb * MR;
            let rows = MR.min(m - i0);
            // A's rows i0 … i0+MR−1 over this depth block, k-major (MR values per k), zero-padded.
            packed_a.clear();
            packed_a.resize(kc * MR, 0.0);
            for ii in 0..rows {
                let src = lhs.get().add((i0 + ii) * lhs_rs + k0 * lhs_cs) as *const f32;
                for kk in 0..kc {
                    packed_a[kk * MR + ii] = *src.add(kk * lhs_cs);
                }
            }
            let mut tile = [[0.0f32; NR]; MR];
            for p in 0..panels {
                let out = accp.get().add(i0 * width + p * NR);
                for (ii, row) in tile.iter_mut().enumerate() {
                    std::ptr::copy_nonoverlapping(out.add(ii * width), row.as_mut_ptr(), NR);
                }
                let b = &b_block[p * kc * NR..][..kc * NR];
                match kernel {
                    #[cfg(target_arch = "x86_64")]
                    Kernel::Avx2Fma => tile_avx2_fma(packed_a.as_ptr(), b.as_ptr(), kc, &mut tile),
                    _ => tile_scalar(packed_a, b, kc, &mut tile),
                }
                for (ii, row) in tile.iter().enumerate() {
                    std::ptr::copy_nonoverlapping(row.as_ptr(), out.add(ii * width), NR);
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
    for i in 0..m {
        let out = dst.add(i * dst_rs);
        for (j, &v) in acc[i * width..i * width + n].iter().enumerate() {
            let d = out.add(j * dst_cs);
            *d = if read_dst { *d + beta * v } else { beta * v };
        }
    }
}

/// One MR × NR tile: `tile[i][j] += Σ_k a[k·MR + i]·b[k·NR + j]`, continuing one fma chain per
/// element from the value in `tile`.
fn tile_scalar(a: &[f32], b: &[f32], k: usize, tile: &mut [[f32; NR]; MR]) {
    for (ii, row) in tile.iter_mut().enumerate() {
        for (jj, out) in row.iter_mut().enumerate() {
            let mut acc = *out;
            for kk in 0..k {
                acc = a[kk * MR + ii].mul_add(b[kk * NR + jj], acc);
            }
            *out = acc;
        }
    }
}

/// [`tile_scalar`] in twelve AVX2 accumulators (the same fma chains, eight outputs at a time).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_avx2_fma(a: *const f32, b: *const f32, k: usize, tile: &mut [[f32; NR]; MR]) {
    use std::arch::x86_64::*;
    let mut c = [[_mm256_setzero_ps(); 2]; MR];
    for (acc, row) in c.iter_mut().zip(tile.iter()) {
        acc[0] = _mm256_loadu_ps(row.as_ptr());
        acc[1] = _mm256_loadu_ps(row.as_ptr().add(8));
    }
    for kk in 0..k {
        let b0 = _mm256_loadu_ps(b.add(kk * NR));
        let b1 = _mm256_loadu_ps(b.add(kk * NR + 8));
        let ak = a.add(kk * MR);
        for (ii, acc) in c.iter_mut().enumerate() {
            let av = _mm256_set1_ps(*ak.add(ii));
            acc[0] = _mm256_fmadd_ps(av, b0, acc[0]);
            acc[1] = _mm256_fmadd_ps(av, b1, acc[1]);
        }
    }
    for (row, acc) in tile.iter_mut().zip(&c) {
        _mm256_storeu_ps(row.as_mut_ptr(), acc[0]);
        _mm256_storeu_ps(row.as_mut_ptr().add(8), acc[1]);
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
