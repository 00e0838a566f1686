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
