//! Star × instrument data sets (`survey_sim::causal`, issue 16) on disk: layout "causal-table",
//! three parquet tables in wide form, so that a curve is one row and nothing needs reshaping:
//!
//! - `curves.parquet`: `object_id`, `star`, `instrument`, `f000` … `f{T−1}` (the flux samples on
//!   the grid t = 0 … T − 1);
//! - `stars.parquet`: `star`, `theta_00` … `theta_{K−1}`;
//! - `instruments.parquet`: `instrument`, `beta_0` … `beta_{M−1}`, `gamma_0` … `gamma_{M−1}`.
//!
//! Reading checks every value (finite, ids in range, rows in order) and names the file, the
//! column and the object of the first problem.

use std::path::Path;

use lightcurve::io::{f64_values, require_column, write_table};
use lightcurve::DataError;
use polars::prelude::*;
use survey_sim::causal::{CausalInstrument, CausalObservation, CausalSet, CausalSpec, CausalStar};

use crate::error::{DatasetError, Result};

pub const CURVES_FILE: &str = "curves.parquet";
pub const STARS_FILE: &str = "stars.parquet";
pub const INSTRUMENTS_FILE: &str = "instruments.parquet";

fn flux_column(t: usize) -> String {
    format!("f{t:03}")
}

fn theta_column(k: usize) -> String {
    format!("theta_{k:02}")
}

pub(crate) fn object_id(n: usize) -> String {
    format!("obs-{n:06}")
}

fn table_error(path: &Path, source: PolarsError) -> DatasetError {
    DatasetError::Data(DataError::Table { path: path.to_path_buf(), source })
}

/// Writes the three tables of `set` into `dir` (each atomically).
pub fn write_causal(set: &CausalSet, dir: &Path) -> Result<()> {
    let spec = &set.spec;
    let obs = &set.observations;
    let curves_path = dir.join(CURVES_FILE);
    let mut columns = vec![
        Column::new("object_id".into(), (0..obs.len()).map(object_id).collect::<Vec<_>>()),
        Column::new("star".into(), obs.iter().map(|o| o.star as u32).collect::<Vec<_>>()),
        Column::new("instrument".into(), obs.iter().map(|o| o.instrument as u32).collect::<Vec<_>>()),
    ];
    columns.extend((0..spec.n_steps).map(|t| Column::new(flux_column(t).into(), obs.iter().map(|o| o.flux[t]).collect::<Vec<_>>())));
    let mut curves = DataFrame::new(columns).map_err(|e| table_error(&curves_path, e))?;
    write_table(&curves_path, &mut curves)?;

    let stars_path = dir.join(STARS_FILE);
    let mut columns = vec![Column::new("star".into(), (0..set.stars.len() as u32).collect::<Vec<_>>())];
    columns.extend(
        (0..spec.n_star_params).map(|k| Column::new(theta_column(k).into(), set.stars.iter().map(|s| s.theta[k]).collect::<Vec<_>>())),
    );
    let mut stars = DataFrame::new(columns).map_err(|e| table_error(&stars_path, e))?;
    write_table(&stars_path, &mut stars)?;

    let instruments_path = dir.join(INSTRUMENTS_FILE);
    let mut columns = vec![Column::new("instrument".into(), (0..set.instruments.len() as u32).collect::<Vec<_>>())];
    for (name, pick) in [("beta", 0), ("gamma", 1)] {
        columns.extend((0..spec.instrument_terms).map(|j| {
            let values: Vec<f64> = set.instruments.iter().map(|i| if pick == 0 { i.beta[j] } else { i.gamma[j] }).collect();
            Column::new(format!("{name}_{j}").into(), values)
        }));
    }
    let mut instruments = DataFrame::new(columns).map_err(|e| table_error(&instruments_path, e))?;
    write_table(&instruments_path, &mut instruments)?;
    Ok(())
}

/// One numeric column, every value present and finite; `what(row)` names the object of a row.
fn finite_column(path: &Path, df: &DataFrame, name: &str, what: &dyn Fn(usize) -> String) -> Result<Vec<f64>> {
    f64_values(path, df, name)?
        .into_iter()
        .enumerate()
        .map(|(row, v)| match v {
            Some(v) if v.is_finite() => Ok(v),
            other => Err(DatasetError::Data(DataError::BadObject {
                path: path.to_path_buf(),
                object_id: what(row),
                problem: format!("column `{name}` holds {}; every value must be a finite number (re-generate the set)", match other {
                    None => "no value".to_string(),
                    Some(v) => v.to_string(),
                }),
            })),
        })
        .collect()
}

/// An id column whose values must be whole numbers in `0..bound`.
fn id_column(path: &Path, df: &DataFrame, name: &str, bound: usize, what: &dyn Fn(usize) -> String) -> Result<Vec<usize>> {
    finite_column(path, df, name, what)?
        .into_iter()
        .enumerate()
        .map(|(row, v)| {
            if v >= 0.0 && v.fract() == 0.0 && (v as usize) < bound {
                Ok(v as usize)
            } else {
                Err(DatasetError::Data(DataError::BadObject {
                    path: path.to_path_buf(),
                    object_id: what(row),
                    problem: format!("`{name}` = {v} is not an id in 0..{bound} (the manifest's source says {bound})"),
                }))
            }
        })
        .collect()
}

fn read(path: &Path) -> Result<DataFrame> {
    if !path.exists() {
        return Err(DatasetError::Data(DataError::BadTable {
            path: path.to_path_buf(),
            problem: "missing: a causal-table data set holds curves.parquet, stars.parquet and instruments.parquet (re-generate it)".into(),
        }));
    }
    Ok(lightcurve::io::read_table(path)?)
}

fn expect_rows(path: &Path, df: &DataFrame, rows: usize, what: &str) -> Result<()> {
    if df.height() != rows {
        return Err(DatasetError::Data(DataError::BadTable {
            path: path.to_path_buf(),
            problem: format!("{} rows, the manifest's source says {rows} {what} (truncated or from another source: re-generate it)", df.height()),
        }));
    }
    Ok(())
}

/// Reads the set written by [`write_causal`] for `spec` (whose sizes the manifest's source gives).
pub fn read_causal(dir: &Path, spec: &CausalSpec) -> Result<CausalSet> {
    let stars_path = dir.join(STARS_FILE);
    let df = read(&stars_path)?;
    expect_rows(&stars_path, &df, spec.n_stars, "stars")?;
    let star_name = |row: usize| format!("star {row}");
    let ids = id_column(&stars_path, &df, "star", spec.n_stars, &star_name)?;
    check_in_order(&stars_path, &ids, &star_name)?;
    let thetas = (0..spec.n_star_params)
        .map(|k| finite_column(&stars_path, &df, &theta_column(k), &star_name))
        .collect::<Result<Vec<_>>>()?;
    let stars = (0..spec.n_stars).map(|s| CausalStar { theta: thetas.iter().map(|c| c[s]).collect() }).collect();

    let instruments_path = dir.join(INSTRUMENTS_FILE);
    let df = read(&instruments_path)?;
    expect_rows(&instruments_path, &df, spec.n_instruments, "instruments")?;
    let instrument_name = |row: usize| format!("instrument {row}");
    let ids = id_column(&instruments_path, &df, "instrument", spec.n_instruments, &instrument_name)?;
    check_in_order(&instruments_path, &ids, &instrument_name)?;
    let terms = |name: &str| {
        (0..spec.instrument_terms)
            .map(|j| finite_column(&instruments_path, &df, &format!("{name}_{j}"), &instrument_name))
            .collect::<Result<Vec<_>>>()
    };
    let (beta, gamma) = (terms("beta")?, terms("gamma")?);
    let instruments = (0..spec.n_instruments)
        .map(|m| CausalInstrument { beta: beta.iter().map(|c| c[m]).collect(), gamma: gamma.iter().map(|c| c[m]).collect() })
        .collect();

    let curves_path = dir.join(CURVES_FILE);
    let df = read(&curves_path)?;
    expect_rows(&curves_path, &df, spec.n_observations, "observations")?;
    let ids: Vec<Option<String>> = require_column(&curves_path, &df, "object_id")?
        .cast(&DataType::String)
        .map_err(|e| table_error(&curves_path, e))?
        .str()
        .map_err(|e| table_error(&curves_path, e))?
        .into_iter()
        .map(|s| s.map(str::to_string))
        .collect();
    for (n, id) in ids.iter().enumerate() {
        if id.as_deref() != Some(object_id(n).as_str()) {
            return Err(DatasetError::Data(DataError::BadObject {
                path: curves_path.clone(),
                object_id: id.clone().unwrap_or_else(|| "(none)".into()),
                problem: format!("row {n} should be `{}`: rows out of order or missing (re-generate the set)", object_id(n)),
            }));
        }
    }
    let curve_name = |row: usize| object_id(row);
    let star = id_column(&curves_path, &df, "star", spec.n_stars, &curve_name)?;
    let instrument = id_column(&curves_path, &df, "instrument", spec.n_instruments, &curve_name)?;
    let flux = (0..spec.n_steps)
        .map(|t| finite_column(&curves_path, &df, &flux_column(t), &curve_name))
        .collect::<Result<Vec<_>>>()?;
    let observations = (0..spec.n_observations)
        .map(|n| CausalObservation { star: star[n], instrument: instrument[n], flux: flux.iter().map(|c| c[n]).collect() })
        .collect();
    CausalSet::from_parts(spec.clone(), stars, instruments, observations).map_err(|e| {
        DatasetError::Data(DataError::BadTable { path: dir.to_path_buf(), problem: e.to_string() })
    })
}

fn check_in_order(path: &Path, ids: &[usize], what: &dyn Fn(usize) -> String) -> Result<()> {
    match ids.iter().enumerate().find(|(row, &id)| *row != id) {
        None => Ok(()),
        Some((row, &id)) => Err(DatasetError::Data(DataError::BadObject {
            path: path.to_path_buf(),
            object_id: what(row),
            problem: format!("row {row} holds id {id}: rows must be in id order (re-generate the set)"),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use survey_sim::causal::simulate;

    #[test]
    fn a_written_set_reads_back_identical() {
        let spec = CausalSpec { n_steps: 12, ..CausalSpec::sized(2, 5, 3, 15) };
        let set = simulate(&spec).unwrap();
        let dir = tempfile::tempdir().unwrap();
        write_causal(&set, dir.path()).unwrap();
        assert_eq!(read_causal(dir.path(), &spec).unwrap(), set);
    }

    #[test]
    fn bad_files_are_refused_naming_file_and_object() {
        let spec = CausalSpec { n_steps: 8, ..CausalSpec::sized(2, 4, 2, 8) };
        let set = simulate(&spec).unwrap();
        let dir = tempfile::tempdir().unwrap();
        write_causal(&set, dir.path()).unwrap();
        // Sizes other than the manifest's.
        let other = CausalSpec { n_observations: 9, ..spec.clone() };
        let err = read_causal(dir.path(), &other).unwrap_err().to_string();
        assert!(err.contains("curves.parquet") && err.contains("8 rows"), "{err}");
        // A NaN flux sample names the curve.
        let path = dir.path().join(CURVES_FILE);
        let mut df = lightcurve::io::read_table(&path).unwrap();
        let mut f = df.column("f003").unwrap().f64().unwrap().to_vec();
        f[5] = Some(f64::NAN);
        df.replace("f003", Series::new("f003".into(), f)).unwrap();
        write_table(&path, &mut df).unwrap();
        let err = read_causal(dir.path(), &spec).unwrap_err().to_string();
        assert!(err.contains("obs-000005") && err.contains("f003") && err.contains("NaN"), "{err}");
        // A missing table.
        std::fs::remove_file(dir.path().join(STARS_FILE)).unwrap();
        let err = read_causal(dir.path(), &spec).unwrap_err().to_string();
        assert!(err.contains("stars.parquet") && err.contains("missing"), "{err}");
    }
}
