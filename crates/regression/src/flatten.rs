//! Results table → `metric id → value`.
//!
//! Ids must stay the same when a run is repeated, so array elements are named by what they *are*
//! (their identity fields: `summary[dataset=alcock,encoder=A2,head=skip,spc=4]`) rather than by
//! their position, which changes whenever a grid gains or loses a point.

use std::collections::{BTreeMap, HashMap};

use toml::{Table, Value};

/// Fields that name an array-of-tables element, in the order they appear in its id. Only string
/// and integer-valued fields count: a float is a measurement, never a name.
pub const IDENTITY_FIELDS: [&str; 17] = [
    "dataset",
    "encoder",
    "head",
    "model",
    "spc",
    "fold",
    "reduction",
    "representation",
    "class",
    "object_id",
    "epoch",
    // e09-causal rows: which representation, probed with how many training curves, which repeat.
    "input",
    "space",
    "train_size",
    "run",
    // `compare/<variant>.toml` rows: which experiment's which metric.
    "experiment",
    "metric",
];

/// Top-level tables that describe the run rather than measure it: the config is fingerprinted by
/// the harness already, and provenance hashes change with every code edit.
pub const SKIPPED_TABLES: [&str; 2] = ["config", "provenance"];

/// Longer numeric arrays are per-point dumps (curves, histograms), not metrics one would set a
/// tolerance on; they would flood the table.
pub const MAX_NUMERIC_ARRAY_LEN: usize = 16;

/// Every numeric leaf of a results table, keyed by its metric id. Strings, booleans, dates, arrays
/// of arrays (confusion matrices), numeric arrays longer than [`MAX_NUMERIC_ARRAY_LEN`] and the
/// [`SKIPPED_TABLES`] are left out. Integers become `f64`.
pub fn flatten(table: &Table) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (key, value) in table {
        if SKIPPED_TABLES.contains(&key.as_str()) {
            continue;
        }
        walk(key, value, &mut out);
    }
    out
}

fn walk(id: &str, value: &Value, out: &mut BTreeMap<String, f64>) {
    match value {
        Value::Integer(i) => insert(out, id.to_string(), *i as f64),
        Value::Float(f) => insert(out, id.to_string(), *f),
        Value::Table(t) => walk_table(id, t, &[], out),
        Value::Array(items) => walk_array(id, items, out),
        // Names, notes, flags and dates are not metrics.
        Value::String(_) | Value::Boolean(_) | Value::Datetime(_) => {}
    }
}

fn walk_table(prefix: &str, table: &Table, skip: &[&str], out: &mut BTreeMap<String, f64>) {
    for (key, value) in table {
        if skip.contains(&key.as_str()) {
            continue;
        }
        walk(&format!("{prefix}.{key}"), value, out);
    }
}

fn walk_array(id: &str, items: &[Value], out: &mut BTreeMap<String, f64>) {
    if items.is_empty() {
        return;
    }
    if items.iter().all(Value::is_table) {
        walk_array_of_tables(id, items, out);
    } else if items.iter().all(|v| v.is_integer() || v.is_float()) {
        if items.len() > MAX_NUMERIC_ARRAY_LEN {
            return;
        }
        for (i, v) in items.iter().enumerate() {
            walk(&format!("{id}[{i}]"), v, out);
        }
    }
    // Arrays of arrays (confusion matrices), of strings, or mixed: not scalar metrics.
}

fn walk_array_of_tables(id: &str, items: &[Value], out: &mut BTreeMap<String, f64>) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (position, item) in items.iter().enumerate() {
        let table = item.as_table().expect("checked by the caller");
        let (label, used) = identity(table);
        // No identity fields at all: the position is the only name there is.
        let base = match label {
            Some(label) => format!("{id}[{label}]"),
            None => format!("{id}[{position}]"),
        };
        let count = seen.entry(base.clone()).or_insert(0);
        *count += 1;
        let element = if *count == 1 {
            base
        } else {
            // Two elements with one identity: keep both, in file order, and say so, because a
            // comparison across runs is only as stable as the file order then.
            let suffixed = format!("{base}#{count}");
            log::warn!("{base} occurs more than once in the results; naming occurrence {count} {suffixed}");
            suffixed
        };
        walk_table(&element, table, &used, out);
    }
}

/// `k=v,k=v` from the identity fields present, and which fields were used (they are names, so
/// they are not reported as metrics).
fn identity(table: &Table) -> (Option<String>, Vec<&'static str>) {
    let mut parts = Vec::new();
    let mut used = Vec::new();
    for field in IDENTITY_FIELDS {
        let text = match table.get(field) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Integer(i)) => i.to_string(),
            Some(Value::Float(f)) if f.fract() == 0.0 && f.is_finite() => format!("{}", *f as i64),
            _ => continue,
        };
        parts.push(format!("{field}={text}"));
        used.push(field);
    }
    let label = (!parts.is_empty()).then(|| parts.join(","));
    (label, used)
}

fn insert(out: &mut BTreeMap<String, f64>, id: String, value: f64) {
    // A plain key can collide only with a suffixed array element of the same text; the first
    // writer wins and the clash is logged rather than silently overwritten.
    if out.contains_key(&id) {
        log::warn!("metric id {id} occurs twice; keeping the first value");
        return;
    }
    out.insert(id, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> BTreeMap<String, f64> {
        flatten(&text.parse::<Table>().unwrap())
    }

    #[test]
    fn nested_tables_join_with_dots_and_skip_config_provenance_and_strings() {
        let m = parse(
            r#"
            note = "text"
            flag = true
            [config]
            lr = 0.1
            [provenance]
            code_hash = "abc"
            [models.A2]
            test_rmse = 0.22
            epochs = 4
            "#,
        );
        let ids: Vec<_> = m.keys().cloned().collect();
        assert_eq!(ids, ["models.A2.epochs", "models.A2.test_rmse"]);
        assert_eq!(m["models.A2.epochs"], 4.0);
    }

    #[test]
    fn array_elements_are_named_by_identity_fields_in_fixed_order() {
        let m = parse(
            r#"
            [[summary]]
            spc = 4
            head = "skip"
            encoder = "A2"
            dataset = "alcock"
            folds = 2
            [summary.f1_per_window]
            mean = 0.5
            [[models.A1.history]]
            epoch = 3
            val_rmse = 0.13
            "#,
        );
        assert_eq!(m["summary[dataset=alcock,encoder=A2,head=skip,spc=4].f1_per_window.mean"], 0.5);
        // `folds` is not an identity field, so it is a metric; `spc` is a name, so it is not.
        assert_eq!(m["summary[dataset=alcock,encoder=A2,head=skip,spc=4].folds"], 2.0);
        assert!(!m.contains_key("summary[dataset=alcock,encoder=A2,head=skip,spc=4].spc"));
        assert_eq!(m["models.A1.history[epoch=3].val_rmse"], 0.13);
    }

    #[test]
    fn short_numeric_arrays_are_indexed_long_ones_and_matrices_skipped() {
        let long: Vec<String> = (0..17).map(|i| i.to_string()).collect();
        let m = parse(&format!(
            "gamma = [0.25, 0.75]\nlong = [{}]\nconfusion = [[1, 2], [3, 4]]\nnames = [\"a\", \"b\"]\n",
            long.join(",")
        ));
        let ids: Vec<_> = m.keys().cloned().collect();
        assert_eq!(ids, ["gamma[0]", "gamma[1]"]);
    }

    #[test]
    fn elements_without_identity_use_position_and_duplicates_get_suffixes() {
        let m = parse(
            r#"
            [[rows]]
            x = 1.0
            [[rows]]
            x = 2.0
            [[runs]]
            fold = 0
            f1 = 0.1
            [[runs]]
            fold = 0
            f1 = 0.2
            [[runs]]
            fold = 0
            f1 = 0.3
            "#,
        );
        assert_eq!(m["rows[0].x"], 1.0);
        assert_eq!(m["rows[1].x"], 2.0);
        assert_eq!(m["runs[fold=0].f1"], 0.1);
        assert_eq!(m["runs[fold=0]#2.f1"], 0.2);
        assert_eq!(m["runs[fold=0]#3.f1"], 0.3);
    }

    #[test]
    fn float_identity_fields_count_only_when_integer_valued() {
        let m = parse("[[s]]\nrepresentation = 2.0\nclass = 1.5\nv = 1\n");
        assert_eq!(m["s[representation=2].v"], 1.0);
        assert_eq!(m["s[representation=2].class"], 1.5);
    }
}
