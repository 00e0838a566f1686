//! GFLOP/s of the deterministic matrix product (`astromer::matmul`) on shapes of the small and
//! A2 steps, one thread and the rayon pool: `cargo run --example mm_speed -p astromer`
//! (`SCALAR=1` adds the scalar kernel, slow: it exists for CPUs without FMA).

use astromer::matmul::{detected_kernel, matmul_with, Kernel};

fn main() {
    println!("kernel of this CPU: {:?}", detected_kernel());
    let shapes = [
        (6400usize, 384usize, 128usize), // QKV projection, small, batch 32
        (6400, 128, 128),                // output projection, small
        (200, 200, 32),                  // attention scores of one head
        (128, 128, 6400),                // dW of a d 128 projection
        (64, 192, 64),                   // one GRU step (batch 64, 64 units)
    ];
    for &(m, n, k) in &shapes {
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let mut c = vec![0.0f32; m * n];
        let mut kernels = vec![("avx2+fma", detected_kernel())];
        if std::env::var("SCALAR").is_ok() {
            kernels.push(("scalar", Kernel::Scalar));
        }
        for (name, kernel) in kernels {
            for parallel in [false, true] {
                let reps = (4e9 / (m * n * k) as f64).max(1.0) as usize;
                let t = std::time::Instant::now();
                for _ in 0..reps {
                    // SAFETY: a (m×k), b (k×n) and c (m×n) are row-major buffers of those sizes.
                    unsafe { matmul_with(kernel, (m, n, k), c.as_mut_ptr(), (n, 1), false, a.as_ptr(), (k, 1), b.as_ptr(), (n, 1), 1.0, parallel) };
                }
                let s = t.elapsed().as_secs_f64() / reps as f64;
                println!("{m}×{n}×{k} {name} parallel={parallel}: {:.3} ms, {:.1} GFLOP/s", s * 1e3, 2.0 * (m * n * k) as f64 / s / 1e9);
            }
        }
    }
}
