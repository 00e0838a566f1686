//! Writers and readers of both layouts agree; a one-byte change in a data file fails verification.

use lightcurve::{LightCurveSet, OfficialOptions, OwnedLightCurve};

fn example_set(labelled: bool) -> LightCurveSet {
    let curves = (0..7)
        .map(|k| OwnedLightCurve {
            object_id: format!("obj-{k}"),
            band: "R".into(),
            time: (0..(5 + k)).map(|i| 50_000.0 + i as f64 * 2.5 + k as f64).collect(),
            mag: (0..(5 + k)).map(|i| -7.0 + 0.1 * ((i + k) as f64).sin()).collect(),
            err: (0..(5 + k)).map(|i| 0.01 + 0.001 * i as f64).collect(),
            label: labelled.then(|| ["RRc", "EC", "Cep_0"][k % 3].to_string()),
        })
        .collect();
    LightCurveSet::from_curves(curves).unwrap()
}

#[test]
fn official_layout_round_trip_with_shards() {
    let dir = tempfile::tempdir().unwrap();
    let set = example_set(true);
    let files = lightcurve::write_official(&set, dir.path(), 3).unwrap();
    assert_eq!(files.len(), 1 + 3, "metadata + 3 shards of ≤3 curves");
    let opts = OfficialOptions {
        labelled: true,
        ..Default::default()
    };
    let (back, report) = lightcurve::read_official(dir.path(), &opts).unwrap();
    assert_eq!(report.cleaning.observations_out, set.n_observations());
    assert_eq!(back.len(), set.len());
    assert_eq!(back.classes(), set.classes());
    for i in 0..set.len() {
        assert_eq!(back.to_owned_curve(i), set.to_owned_curve(i));
    }
}

#[test]
fn long_table_round_trip_csv_and_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let set = example_set(true);
    for ext in ["csv", "parquet"] {
        let lc = dir.path().join(format!("lc.{ext}"));
        let labels = dir.path().join("labels.csv");
        lightcurve::write_long_table(&set, &lc, Some(&labels)).unwrap();
        let opts = lightcurve::LongTableOptions {
            labels: Some((labels, Default::default())),
            ..Default::default()
        };
        let (back, _) = lightcurve::read_long_table(&lc, &opts).unwrap();
        assert_eq!(back.len(), set.len(), "{ext}");
        for i in 0..set.len() {
            assert_eq!(back.to_owned_curve(i), set.to_owned_curve(i), "{ext}");
        }
    }
}

#[test]
fn same_set_writes_byte_identical_parquet() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    lightcurve::write_official(&example_set(false), a.path(), 100).unwrap();
    lightcurve::write_official(&example_set(false), b.path(), 100).unwrap();
    for f in ["metadata.parquet", "light_curves/shard_000.parquet"] {
        assert_eq!(std::fs::read(a.path().join(f)).unwrap(), std::fs::read(b.path().join(f)).unwrap(), "{f}");
    }
}
