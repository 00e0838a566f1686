//! `cargo xtask embed`: embed anyone's light curves with a trained or imported Astromer
//! checkpoint. The work is `embedding::run` (crates/embedding); this file parses arguments, draws
//! the progress bar and prints.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use embedding::{EmbedError, EmbedOptions, InputOptions, Job, Pooling};
use lightcurve::ColumnMapping;

#[derive(Args, Debug)]
pub struct EmbedArgs {
    /// Checkpoint folder: config.toml + model.safetensors (e.g. artifacts/small/e02-pretrain/A2/best).
    #[arg(long, value_name = "DIR")]
    checkpoint: PathBuf,
    /// Light curves: a long table (.csv or .parquet, one row per observation) or a folder in the
    /// official parquet layout (metadata.parquet + light_curves/shard_NNN.parquet).
    #[arg(long, value_name = "FILE|DIR")]
    input: PathBuf,
    /// Output table, .parquet or .csv (written atomically).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// mean | max (over the valid steps of the last block) | skip (per-block means, concatenated).
    #[arg(long, default_value = "mean", value_parser = parse_pooling)]
    pooling: Pooling,
    /// Keep only this band (required when the input holds several).
    #[arg(long, value_name = "B")]
    band: Option<String>,
    /// One row per window (object_id, window, start, n_obs, emb_…) instead of one per object.
    #[arg(long)]
    per_window: bool,
    /// Skip curves that fail validation, print them and list them in <out>.skipped.csv.
    #[arg(long)]
    skip_invalid: bool,
    /// Windows per encoder pass (speed and memory only).
    #[arg(long, default_value_t = embedding::DEFAULT_BATCH_SIZE)]
    batch_size: usize,
    /// Long table: object id column.
    #[arg(long, default_value = "object_id", value_name = "NAME")]
    object_col: String,
    /// Long table: band column.
    #[arg(long, default_value = "band", value_name = "NAME", conflicts_with = "no_band_col")]
    band_col: String,
    /// Long table: the file has no band column (every curve is one band).
    #[arg(long)]
    no_band_col: bool,
    /// Long table: time column (days).
    #[arg(long, default_value = "time", value_name = "NAME")]
    time_col: String,
    /// Long table: magnitude column.
    #[arg(long, default_value = "mag", value_name = "NAME")]
    mag_col: String,
    /// Long table: magnitude error column.
    #[arg(long, default_value = "mag_err", value_name = "NAME")]
    err_col: String,
}

pub const LONG_ABOUT: &str = "Embed light curves with a trained or imported Astromer checkpoint.\n\n\
    Every curve is cut into the official sequential windows of 200 observations (starts 0, 200, 400, …; the \
    last one right-aligned, per-window zero mean, right zero padding) and encoded in inference mode with every \
    real observation visible. Each window is pooled over its valid steps (--pooling mean: mean of the last \
    block, max: max of the last block, skip: the per-block means of the input embedding and every block, \
    concatenated — what the classification heads read), and an object's embedding is the mean over its windows.\n\n\
    Output: object_id, n_obs, n_windows, then emb_000, emb_001, … as Float32 (with --per-window: object_id, \
    window, start, n_obs, emb_…), written atomically to --out (.parquet or .csv).\n\n\
    Validation never alters a curve. A curve with a non-finite or missing value, unsorted or duplicate times, an \
    error <= 0 or fewer than 5 observations is an error naming the file and the object, and nothing is written; \
    with --skip-invalid such curves are skipped, printed and listed (object_id, band, reason) in \
    <out>.skipped.csv. Text such as nan, NaN, inf, -inf, Infinity in numeric columns reads as non-finite.\n\n\
    Example:\n  cargo xtask embed --checkpoint artifacts/small/e02-pretrain/A2/best \\\n    \
    --input lightcurves.csv --band R --out embeddings.parquet\n\n\
    Deterministic: the same checkpoint, input and batch size give the same bytes. See docs/embedding.md.";

fn parse_pooling(s: &str) -> Result<Pooling, String> {
    s.parse()
}

pub fn run(args: EmbedArgs) -> Result<()> {
    let started = Instant::now();
    let dev = astromer::try_default_device(0).map_err(|e| anyhow::anyhow!("no device: {e}"))?;
    let job = Job {
        checkpoint: args.checkpoint,
        input: args.input,
        out: args.out,
        read: InputOptions {
            columns: ColumnMapping {
                object_id: args.object_col,
                band: (!args.no_band_col).then_some(args.band_col),
                time: args.time_col,
                mag: args.mag_col,
                mag_err: args.err_col,
                ..ColumnMapping::default()
            },
            band: args.band,
            skip_invalid: args.skip_invalid,
        },
        embed: EmbedOptions {
            pooling: args.pooling,
            batch_size: args.batch_size,
            per_window: args.per_window,
            ..EmbedOptions::default()
        },
    };
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("  embed [{bar:30}] {pos}/{len} objects, {per_sec}, eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let result = embedding::run(&job, dev.device(), &mut |done, total| {
        if done == 0 {
            // Encoding starts now: the rate excludes loading and validation.
            bar.reset_elapsed();
        }
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    });
    bar.finish_and_clear();
    let summary = result.map_err(|e| match e {
        EmbedError::InvalidCurves { .. } => anyhow::anyhow!(
            "{e}\nrerun with --skip-invalid to embed the other curves and list these in {}",
            embedding::skipped_path(&job.out).display()
        ),
        EmbedError::SeveralBands { .. } => anyhow::anyhow!("{e}\nchoose one with --band"),
        e => e.into(),
    })?;
    if !summary.skipped.is_empty() {
        eprintln!("skipped {} curve(s) that fail validation:", summary.skipped.len());
        for r in &summary.skipped {
            eprintln!("  {} (band {}): {}", r.object_id, r.band, r.problem);
        }
    }
    println!(
        "embedded {} objects ({} windows, {} pooling, {} values each) -> {}",
        summary.objects,
        summary.windows,
        summary.pooling,
        summary.dim,
        job.out.display()
    );
    println!(
        "encoding {:.1} s ({:.1} objects/s, {:.1} windows/s); {:.1} s in all",
        summary.encode_seconds,
        summary.objects as f64 / summary.encode_seconds.max(1e-9),
        summary.windows as f64 / summary.encode_seconds.max(1e-9),
        started.elapsed().as_secs_f64()
    );
    if let Some(list) = &summary.skipped_list {
        println!("{} skipped curve(s) listed in {}", summary.skipped.len(), list.display());
    }
    Ok(())
}
