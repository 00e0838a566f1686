//! `cargo xtask weights`: inspect, import and check official TensorFlow checkpoints.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use official_weights::parity;

pub const LONG_ABOUT: &str = "Official Astromer 2 weights (TensorFlow TensorBundle checkpoints, as the official code's \
    `model.save_weights` and the released weights write them: `<prefix>.index` + `<prefix>.data-00000-of-00001`).\n\n\
    inspect  lists every key with its dtype and shape without loading the data (--verify also reads every tensor \
    and checks its crc32c).\n\
    import   maps the official keys onto our A2 in official-graph mode (mask token present, never applied, as the \
    official graph runs), reads blocks, d, FFN width and the leak projections from the shapes, refuses a partial \
    import unless --allow-partial, and writes our checkpoint (config.toml, model.safetensors) plus import.toml \
    (source files with sha256, the key mapping, what was missing or ignored).\n\
    check    runs an imported model on a reference file's inputs (input, times, mask_in, n_valid) and compares \
    `reconstruction` and every `block_i` with the official outputs under a tolerance that grows with the window's \
    largest |t| (docs/parity.md); exits 1 if any output fails.\n\n\
    A checkpoint is given as its prefix (`…/weights`), its .index file, or the folder holding it.";

#[derive(Subcommand)]
pub enum WeightsCommand {
    /// List the keys, dtypes and shapes of a checkpoint (reads only the index).
    Inspect {
        /// Checkpoint prefix, `.index` file or folder.
        checkpoint: PathBuf,
        /// Also read every tensor and check its crc32c.
        #[arg(long)]
        verify: bool,
    },
    /// Import an official checkpoint into our checkpoint format.
    Import {
        /// Checkpoint prefix, `.index` file or folder.
        checkpoint: PathBuf,
        /// Output folder (config.toml, model.safetensors, import.toml); replaced atomically.
        #[arg(long)]
        out: PathBuf,
        /// Number of attention heads (the shapes cannot tell). Default: `num_heads` of the official run's
        /// config.toml beside the checkpoint, else d / 64 (the released models' head size).
        #[arg(long)]
        heads: Option<usize>,
        /// Import even if some parameters have no official tensor (they keep their initialisation) or some
        /// official model tensors are not mapped; both lists go to import.toml.
        #[arg(long)]
        allow_partial: bool,
    },
    /// Compare an imported model with the official outputs of a reference file; exit 1 on a failure.
    Check {
        /// Folder written by `weights import` (or any of our checkpoints).
        imported: PathBuf,
        /// safetensors file with input, times, mask_in, n_valid, reconstruction, block_0…
        #[arg(long)]
        reference: PathBuf,
    },
}

pub fn run(command: WeightsCommand) -> Result<()> {
    match command {
        WeightsCommand::Inspect { checkpoint, verify } => inspect(checkpoint, verify),
        WeightsCommand::Import {
            checkpoint,
            out,
            heads,
            allow_partial,
        } => import(checkpoint, out, heads, allow_partial),
        WeightsCommand::Check { imported, reference } => check(imported, reference),
    }
}

fn inspect(checkpoint: PathBuf, verify: bool) -> Result<()> {
    let bundle = tensorbundle::Bundle::open(&checkpoint)?;
    println!("checkpoint {}", bundle.prefix().display());
    let width = bundle.entries().map(|e| e.key.len()).max().unwrap_or(0);
    let mut floats = 0u64;
    for e in bundle.entries() {
        let shape = match &e.shape {
            Some(s) => format!("{s:?}"),
            None => "unknown rank".into(),
        };
        println!("{:<width$}  {:<8}  {shape}", e.key, e.dtype.to_string());
        if e.dtype == tensorbundle::DType::Float {
            floats += e.numel().unwrap_or(0);
        }
    }
    println!("{} entries, {floats} float32 values", bundle.entries().len());
    if verify {
        bundle.verify()?;
        println!("every tensor passes its crc32c check");
    }
    Ok(())
}

fn import(checkpoint: PathBuf, out: PathBuf, heads: Option<usize>, allow_partial: bool) -> Result<()> {
    let dev = astromer::default_device(0);
    let options = official_weights::ImportOptions {
        n_heads: heads,
        allow_partial,
    };
    let imported = official_weights::import_checkpoint(&checkpoint, &options, &dev)?;
    imported
        .write(&out)
        .with_context(|| format!("writing the imported checkpoint to {}", out.display()))?;
    let p = &imported.provenance;
    let c = imported.model.config();
    println!(
        "imported {} tensors ({} parameters) from {} into {}",
        p.imported,
        imported.model.parameter_count(),
        p.source_prefix.display(),
        out.display()
    );
    println!(
        "architecture: {} blocks, d {}, {} heads ({:?}), FFN {}, leak projections {}, mask token {:?}",
        c.n_blocks, c.d_model, c.n_heads, p.heads_source, c.ffn_width, c.residual_projections, c.mask_token
    );
    for note in &p.notes {
        println!("note: {note}");
    }
    if !p.unexpected.is_empty() {
        println!("not mapped (--allow-partial): {}", p.unexpected.join(", "));
    }
    Ok(())
}

fn check(imported: PathBuf, reference: PathBuf) -> Result<()> {
    let dev = astromer::default_device(0);
    let model = astromer::Astromer::load(&imported, &dev)
        .with_context(|| format!("loading the checkpoint in {}", imported.display()))?;
    let reference = parity::read_reference(&reference)?;
    let diffs = parity::compare(&model, &reference)?;
    let max_t = (0..reference.batch_size).map(|w| reference.max_abs_time(w)).fold(0.0f32, f32::max);
    println!(
        "{} windows of {} steps, largest |t| {max_t:.1} d; allowed difference per window = {:e} · max(scale, 1) + {} · |t|max · 2^-23",
        reference.batch_size,
        reference.window_len,
        parity::REL,
        parity::GAIN
    );
    println!(
        "{:<15} {:>11} {:>11} {:>9} {:>12} {:>7}  verdict",
        "output", "max |diff|", "max rel", "scale", "allowed", "ratio"
    );
    for d in &diffs {
        println!(
            "{:<15} {:>11.3e} {:>11.3e} {:>9.3} {:>12.3e} {:>7.3}  {}",
            d.output,
            d.max_abs,
            d.max_rel,
            d.scale,
            d.worst_allowed,
            d.worst_ratio,
            if d.passes() { "pass" } else { "FAIL" }
        );
    }
    let failed: Vec<&str> = diffs.iter().filter(|d| !d.passes()).map(|d| d.output.as_str()).collect();
    anyhow::ensure!(failed.is_empty(), "parity check failed for {}", failed.join(", "));
    println!("all {} outputs within tolerance", diffs.len());
    Ok(())
}
