//! Deep merge of an overlay into a config value, strict about keys and types.
//!
//! Rules (docs/variants.md):
//! - a table merges into a table key by key, recursively;
//! - a scalar or an array replaces the base value; its type must be the base's (an integer may
//!   replace a float and becomes a float; array elements are checked against the base's first);
//! - a key `array[field=value]` selects the elements of the base array `array` (tables) whose
//!   `field` equals `value` (compared as text; quotes around `value` are optional) and merges the
//!   overlay table into each of them; selecting nothing is an error;
//! - a table applied to an array of tables merges into every element;
//! - a key absent from the base is an error (it catches typos), as is any type change.

use toml::{Table, Value};

/// Why an overlay cannot be applied. `path` is the dotted key path inside the experiment's config.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OverlayError {
    #[error("key `{path}` does not exist in the base config (keys there: {available})")]
    UnknownKey { path: String, available: String },
    #[error("`{path}` is {base} in the base config but the overlay gives {overlay}")]
    TypeMismatch { path: String, base: &'static str, overlay: &'static str },
    #[error("`{path}`: `{selector}` selects no element (values of `{field}` there: {available})")]
    NoMatch { path: String, selector: String, field: String, available: String },
    #[error("`{path}`: malformed selector `{key}`; write `array[field=value]`, e.g. `models[name=A2]`")]
    BadSelector { path: String, key: String },
    #[error("`{path}`: a selector takes a table of changes, not {got}")]
    SelectorNeedsTable { path: String, got: &'static str },
    #[error("`{path}` is an empty array: a table overlay there would change nothing")]
    EmptyArray { path: String },
}

/// Merges `overlay` into `base` in place under the rules above.
pub fn merge(base: &mut Value, overlay: &Value) -> Result<(), OverlayError> {
    merge_at(base, overlay, "")
}

/// Leaf-level differences between two config values: `(path, before, after)` as TOML text.
/// Keys present on one side only are reported with `—` on the other.
pub fn diff(before: &Value, after: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    diff_at(before, after, "", &mut out);
    out
}

fn diff_at(a: &Value, b: &Value, path: &str, out: &mut Vec<(String, String, String)>) {
    match (a, b) {
        (Value::Table(ta), Value::Table(tb)) => {
            let keys: std::collections::BTreeSet<&String> = ta.keys().chain(tb.keys()).collect();
            for k in keys {
                let p = join(path, k);
                match (ta.get(k), tb.get(k)) {
                    (Some(x), Some(y)) => diff_at(x, y, &p, out),
                    (Some(x), None) => out.push((p, x.to_string(), "—".into())),
                    (None, Some(y)) => out.push((p, "—".into(), y.to_string())),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(xa), Value::Array(xb)) if xa.len() == xb.len() && xa.iter().chain(xb).all(Value::is_table) => {
            for (i, (x, y)) in xa.iter().zip(xb).enumerate() {
                let label = x.get("name").and_then(Value::as_str).map(|n| format!("[name={n}]")).unwrap_or(format!("[{i}]"));
                diff_at(x, y, &format!("{path}{label}"), out);
            }
        }
        _ if a != b => out.push((path.to_string(), a.to_string(), b.to_string())),
        _ => {}
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Article + type name, for messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a datetime",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

fn keys(t: &Table) -> String {
    if t.is_empty() {
        "none".into()
    } else {
        t.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
    }
}

/// `array[field=value]` → (array, field, value without quotes); `None` for a plain key.
fn parse_selector(key: &str, path: &str) -> Result<Option<(String, String, String)>, OverlayError> {
    if !key.contains('[') && !key.contains(']') {
        return Ok(None);
    }
    let bad = || OverlayError::BadSelector { path: path.to_string(), key: key.to_string() };
    let (array, rest) = key.split_once('[').ok_or_else(bad)?;
    let inner = rest.strip_suffix(']').ok_or_else(bad)?;
    let (field, value) = inner.split_once('=').ok_or_else(bad)?;
    let (array, field, value) = (array.trim(), field.trim(), value.trim());
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .unwrap_or(value);
    if array.is_empty() || field.is_empty() || [array, field, value].iter().any(|s| s.contains(['[', ']', '='])) {
        return Err(bad());
    }
    Ok(Some((array.to_string(), field.to_string(), value.to_string())))
}

/// A scalar as selector text (strings without quotes).
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Integer(_) | Value::Float(_) | Value::Boolean(_) | Value::Datetime(_) => Some(v.to_string()),
        _ => None,
    }
}

fn merge_at(base: &mut Value, overlay: &Value, path: &str) -> Result<(), OverlayError> {
    let Value::Table(changes) = overlay else {
        *base = coerce(base, overlay, path)?;
        return Ok(());
    };
    match base {
        Value::Table(table) => {
            for (key, change) in changes {
                match parse_selector(key, path)? {
                    None => {
                        let p = join(path, key);
                        let available = keys(table);
                        let target = table.get_mut(key).ok_or(OverlayError::UnknownKey { path: p.clone(), available })?;
                        merge_at(target, change, &p)?;
                    }
                    Some((array, field, want)) => {
                        let p = join(path, key);
                        let available = keys(table);
                        let target = table
                            .get_mut(&array)
                            .ok_or(OverlayError::UnknownKey { path: join(path, &array), available })?;
                        let Value::Array(items) = target else {
                            return Err(OverlayError::TypeMismatch {
                                path: join(path, &array),
                                base: kind(target),
                                overlay: "an array selector",
                            });
                        };
                        if !change.is_table() {
                            return Err(OverlayError::SelectorNeedsTable { path: p, got: kind(change) });
                        }
                        let mut matched = 0;
                        for item in items.iter_mut() {
                            let hit = item.as_table().and_then(|t| t.get(&field)).and_then(scalar_text).is_some_and(|v| v == want);
                            if hit {
                                matched += 1;
                                merge_at(item, change, &p)?;
                            }
                        }
                        if matched == 0 {
                            let values: Vec<String> = items
                                .iter()
                                .filter_map(|i| i.as_table().and_then(|t| t.get(&field)).and_then(scalar_text))
                                .collect();
                            return Err(OverlayError::NoMatch {
                                path: join(path, &array),
                                selector: key.clone(),
                                field,
                                available: if values.is_empty() { "none".into() } else { values.join(", ") },
                            });
                        }
                    }
                }
            }
            Ok(())
        }
        Value::Array(items) if items.iter().all(Value::is_table) => {
            if items.is_empty() {
                return Err(OverlayError::EmptyArray { path: path.to_string() });
            }
            for (i, item) in items.iter_mut().enumerate() {
                merge_at(item, overlay, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        other => Err(OverlayError::TypeMismatch { path: path.to_string(), base: kind(other), overlay: "a table" }),
    }
}

/// The overlay value, checked against the base's type (an integer for a float becomes a float).
fn coerce(base: &Value, new: &Value, path: &str) -> Result<Value, OverlayError> {
    match (base, new) {
        (Value::Float(_), Value::Integer(i)) => Ok(Value::Float(*i as f64)),
        (Value::Array(b), Value::Array(n)) => {
            let Some(first) = b.first() else { return Ok(new.clone()) };
            n.iter()
                .enumerate()
                .map(|(i, x)| coerce(first, x, &format!("{path}[{i}]")))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        _ if std::mem::discriminant(base) == std::mem::discriminant(new) => Ok(new.clone()),
        _ => Err(OverlayError::TypeMismatch { path: path.to_string(), base: kind(base), overlay: kind(new) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Value {
        Value::Table(text.parse::<Table>().unwrap())
    }

    /// The shape of e02-pretrain's config.
    fn e02() -> Value {
        v(r#"
            test_batch_size = 64
            [training]
            batch_size = 32
            weighted_loss = true
            window_refresh = "every-epoch"
            [training.mask]
            probed = 0.5
            same = 0.2
            random = 0.2
            [[models]]
            name = "A1"
            [models.encoder]
            ffn_width = 32
            pe_base = 10000.0
            mask_token = "absent"
            [[models]]
            name = "A2"
            [models.encoder]
            ffn_width = 128
            pe_base = 10000.0
            mask_token = "applied"
        "#)
    }

    fn enc(cfg: &Value, i: usize) -> &Value {
        &cfg["models"][i]["encoder"]
    }

    #[test]
    fn tables_merge_recursively_and_scalars_replace() {
        let mut cfg = e02();
        merge(&mut cfg, &v("[training.mask]\nrandom = 0.25\n[training]\nweighted_loss = false")).unwrap();
        assert_eq!(cfg["training"]["mask"]["random"].as_float(), Some(0.25));
        assert_eq!(cfg["training"]["mask"]["probed"].as_float(), Some(0.5), "untouched siblings stay");
        assert_eq!(cfg["training"]["weighted_loss"].as_bool(), Some(false));
        assert_eq!(cfg["training"]["batch_size"].as_integer(), Some(32));
    }

    #[test]
    fn selector_picks_matching_elements_only() {
        let mut cfg = e02();
        merge(&mut cfg, &v("[\"models[name=A2]\".encoder]\nmask_token = \"official-graph\"\nffn_width = 64")).unwrap();
        assert_eq!(enc(&cfg, 1)["mask_token"].as_str(), Some("official-graph"));
        assert_eq!(enc(&cfg, 1)["ffn_width"].as_integer(), Some(64));
        assert_eq!(enc(&cfg, 0)["mask_token"].as_str(), Some("absent"), "A1 untouched");
        assert_eq!(enc(&cfg, 0)["ffn_width"].as_integer(), Some(32));
        // Quoted selector values work too.
        let mut cfg = e02();
        merge(&mut cfg, &v("[\"models[name='A1']\".encoder]\nffn_width = 16")).unwrap();
        assert_eq!(enc(&cfg, 0)["ffn_width"].as_integer(), Some(16));
    }

    #[test]
    fn plain_table_on_array_of_tables_applies_to_every_element() {
        let mut cfg = e02();
        merge(&mut cfg, &v("[models.encoder]\npe_base = 1000.0")).unwrap();
        assert_eq!(enc(&cfg, 0)["pe_base"].as_float(), Some(1000.0));
        assert_eq!(enc(&cfg, 1)["pe_base"].as_float(), Some(1000.0));
    }

    #[test]
    fn integer_may_replace_float_and_becomes_float() {
        let mut cfg = e02();
        merge(&mut cfg, &v("[\"models[name=A2]\".encoder]\npe_base = 1000")).unwrap();
        assert_eq!(enc(&cfg, 1)["pe_base"], Value::Float(1000.0));
    }

    #[test]
    fn arrays_replace_whole_and_check_element_types() {
        let mut base = v("spc = [20, 100]\nnames = [\"a\"]\nempty = []");
        merge(&mut base, &v("spc = [5]\nempty = [1, 2]")).unwrap();
        assert_eq!(base["spc"], Value::Array(vec![Value::Integer(5)]));
        assert_eq!(base["empty"].as_array().unwrap().len(), 2, "an empty base array takes anything");
        let err = merge(&mut base, &v("names = [1]")).unwrap_err();
        assert_eq!(err, OverlayError::TypeMismatch { path: "names[0]".into(), base: "a string", overlay: "an integer" });
    }

    #[test]
    fn unknown_keys_are_errors_with_the_path_and_the_keys_there() {
        let mut cfg = e02();
        let err = merge(&mut cfg, &v("[training.mask]\nrandmo = 0.25")).unwrap_err();
        assert_eq!(
            err,
            OverlayError::UnknownKey { path: "training.mask.randmo".into(), available: "probed, random, same".into() }
        );
        assert!(err.to_string().contains("`training.mask.randmo` does not exist"), "{err}");
        let err = merge(&mut cfg, &v("[\"models[name=A2]\".encoder]\nffn = 128")).unwrap_err();
        assert!(matches!(&err, OverlayError::UnknownKey { path, .. } if path == "models[name=A2].encoder.ffn"), "{err:?}");
        let err = merge(&mut cfg, &v("[\"modles[name=A2]\".encoder]\nffn_width = 128")).unwrap_err();
        assert!(matches!(&err, OverlayError::UnknownKey { path, .. } if path == "modles"), "{err:?}");
    }

    #[test]
    fn type_changes_are_errors() {
        let mut cfg = e02();
        let err = merge(&mut cfg, &v("[training]\nwindow_refresh = 1.5")).unwrap_err();
        assert_eq!(
            err,
            OverlayError::TypeMismatch { path: "training.window_refresh".into(), base: "a string", overlay: "a float" }
        );
        // Float into an integer is not silently truncated.
        let err = merge(&mut cfg, &v("test_batch_size = 64.5")).unwrap_err();
        assert!(matches!(err, OverlayError::TypeMismatch { base: "an integer", overlay: "a float", .. }));
        // A table where the base has a scalar, and a scalar where the base has a table.
        let err = merge(&mut cfg, &v("[test_batch_size]\nx = 1")).unwrap_err();
        assert!(matches!(err, OverlayError::TypeMismatch { base: "an integer", overlay: "a table", .. }), "{err:?}");
        let err = merge(&mut cfg, &v("[training]\nmask = \"paper\"")).unwrap_err();
        assert!(matches!(err, OverlayError::TypeMismatch { base: "a table", overlay: "a string", .. }), "{err:?}");
    }

    #[test]
    fn selector_errors() {
        let mut cfg = e02();
        let err = merge(&mut cfg, &v("[\"models[name=A3]\".encoder]\nffn_width = 1")).unwrap_err();
        assert_eq!(
            err,
            OverlayError::NoMatch { path: "models".into(), selector: "models[name=A3]".into(), field: "name".into(), available: "A1, A2".into() }
        );
        let err = merge(&mut cfg, &v("[\"models[name]\".encoder]\nffn_width = 1")).unwrap_err();
        assert!(matches!(err, OverlayError::BadSelector { .. }), "{err:?}");
        let err = merge(&mut cfg, &v("[\"training[name=A2]\"]\nx = 1")).unwrap_err();
        assert!(matches!(err, OverlayError::TypeMismatch { base: "a table", .. }), "{err:?}");
        let err = merge(&mut cfg, &v("\"models[name=A2]\" = 3")).unwrap_err();
        assert!(matches!(err, OverlayError::SelectorNeedsTable { got: "an integer", .. }), "{err:?}");
        let mut empty = v("models = []");
        let err = merge(&mut empty, &v("[models]\nx = 1")).unwrap_err();
        assert_eq!(err, OverlayError::EmptyArray { path: "models".into() });
    }

    #[test]
    fn diff_lists_leaf_changes_by_path() {
        let base = e02();
        let mut cfg = base.clone();
        merge(&mut cfg, &v("[training.mask]\nrandom = 0.25\n[\"models[name=A2]\".encoder]\npe_base = 1000")).unwrap();
        let d = diff(&base, &cfg);
        assert_eq!(
            d,
            vec![
                ("models[name=A2].encoder.pe_base".to_string(), "10000.0".to_string(), "1000.0".to_string()),
                ("training.mask.random".to_string(), "0.2".to_string(), "0.25".to_string()),
            ]
        );
        assert!(diff(&base, &base).is_empty());
    }
}
