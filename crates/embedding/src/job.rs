//! The whole command as one call: load the checkpoint, read and validate the input, embed, write.

use std::path::{Path, PathBuf};
use std::time::Instant;

use astromer::dfdx::prelude::Device;
use lightcurve::RejectedCurve;

use crate::{
    embed_set, load_checkpoint, read_curves, skipped_path, write_embeddings, write_skipped, EmbedError, EmbedOptions,
    InputOptions, Layout, Pooling,
};

/// One embedding run.
#[derive(Debug, Clone)]
pub struct Job {
    /// Checkpoint folder (`config.toml` + `model.safetensors`).
    pub checkpoint: PathBuf,
    /// Long table (`.csv`/`.parquet`) or official-layout folder.
    pub input: PathBuf,
    /// Output table (`.parquet` or `.csv`).
    pub out: PathBuf,
    pub read: InputOptions,
    pub embed: EmbedOptions,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Summary {
    pub objects: usize,
    pub windows: usize,
    pub pooling: Pooling,
    pub dim: usize,
    /// Curves skipped for failing validation (only with `skip_invalid`).
    pub skipped: Vec<RejectedCurve>,
    /// Where they are listed (`<out>.skipped.csv`), with `skip_invalid`.
    pub skipped_list: Option<PathBuf>,
    /// Seconds spent encoding (windowing, encoder passes, pooling).
    pub encode_seconds: f64,
}

/// Runs `job`: nothing is written unless every step before the writes succeeded, and each file is
/// written atomically. With `skip_invalid` the list of skipped curves is written (a header only
/// when none was skipped) before the embeddings; without it, a list left by an earlier run at
/// `<out>.skipped.csv` is removed, since it would describe another output.
/// `progress(objects_done, objects_total)` is called before the first and after every encoder batch.
pub fn run<D: Device<f32>>(job: &Job, dev: &D, progress: &mut dyn FnMut(usize, usize)) -> Result<Summary, EmbedError> {
    let model = load_checkpoint(&job.checkpoint, dev)?;
    let curves = read_curves(&job.input, &job.read)?;
    let started = Instant::now();
    let emb = embed_set(&model, &curves.set, &job.embed, progress)?;
    let encode_seconds = started.elapsed().as_secs_f64();
    let list = skipped_path(&job.out);
    if job.read.skip_invalid {
        write_skipped(&list, &curves.skipped)?;
    } else {
        remove_stale(&list)?;
    }
    let layout = if job.embed.per_window { Layout::PerWindow } else { Layout::PerObject };
    write_embeddings(&job.out, &emb, layout)?;
    Ok(Summary {
        objects: emb.objects.len(),
        windows: emb.n_windows,
        pooling: emb.pooling,
        dim: emb.dim,
        skipped: curves.skipped,
        skipped_list: job.read.skip_invalid.then_some(list),
        encode_seconds,
    })
}

fn remove_stale(path: &Path) -> Result<(), EmbedError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(EmbedError::File {
            path: path.to_path_buf(),
            problem: format!("cannot remove the list of skipped curves of an earlier run: {e}"),
        }),
        _ => Ok(()),
    }
}
