//! Which official checkpoint key holds which parameter of our model, and the architecture read
//! from the shapes.
//!
//! The official A2 (`src/models/astromer_1.py: get_ASTROMER`, saved with `model.save_weights`)
//! names its variables by object-graph path:
//!
//! ```text
//! <enc>/inp_transform/{kernel,bias}                         → embedding.magnitude
//! <enc>/enc_layers/<i>/mha/{wq,wk,wv,dense}/{kernel,bias}   → blocks.<i>.attention.{query,key,value,merge}
//! <enc>/enc_layers/<i>/reshape_leak_1/…                     → blocks.<i>.attention_residual (R1)
//! <enc>/enc_layers/<i>/layernorm1/{gamma,beta}              → blocks.<i>.attention_norm
//! <enc>/enc_layers/<i>/ffn/layer_with_weights-0/…           → blocks.<i>.ffn.inner
//! <enc>/enc_layers/<i>/ffn/layer_with_weights-1/…           → blocks.<i>.ffn.outer
//! <enc>/enc_layers/<i>/reshape_leak_2/…                     → blocks.<i>.ffn_residual (R2)
//! <enc>/enc_layers/<i>/layernorm2/{gamma,beta}              → blocks.<i>.ffn_norm
//! <head>/bn_0/{gamma,beta}                                  → head.norm
//! <head>/reg_layer/{kernel,bias}                            → head.output
//! ```
//!
//! each followed by `/.ATTRIBUTES/VARIABLE_VALUE`. In the pretraining model `<enc>` is
//! `layer_with_weights-0` and `<head>` `layer_with_weights-1`; the fine-tuned classifiers keep the
//! encoder under another `layer_with_weights-N`, so both prefixes are found from where
//! `inp_transform` and `reg_layer` sit. Keras kernels are (in, out), our Dense layout, so nothing
//! is transposed. The official graph has no mask-token variable (the token layer falls out of the
//! model, spec §4.3).

use std::collections::BTreeSet;

const VALUE_SUFFIX: &str = "/.ATTRIBUTES/VARIABLE_VALUE";

/// The variable path of a key (`…/kernel`), or `None` for keys that are not variable values
/// (the object graph, optimizer slots are `…/.OPTIMIZER_SLOT/…`).
pub fn variable_path(key: &str) -> Option<&str> {
    key.strip_suffix(VALUE_SUFFIX)
}

/// Whether a key belongs to the training state rather than the model (optimizer, counters).
pub fn is_training_state(key: &str) -> bool {
    key.starts_with("optimizer/")
        || key.contains("/.OPTIMIZER_SLOT/")
        || key == "save_counter/.ATTRIBUTES/VARIABLE_VALUE"
        || key == tensorbundle::OBJECT_GRAPH_KEY
}

/// The prefixes of the encoder and of the reconstruction head among `paths` (variable paths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefixes {
    pub encoder: String,
    /// `None` when the checkpoint has no reconstruction head (a classifier checkpoint).
    pub head: Option<String>,
}

/// Finds the prefixes; errors with the candidates when there are none or several.
pub fn find_prefixes<'a>(paths: impl Iterator<Item = &'a str> + Clone) -> Result<Prefixes, String> {
    let under = |leaf: &str| -> BTreeSet<String> {
        paths
            .clone()
            .filter_map(|p| p.strip_suffix(leaf))
            .map(str::to_string)
            .collect()
    };
    let enc = under("/inp_transform/kernel");
    let encoder = match enc.len() {
        1 => enc.into_iter().next().expect("one"),
        0 => {
            return Err("no `…/inp_transform/kernel` variable: this is not an Astromer 2 checkpoint of the \
                 official code (astromer-science/main-code)"
                .into())
        }
        _ => return Err(format!("several encoders in one checkpoint: {enc:?}")),
    };
    let heads = under("/reg_layer/kernel");
    let head = match heads.len() {
        0 => None,
        1 => heads.into_iter().next(),
        _ => return Err(format!("several reconstruction heads in one checkpoint: {heads:?}")),
    };
    Ok(Prefixes { encoder, head })
}

/// (official variable path, our parameter name) of every parameter the official graph has, for
/// `n_blocks` blocks, with or without the leak projections and the head.
pub fn mapping(p: &Prefixes, n_blocks: usize, leak: bool) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut dense = |official: String, ours: String| {
        out.push((format!("{official}/kernel"), format!("{ours}.weight")));
        out.push((format!("{official}/bias"), format!("{ours}.bias")));
    };
    let e = &p.encoder;
    dense(format!("{e}/inp_transform"), "embedding.magnitude".into());
    for i in 0..n_blocks {
        let b = format!("{e}/enc_layers/{i}");
        let ours = format!("blocks.{i}");
        for (wname, oname) in [("wq", "query"), ("wk", "key"), ("wv", "value"), ("dense", "merge")] {
            dense(format!("{b}/mha/{wname}"), format!("{ours}.attention.{oname}"));
        }
        if leak {
            dense(format!("{b}/reshape_leak_1"), format!("{ours}.attention_residual"));
        }
        dense(format!("{b}/ffn/layer_with_weights-0"), format!("{ours}.ffn.inner"));
        dense(format!("{b}/ffn/layer_with_weights-1"), format!("{ours}.ffn.outer"));
        if leak {
            dense(format!("{b}/reshape_leak_2"), format!("{ours}.ffn_residual"));
        }
    }
    let mut norm = |official: String, ours: String| {
        out.push((format!("{official}/gamma"), format!("{ours}.weight")));
        out.push((format!("{official}/beta"), format!("{ours}.bias")));
    };
    for i in 0..n_blocks {
        let b = format!("{e}/enc_layers/{i}");
        norm(format!("{b}/layernorm1"), format!("blocks.{i}.attention_norm"));
        norm(format!("{b}/layernorm2"), format!("blocks.{i}.ffn_norm"));
    }
    if let Some(h) = &p.head {
        norm(format!("{h}/bn_0"), "head.norm".into());
        out.push((format!("{h}/reg_layer/kernel"), "head.output.weight".into()));
        out.push((format!("{h}/reg_layer/bias"), "head.output.bias".into()));
    }
    out
}

/// Number of blocks: the distinct `<enc>/enc_layers/<i>/` indices, which must be 0..n.
pub fn count_blocks<'a>(encoder: &str, paths: impl Iterator<Item = &'a str>) -> Result<usize, String> {
    let stem = format!("{encoder}/enc_layers/");
    let idx: BTreeSet<usize> = paths
        .filter_map(|p| p.strip_prefix(&stem)?.split('/').next()?.parse().ok())
        .collect();
    let n = idx.len();
    if idx.iter().copied().ne(0..n) {
        return Err(format!("block indices {idx:?} are not 0..{n}"));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_encoder_under_any_prefix() {
        let paths = ["layer_with_weights-2/inp_transform/kernel", "layer_with_weights-2/enc_layers/0/mha/wq/kernel"];
        let p = find_prefixes(paths.iter().copied()).unwrap();
        assert_eq!(p.encoder, "layer_with_weights-2");
        assert_eq!(p.head, None);
        assert!(find_prefixes(["x/kernel"].iter().copied()).is_err());
    }

    #[test]
    fn mapping_covers_every_parameter_once() {
        let p = Prefixes {
            encoder: "e".into(),
            head: Some("h".into()),
        };
        let m = mapping(&p, 2, true);
        // inp 2 + 2 blocks × (8 Dense × 2 + 2 norms × 2) + head 4
        assert_eq!(m.len(), 2 + 2 * 20 + 4);
        let ours: BTreeSet<_> = m.iter().map(|x| &x.1).collect();
        let official: BTreeSet<_> = m.iter().map(|x| &x.0).collect();
        assert_eq!((ours.len(), official.len()), (m.len(), m.len()));
        assert!(m.contains(&("e/enc_layers/1/reshape_leak_2/bias".into(), "blocks.1.ffn_residual.bias".into())));
        assert!(m.contains(&("h/bn_0/gamma".into(), "head.norm.weight".into())));
    }

    #[test]
    fn block_count_needs_contiguous_indices() {
        let ok = ["e/enc_layers/0/a", "e/enc_layers/1/a", "e/enc_layers/1/b"];
        assert_eq!(count_blocks("e", ok.iter().copied()), Ok(2));
        assert!(count_blocks("e", ["e/enc_layers/1/a"].iter().copied()).is_err());
    }
}
