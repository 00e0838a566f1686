//! The bad-input corpus (tests/corpus/README.md): every broken file gives a clear error or a
//! counted drop, never a panic.

use std::path::{Path, PathBuf};

use lightcurve::{read_long_table, LabelMapping, LongTableOptions, Validation};

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(name)
}

fn read(name: &str, strict: bool) -> lightcurve::Result<(lightcurve::LightCurveSet, lightcurve::ReadReport)> {
    let mut opts = LongTableOptions::default();
    if strict {
        opts.cleaning.validation = Validation::Strict;
    }
    read_long_table(&corpus(name), &opts)
}

fn strict_error(name: &str) -> String {
    read(name, true).expect_err("strict read must refuse the file").to_string()
}

#[test]
fn nan_and_inf_are_dropped_and_counted_or_refused() {
    for (file, obj) in [("nan_mag.csv", "bad"), ("inf_mag.csv", "infobj")] {
        let (set, report) = read(file, false).unwrap();
        assert_eq!(report.cleaning.dropped_nonfinite, 1, "{file}");
        let i = set.curves().position(|c| c.object_id == obj).expect("object kept with its 5 good points");
        assert_eq!(set.curve(i).len(), 5);
        let msg = strict_error(file);
        assert!(msg.contains(file) && msg.contains(obj) && msg.contains("non-finite"), "{msg}");
    }
}

#[test]
fn lowercase_nan_and_spelled_infinities_are_non_finite_values() {
    // polars reads this `mag` column as text (it does not parse `nan`); the reader parses each
    // value itself, so the file is read and the values are non-finite, not a type error.
    let (set, report) = read("nan_lowercase_mag.csv", false).unwrap();
    assert_eq!(report.cleaning.dropped_nonfinite, 3);
    for (obj, n) in [("ok1", 6), ("lower", 5), ("spelled", 5)] {
        let i = set.curves().position(|c| c.object_id == obj).expect(obj);
        assert_eq!(set.curve(i).len(), n, "{obj}");
    }
    let spelled = set.curves().find(|c| c.object_id == "spelled").unwrap();
    assert_eq!(spelled.mag, &[15.0, 15.1, 15.2, 15.3, 15.3]);
    let msg = strict_error("nan_lowercase_mag.csv");
    assert!(msg.contains("nan_lowercase_mag.csv") && msg.contains("lower") && msg.contains("non-finite"), "{msg}");
}

/// A CSV of one 10,050-point curve whose `mag` holds `bad` at data row 10,020, past the 10,000
/// rows polars infers column types from: the column is inferred as a number, and polars' own float
/// parser then meets `bad` (it accepts `nan`; a word makes the reader fall back to text columns, so
/// the error can name the row).
fn late_value_csv(dir: &Path, bad: &str) -> PathBuf {
    let mut text = String::from("object_id,band,time,mag,mag_err\n");
    for k in 0..10_050 {
        let mag = if k == 10_020 { bad.to_string() } else { format!("{:.3}", 15.0 + (k % 7) as f64 * 0.01) };
        text.push_str(&format!("late,R,{k}.5,{mag},0.05\n"));
    }
    let path = dir.join(format!("late_{bad}.csv"));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_nan_or_a_word_past_type_inference_is_read_or_named() {
    let dir = tempfile::tempdir().unwrap();
    let (set, report) = read_long_table(&late_value_csv(dir.path(), "nan"), &LongTableOptions::default()).unwrap();
    assert_eq!(report.cleaning.dropped_nonfinite, 1);
    assert_eq!(set.curve(0).len(), 10_049);
    let msg = read_long_table(&late_value_csv(dir.path(), "oops"), &LongTableOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("late_oops.csv") && msg.contains("`mag`") && msg.contains("row 10020 (line 10022)") && msg.contains("`oops`"),
        "{msg}"
    );
}

#[test]
fn official_shards_with_text_magnitudes_are_parsed() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let (set, _) = read("two_objects.csv", false).unwrap();
    lightcurve::write_official(&set, dir.path(), 10).unwrap();
    // Rewrite the shard with `mag` as text (as a pandas object column would be), one value `nan`.
    let shard = lightcurve::io::official::shard_path(dir.path(), 0);
    let df = lightcurve::io::read_table(&shard).unwrap();
    let mag: Vec<String> = df
        .column("mag")
        .unwrap()
        .f64()
        .unwrap()
        .into_iter()
        .enumerate()
        .map(|(k, v)| if k == 2 { "nan".to_string() } else { v.unwrap().to_string() })
        .collect();
    let mut df = df.clone();
    df.with_column(Column::new("mag".into(), mag)).unwrap();
    lightcurve::io::write_table(&shard, &mut df).unwrap();
    let (back, report) = lightcurve::read_official(dir.path(), &Default::default()).unwrap();
    assert_eq!(report.cleaning.dropped_nonfinite, 1);
    assert_eq!(back.curve(0).len(), set.curve(0).len() - 1);
    assert_eq!(back.curve(1).mag, set.curve(1).mag);
}

#[test]
fn empty_and_header_only_files_are_errors_naming_the_file() {
    let msg = read("empty.csv", false).unwrap_err().to_string();
    assert!(msg.contains("empty.csv"), "{msg}");
    let msg = read("header_only.csv", false).unwrap_err().to_string();
    assert!(msg.contains("header_only.csv") && msg.contains("no light curve left"), "{msg}");
}

#[test]
fn missing_column_is_named() {
    let msg = read("missing_column.csv", false).unwrap_err().to_string();
    assert!(msg.contains("missing_column.csv") && msg.contains("`mag_err`"), "{msg}");
}

#[test]
fn text_in_a_numeric_column_is_named() {
    let msg = read("text_in_time.csv", false).unwrap_err().to_string();
    assert!(msg.contains("text_in_time.csv") && msg.contains("`time`"), "{msg}");
    assert!(msg.contains("row 0 (line 2)") && msg.contains("`abc` is not a number"), "{msg}");
}

#[test]
fn unsorted_times_are_sorted_or_refused() {
    let (set, report) = read("unsorted.csv", false).unwrap();
    assert_eq!(report.cleaning.curves_resorted, 1);
    assert_eq!(set.curve(0).time, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(set.curve(0).mag[0], 15.1, "magnitudes move with their times");
    let msg = strict_error("unsorted.csv");
    assert!(msg.contains("unsorted7") && msg.contains("not sorted"), "{msg}");
}

#[test]
fn duplicate_times_keep_the_first_or_are_refused() {
    let (set, report) = read("duplicate_times.csv", false).unwrap();
    assert_eq!(report.cleaning.dropped_duplicate_time, 1);
    assert_eq!(set.curve(0).len(), 5);
    let msg = strict_error("duplicate_times.csv");
    assert!(msg.contains("dup3") && msg.contains("duplicate"), "{msg}");
}

#[test]
fn non_positive_errors_are_dropped_or_refused() {
    let (set, report) = read("negative_errors.csv", false).unwrap();
    assert_eq!(report.cleaning.dropped_error_bounds, 2);
    // negerr keeps 4 points < 5: dropped as too short; ok1 survives.
    assert_eq!(report.cleaning.curves_too_short, 1);
    assert_eq!(set.len(), 1);
    let msg = strict_error("negative_errors.csv");
    assert!(msg.contains("negerr") && msg.contains("outside (0, 1)"), "{msg}");
}

#[test]
fn one_point_curves_are_dropped() {
    let msg = read("one_point.csv", false).unwrap_err().to_string();
    assert!(msg.contains("one_point.csv") && msg.contains("1 too short"), "{msg}");
}

#[test]
fn labels_missing_or_conflicting() {
    let with_labels = |labels: &str, strict: bool| {
        let mut opts = LongTableOptions {
            labels: Some((corpus(labels), LabelMapping::default())),
            ..Default::default()
        };
        if strict {
            opts.cleaning.validation = Validation::Strict;
        }
        read_long_table(&corpus("two_objects.csv"), &opts)
    };
    let (set, report) = with_labels("labels_missing_ok2.csv", false).unwrap();
    assert_eq!(report.objects_without_label, 1);
    assert_eq!(set.len(), 1);
    assert_eq!(set.class_name(0), Some("RRab"));
    let msg = with_labels("labels_missing_ok2.csv", true).unwrap_err().to_string();
    assert!(msg.contains("ok2") && msg.contains("no label"), "{msg}");
    let msg = with_labels("labels_conflict.csv", false).unwrap_err().to_string();
    assert!(msg.contains("ok1") && msg.contains("two labels"), "{msg}");
}

#[test]
fn truncated_parquet_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (set, _) = read("two_objects.csv", false).unwrap();
    let good = dir.path().join("good.parquet");
    lightcurve::write_long_table(&set, &good, None).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let bad = dir.path().join("truncated.parquet");
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    let msg = read_long_table(&bad, &LongTableOptions::default()).unwrap_err().to_string();
    assert!(msg.contains("truncated.parquet") && msg.contains("truncated"), "{msg}");
    // The intact file reads back to the same curves.
    let (back, _) = read_long_table(&good, &LongTableOptions::default()).unwrap();
    assert_eq!(back.len(), set.len());
    assert_eq!(back.curve(1).mag, set.curve(1).mag);
}
