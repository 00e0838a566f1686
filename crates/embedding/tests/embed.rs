//! The embedding pipeline on a tiny randomly initialised model saved to a temporary folder: the
//! numbers against a hand computation from `Astromer::encode`, the tables written, validation,
//! determinism.

use std::path::{Path, PathBuf};

use astromer::{Astromer, DefaultDevice, EncoderConfig, MaskedBatch};
use embedding::{EmbedError, EmbedOptions, InputOptions, Job, Pooling};
use lightcurve::{make_window, sequential_window_starts, LightCurve, LightCurveSet, OwnedLightCurve};

fn tiny_config() -> EncoderConfig {
    EncoderConfig {
        n_blocks: 2,
        d_model: 16,
        n_heads: 2,
        ffn_width: 32,
        ..EncoderConfig::astromer2()
    }
}

/// A tiny model saved as a checkpoint in `dir`, and the same model loaded back.
fn checkpoint(dir: &Path) -> (PathBuf, Astromer<DefaultDevice>, DefaultDevice) {
    let dev = astromer::default_device(0);
    let ckpt = dir.join("ckpt");
    Astromer::new(tiny_config(), &dev, 7).unwrap().save(&ckpt).unwrap();
    let model = embedding::load_checkpoint(&ckpt, &dev).unwrap();
    (ckpt, model, dev)
}

/// A smooth deterministic curve of `n` points (object `k` gets its own offset and period).
fn curve(id: &str, band: &str, n: usize, k: usize) -> OwnedLightCurve {
    let time: Vec<f64> = (0..n).map(|i| 100.0 + 0.7 * i as f64 + 0.05 * (i % 3) as f64).collect();
    OwnedLightCurve {
        object_id: id.into(),
        band: band.into(),
        mag: time.iter().map(|t| 15.0 + 0.1 * k as f64 + 0.4 * (t / (3.0 + k as f64)).sin()).collect(),
        err: (0..n).map(|i| 0.05 + 0.01 * (i % 4) as f64).collect(),
        time,
        label: None,
    }
}

/// Curves of 450 (three windows: 0, 200, 250), 30 (one padded window) and 200 points (two
/// identical windows, as the official sequential windows give).
fn sample_set() -> LightCurveSet {
    LightCurveSet::from_curves(vec![
        curve("long", "R", 450, 0),
        curve("short", "R", 30, 1),
        curve("exact", "R", 200, 2),
    ])
    .unwrap()
}

fn write_csv(dir: &Path, name: &str, set: &LightCurveSet) -> PathBuf {
    let path = dir.join(name);
    lightcurve::write_long_table(set, &path, None).unwrap();
    path
}

/// Per-window poolings computed directly from `Astromer::encode` on the curve's windows alone.
fn by_hand(model: &Astromer<DefaultDevice>, c: &LightCurve<'_>, pooling: Pooling) -> Vec<Vec<f32>> {
    let windows: Vec<_> = sequential_window_starts(c.len(), 200)
        .into_iter()
        .map(|s| make_window(c, 0, s, 200))
        .collect();
    let enc = model.encode(&MaskedBatch::evaluation(&windows).unwrap()).unwrap();
    let reps: Vec<Vec<f32>> = enc.all().into_iter().map(|t| t.as_vec()).collect();
    let (l, d) = (200, model.config().d_model);
    let step = |rep: &[f32], b: usize, s: usize, j: usize| rep[(b * l + s) * d + j];
    windows
        .iter()
        .enumerate()
        .map(|(b, w)| {
            let n = w.n_valid;
            let mean = |rep: &[f32]| -> Vec<f32> {
                (0..d).map(|j| (0..n).map(|s| step(rep, b, s, j)).sum::<f32>() / n as f32).collect()
            };
            let last = reps.last().unwrap();
            match pooling {
                Pooling::Mean => mean(last),
                Pooling::Max => (0..d)
                    .map(|j| (0..n).map(|s| step(last, b, s, j)).fold(f32::NEG_INFINITY, f32::max))
                    .collect(),
                Pooling::Skip => reps.iter().flat_map(|r| mean(r)).collect(),
            }
        })
        .collect()
}

fn assert_close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (j, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= 2e-5 * (1.0 + y.abs()), "{what}[{j}]: {x} vs {y}");
    }
}

#[test]
fn object_embedding_is_the_mean_of_its_window_poolings() {
    let dir = tempfile::tempdir().unwrap();
    let (_, model, _) = checkpoint(dir.path());
    let set = sample_set();
    for pooling in Pooling::ALL {
        let opts = EmbedOptions {
            pooling,
            batch_size: 2, // windows of one object straddle batches
            per_window: true,
            ..Default::default()
        };
        let emb = embedding::embed_set(&model, &set, &opts, &mut |_, _| {}).unwrap();
        let want_dim = if pooling == Pooling::Skip { 3 * 16 } else { 16 };
        assert_eq!(emb.dim, want_dim);
        assert_eq!(emb.objects.len(), 3);
        assert_eq!(emb.n_windows, 3 + 1 + 2);
        let windows = emb.windows.as_ref().unwrap();
        assert_eq!(
            windows.iter().map(|w| (w.object_id.as_str(), w.window, w.start, w.n_obs)).collect::<Vec<_>>(),
            vec![
                ("long", 0, 0, 200),
                ("long", 1, 200, 200),
                ("long", 2, 250, 200),
                ("short", 0, 0, 30),
                ("exact", 0, 0, 200),
                ("exact", 1, 0, 200)
            ]
        );
        for (i, o) in emb.objects.iter().enumerate() {
            let c = set.curve(i);
            assert_eq!((o.object_id.as_str(), o.n_obs), (c.object_id, c.len()));
            let per_window = by_hand(&model, &c, pooling);
            assert_eq!(o.n_windows, per_window.len());
            let mine: Vec<_> = windows.iter().filter(|w| w.object_id == o.object_id).collect();
            for (w, hand) in mine.iter().zip(&per_window) {
                assert_close(&w.values, hand, &format!("{pooling} {} window {}", o.object_id, w.window));
            }
            let mean: Vec<f32> = (0..want_dim)
                .map(|j| per_window.iter().map(|v| v[j]).sum::<f32>() / per_window.len() as f32)
                .collect();
            assert_close(&o.values, &mean, &format!("{pooling} {}", o.object_id));
        }
        // Different windows of the long curve really differ (the mean is not of one window).
        assert!(windows[0].values != windows[1].values);
    }
}

fn job(dir: &Path, ckpt: &Path, input: &Path, out: &str) -> Job {
    Job {
        checkpoint: ckpt.to_path_buf(),
        input: input.to_path_buf(),
        out: dir.join(out),
        read: InputOptions::default(),
        embed: EmbedOptions::default(),
    }
}

fn names(df: &polars::prelude::DataFrame) -> Vec<String> {
    df.get_column_names().iter().map(|s| s.to_string()).collect()
}

#[test]
fn tables_have_one_row_per_object_or_window_and_named_float32_columns() {
    use polars::prelude::DataType;
    let dir = tempfile::tempdir().unwrap();
    let (ckpt, _, dev) = checkpoint(dir.path());
    let input = write_csv(dir.path(), "curves.csv", &sample_set());
    let emb_cols: Vec<String> = (0..16).map(|j| format!("emb_{j:03}")).collect();
    for out in ["emb.parquet", "emb.csv"] {
        let j = job(dir.path(), &ckpt, &input, out);
        let s = embedding::run(&j, &dev, &mut |_, _| {}).unwrap();
        assert_eq!((s.objects, s.windows, s.dim), (3, 6, 16));
        let df = lightcurve::io::read_table(&j.out).unwrap();
        assert_eq!(df.height(), 3);
        let mut want = vec!["object_id".to_string(), "n_obs".into(), "n_windows".into()];
        want.extend(emb_cols.iter().cloned());
        assert_eq!(names(&df), want);
        let ids: Vec<_> = df.column("object_id").unwrap().str().unwrap().into_iter().flatten().collect();
        assert_eq!(ids, ["long", "short", "exact"]);
        let n_windows: Vec<_> = df.column("n_windows").unwrap().i64().unwrap().into_iter().flatten().collect();
        assert_eq!(n_windows, [3, 1, 2]);
        if out.ends_with("parquet") {
            assert_eq!(df.column("emb_015").unwrap().dtype(), &DataType::Float32);
        }
        assert!(!embedding::skipped_path(&j.out).exists());
    }
    let mut j = job(dir.path(), &ckpt, &input, "win.parquet");
    j.embed.per_window = true;
    j.embed.pooling = Pooling::Skip;
    embedding::run(&j, &dev, &mut |_, _| {}).unwrap();
    let df = lightcurve::io::read_table(&j.out).unwrap();
    assert_eq!(df.height(), 6);
    let cols = names(&df);
    assert_eq!(cols[..4], ["object_id", "window", "start", "n_obs"]);
    assert_eq!(cols.len(), 4 + 48);
    assert_eq!(cols.last().unwrap(), "emb_047");
    let starts: Vec<_> = df.column("start").unwrap().i64().unwrap().into_iter().flatten().collect();
    assert_eq!(starts, [0, 200, 250, 0, 0, 0]);
}

/// Two good curves and five that fail validation in five ways.
fn mixed_csv(dir: &Path) -> PathBuf {
    let mut text = String::from("object_id,band,time,mag,mag_err\n");
    let mut rows = |id: &str, times: &[&str], mag: &dyn Fn(usize) -> String, err: &dyn Fn(usize) -> &'static str| {
        for (k, t) in times.iter().enumerate() {
            text.push_str(&format!("{id},R,{t},{},{}\n", mag(k), err(k)));
        }
    };
    let t12: Vec<String> = (1..=12).map(|k| format!("{k}.0")).collect();
    let t12: Vec<&str> = t12.iter().map(String::as_str).collect();
    let plain = |k: usize| format!("15.{k}");
    let ok = |_: usize| -> &'static str { "0.05" };
    rows("good1", &t12, &plain, &ok);
    rows("badnan", &t12, &|k: usize| if k == 4 { "nan".into() } else { plain(k) }, &ok);
    rows("tooshort", &t12[..3], &plain, &ok);
    rows("unsorted", &["1.0", "3.0", "2.0", "4.0", "5.0", "6.0"], &plain, &ok);
    rows("dup", &["1.0", "2.0", "2.0", "4.0", "5.0", "6.0"], &plain, &ok);
    rows("negerr", &t12, &plain, &|k: usize| if k == 7 { "-0.1" } else { "0.05" });
    rows("good2", &t12, &plain, &|_: usize| "1.5");
    let path = dir.join("mixed.csv");
    std::fs::write(&path, text).unwrap();
    path
}

const BAD: [&str; 5] = ["badnan", "tooshort", "unsorted", "dup", "negerr"];

#[test]
fn invalid_curves_are_an_error_naming_them_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (ckpt, _, dev) = checkpoint(dir.path());
    let j = job(dir.path(), &ckpt, &mixed_csv(dir.path()), "out.parquet");
    let err = embedding::run(&j, &dev, &mut |_, _| {}).unwrap_err();
    assert!(matches!(err, EmbedError::InvalidCurves { ref curves, .. } if curves.len() == 5), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("mixed.csv") && msg.contains("5 light curve(s) fail validation"), "{msg}");
    for (id, why) in BAD.iter().zip(["non-finite", "fewer than the 5", "not sorted", "duplicate", "outside (0, inf)"]) {
        assert!(msg.contains(&format!("object `{id}`")) && msg.contains(why), "{id}: {msg}");
    }
    assert!(!msg.contains("good1") && !msg.contains("good2"), "{msg}");
    assert!(!j.out.exists());
    assert!(!embedding::skipped_path(&j.out).exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "only the checkpoint and the input");
}

#[test]
fn skip_invalid_lists_the_bad_curves_and_embeds_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let (ckpt, _, dev) = checkpoint(dir.path());
    let mut j = job(dir.path(), &ckpt, &mixed_csv(dir.path()), "out.csv");
    j.read.skip_invalid = true;
    let s = embedding::run(&j, &dev, &mut |_, _| {}).unwrap();
    assert_eq!(s.objects, 2);
    assert_eq!(s.skipped.iter().map(|r| r.object_id.as_str()).collect::<Vec<_>>(), BAD);
    let list = s.skipped_list.unwrap();
    assert_eq!(list, dir.path().join("out.csv.skipped.csv"));
    let skipped = lightcurve::io::read_table(&list).unwrap();
    assert_eq!(names(&skipped), ["object_id", "band", "reason"]);
    let ids: Vec<_> = skipped.column("object_id").unwrap().str().unwrap().into_iter().flatten().collect();
    assert_eq!(ids, BAD);
    let reason = skipped.column("reason").unwrap().str().unwrap().get(0).unwrap().to_string();
    assert!(reason.contains("non-finite"), "{reason}");
    let df = lightcurve::io::read_table(&j.out).unwrap();
    let ids: Vec<_> = df.column("object_id").unwrap().str().unwrap().into_iter().flatten().collect();
    assert_eq!(ids, ["good1", "good2"]);

    // A later run without --skip-invalid on clean input removes the now stale list.
    let clean = write_csv(dir.path(), "clean.csv", &sample_set());
    let j2 = Job { input: clean, ..job(dir.path(), &ckpt, Path::new(""), "out.csv") };
    embedding::run(&j2, &dev, &mut |_, _| {}).unwrap();
    assert!(!list.exists());
}

#[test]
fn runs_are_deterministic_to_the_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (ckpt, _, dev) = checkpoint(dir.path());
    let input = write_csv(dir.path(), "curves.csv", &sample_set());
    let bytes = |out: &str| {
        let j = job(dir.path(), &ckpt, &input, out);
        embedding::run(&j, &dev, &mut |_, _| {}).unwrap();
        std::fs::read(&j.out).unwrap()
    };
    assert_eq!(bytes("a.parquet"), bytes("b.parquet"));
    assert_eq!(bytes("a.csv"), bytes("b.csv"));
}

#[test]
fn the_batch_size_does_not_change_the_embeddings() {
    let dir = tempfile::tempdir().unwrap();
    let (_, model, _) = checkpoint(dir.path());
    let set = sample_set();
    let with = |batch_size: usize| {
        let opts = EmbedOptions {
            pooling: Pooling::Skip,
            batch_size,
            ..Default::default()
        };
        let mut calls = Vec::new();
        let objects = embedding::embed_set(&model, &set, &opts, &mut |done, total| calls.push((done, total)))
            .unwrap()
            .objects;
        // Progress: from 0 to every object, never backwards.
        assert_eq!((calls[0], *calls.last().unwrap()), ((0, 3), (3, 3)), "{calls:?}");
        assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0), "{calls:?}");
        objects
    };
    let one = with(1);
    for b in [4, 256] {
        for (x, y) in with(b).iter().zip(&one) {
            assert_eq!((&x.object_id, x.n_windows), (&y.object_id, y.n_windows));
            assert_close(&x.values, &y.values, &format!("batch {b} {}", x.object_id));
        }
    }
}

#[test]
fn an_official_layout_folder_embeds_like_the_long_table() {
    let dir = tempfile::tempdir().unwrap();
    let (_, model, _) = checkpoint(dir.path());
    let set = sample_set();
    let folder = dir.path().join("official");
    lightcurve::write_official(&set, &folder, 2).unwrap();
    let csv = write_csv(dir.path(), "curves.csv", &set);
    let opts = EmbedOptions::default();
    let from = |p: &Path| {
        let c = embedding::read_curves(p, &InputOptions::default()).unwrap();
        embedding::embed_set(&model, &c.set, &opts, &mut |_, _| {}).unwrap()
    };
    assert_eq!(from(&folder).objects, from(&csv).objects);
    let msg = embedding::read_curves(dir.path(), &InputOptions::default()).unwrap_err().to_string();
    assert!(msg.contains("without metadata.parquet"), "{msg}");
}

#[test]
fn column_names_and_band_are_chosen_and_several_bands_refused() {
    let dir = tempfile::tempdir().unwrap();
    let two_bands =
        LightCurveSet::from_curves(vec![curve("a", "R", 20, 0), curve("a", "B", 20, 1), curve("b", "R", 20, 2)]).unwrap();
    let path = write_csv(dir.path(), "bands.csv", &two_bands);
    let err = embedding::read_curves(&path, &InputOptions::default()).unwrap_err();
    assert!(matches!(err, EmbedError::SeveralBands { .. }), "{err}");
    assert!(err.to_string().contains("bands.csv") && err.to_string().contains("(B, R)"), "{err}");
    let r = InputOptions {
        band: Some("R".into()),
        ..Default::default()
    };
    let c = embedding::read_curves(&path, &r).unwrap();
    assert_eq!(c.set.curves().map(|c| c.object_id).collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(c.report.rows_other_band, 20);

    // Other column names, no band column.
    let text = std::fs::read_to_string(write_csv(dir.path(), "plain.csv", &sample_set())).unwrap();
    let mut lines = text.lines();
    lines.next();
    let renamed: String = std::iter::once("id,filter,mjd,magnitude,sigma".to_string())
        .chain(lines.map(str::to_string))
        .map(|l| l.split(',').enumerate().filter(|(k, _)| *k != 1).map(|(_, v)| v).collect::<Vec<_>>().join(",") + "\n")
        .collect();
    let other = dir.path().join("other.csv");
    std::fs::write(&other, renamed).unwrap();
    let mapped = InputOptions {
        columns: lightcurve::ColumnMapping {
            object_id: "id".into(),
            band: None,
            time: "mjd".into(),
            mag: "magnitude".into(),
            mag_err: "sigma".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    let c = embedding::read_curves(&other, &mapped).unwrap();
    assert_eq!(c.set.len(), 3);
    assert_eq!(c.set.curve(0).mag, sample_set().curve(0).mag);
    let msg = embedding::read_curves(&other, &InputOptions::default()).unwrap_err().to_string();
    assert!(msg.contains("other.csv") && msg.contains("`object_id`"), "{msg}");
}

#[test]
fn a_missing_or_broken_checkpoint_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let dev = astromer::default_device(0);
    let missing = dir.path().join("nope");
    let msg = embedding::load_checkpoint(&missing, &dev).unwrap_err().to_string();
    assert!(msg.contains("nope") && msg.contains("is not a folder"), "{msg}");
    let (ckpt, _, _) = checkpoint(dir.path());
    std::fs::remove_file(ckpt.join("model.safetensors")).unwrap();
    let msg = embedding::load_checkpoint(&ckpt, &dev).unwrap_err().to_string();
    assert!(msg.contains("ckpt") && msg.contains("has no model.safetensors"), "{msg}");
    std::fs::write(ckpt.join("model.safetensors"), b"not a tensor file").unwrap();
    let msg = embedding::load_checkpoint(&ckpt, &dev).unwrap_err().to_string();
    assert!(msg.contains("ckpt") && msg.contains("safetensors"), "{msg}");
}

#[test]
fn pooling_names_and_column_names() {
    assert_eq!("skip".parse::<Pooling>().unwrap(), Pooling::Skip);
    assert!("avg".parse::<Pooling>().unwrap_err().contains("mean, max or skip"));
    assert_eq!(embedding::embedding_column_names(2), ["emb_000", "emb_001"]);
    assert_eq!(embedding::embedding_column_names(1792).last().unwrap(), "emb_1791");
    assert_eq!(embedding::embedding_column_names(1000).last().unwrap(), "emb_999");
}
