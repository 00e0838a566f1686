//! Reads TensorFlow *TensorBundle* checkpoints — what `model.save_weights(prefix)` and
//! `tf.train.Checkpoint` write — without TensorFlow:
//!
//! - `<prefix>.index`: a LevelDB-format table ([`sstable`](crate)) mapping each variable's key
//!   (e.g. `layer_with_weights-0/enc_layers/0/mha/wq/kernel/.ATTRIBUTES/VARIABLE_VALUE`) to a
//!   `BundleEntryProto` (dtype, shape, shard, offset, size, crc32c); the empty key holds the
//!   `BundleHeaderProto` (number of shards, endianness);
//! - `<prefix>.data-NNNNN-of-MMMMM`: the raw tensor bytes of each shard.
//!
//! [`Bundle::open`] reads only the index, so listing keys, dtypes and shapes is cheap;
//! [`Bundle::read_f32`] reads one tensor and checks its size and crc32c. Damaged, truncated or
//! foreign files are errors naming the file and the key, never a panic.
//!
//! ```no_run
//! let bundle = tensorbundle::Bundle::open("checkpoints/weights".as_ref())?;
//! for e in bundle.entries() {
//!     println!("{} {} {:?}", e.key, e.dtype, e.shape);
//! }
//! let kernel = bundle.read_f32("layer_with_weights-0/inp_transform/kernel/.ATTRIBUTES/VARIABLE_VALUE")?;
//! # Ok::<(), tensorbundle::BundleError>(())
//! ```

pub mod crc32c;
mod error;
mod proto;
mod sstable;

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

pub use error::{BundleError, Result};

/// TensorFlow `DataType` of an entry (the values of `types.proto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    Float,
    Double,
    Int32,
    Uint8,
    Int16,
    Int8,
    String,
    Int64,
    Bool,
    Bfloat16,
    Half,
    /// Any other code: listed, never read.
    Other(u32),
}

impl DType {
    fn from_code(code: u32) -> Self {
        match code {
            1 => DType::Float,
            2 => DType::Double,
            3 => DType::Int32,
            4 => DType::Uint8,
            5 => DType::Int16,
            6 => DType::Int8,
            7 => DType::String,
            9 => DType::Int64,
            10 => DType::Bool,
            14 => DType::Bfloat16,
            19 => DType::Half,
            c => DType::Other(c),
        }
    }

    /// Bytes per element for fixed-size types.
    pub fn element_size(self) -> Option<u64> {
        match self {
            DType::Float | DType::Int32 => Some(4),
            DType::Double | DType::Int64 => Some(8),
            DType::Uint8 | DType::Int8 | DType::Bool => Some(1),
            DType::Int16 | DType::Bfloat16 | DType::Half => Some(2),
            DType::String | DType::Other(_) => None,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            DType::Float => "float32",
            DType::Double => "float64",
            DType::Int32 => "int32",
            DType::Uint8 => "uint8",
            DType::Int16 => "int16",
            DType::Int8 => "int8",
            DType::String => "string",
            DType::Int64 => "int64",
            DType::Bool => "bool",
            DType::Bfloat16 => "bfloat16",
            DType::Half => "float16",
            DType::Other(c) => return write!(f, "DataType {c}"),
        };
        f.write_str(s)
    }
}

/// One tensor of the bundle, as the index describes it (no data loaded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub dtype: DType,
    /// Dimension sizes; `None` for an unknown rank.
    pub shape: Option<Vec<i64>>,
    pub shard_id: u32,
    pub offset: u64,
    /// Bytes in the data shard.
    pub size: u64,
    /// The crc32c of the bytes, masked as LevelDB masks CRCs (`crc32c::unmask` gives the value).
    pub crc32c_masked: u32,
    /// Partitioned variables store slices instead of one tensor; not supported for reading.
    pub n_slices: usize,
}

impl Entry {
    /// Number of elements (1 for a scalar), when the shape is known and non-negative.
    pub fn numel(&self) -> Option<u64> {
        let shape = self.shape.as_ref()?;
        shape
            .iter()
            .try_fold(1u64, |acc, &d| u64::try_from(d).ok().and_then(|d| acc.checked_mul(d)))
    }
}

/// A float32 tensor read from a bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct F32Tensor {
    pub shape: Vec<usize>,
    /// Row-major values.
    pub values: Vec<f32>,
}

/// An opened checkpoint: its index, parsed; data read on demand.
#[derive(Debug, Clone)]
pub struct Bundle {
    prefix: PathBuf,
    num_shards: u32,
    big_endian: bool,
    entries: BTreeMap<String, Entry>,
}

/// Key of the object graph that `tf.train.Checkpoint` stores beside the variables.
pub const OBJECT_GRAPH_KEY: &str = "_CHECKPOINTABLE_OBJECT_GRAPH";

impl Bundle {
    /// Opens a checkpoint given its prefix (`…/weights`), its `.index` file, or a folder holding
    /// one (found through TensorFlow's `checkpoint` file, or the folder's only `.index` file).
    /// Reads and checks the index only.
    pub fn open(path: &Path) -> Result<Self> {
        let prefix = resolve_prefix(path)?;
        let index_path = index_path(&prefix);
        let bytes = std::fs::read(&index_path).map_err(|source| BundleError::Io {
            path: index_path.clone(),
            source,
        })?;
        let records = sstable::read_table(&bytes).map_err(|e| match e {
            sstable::TableError::NotATable(problem) => BundleError::NotAnIndex {
                path: index_path.clone(),
                problem,
            },
            sstable::TableError::Corrupt(problem) => BundleError::CorruptIndex {
                path: index_path.clone(),
                problem,
            },
        })?;
        let corrupt = |problem: String| BundleError::CorruptIndex {
            path: index_path.clone(),
            problem,
        };
        let mut header = None;
        let mut entries = BTreeMap::new();
        for (key, value) in records {
            if key.is_empty() {
                header = Some(proto::decode_header(&value).map_err(|p| corrupt(format!("header: {p}")))?);
                continue;
            }
            let key = String::from_utf8(key)
                .map_err(|e| corrupt(format!("a key is not UTF-8: {:?}", e.as_bytes())))?;
            let e = proto::decode_entry(&value).map_err(|p| corrupt(format!("entry `{key}`: {p}")))?;
            let entry = Entry {
                key: key.clone(),
                dtype: DType::from_code(e.dtype),
                shape: e.shape,
                shard_id: e.shard_id,
                offset: e.offset,
                size: e.size,
                crc32c_masked: e.crc32c,
                n_slices: e.n_slices,
            };
            entries.insert(key, entry);
        }
        let header = header.ok_or_else(|| corrupt("no bundle header (empty key)".into()))?;
        if header.num_shards == 0 {
            return Err(corrupt("the header declares 0 data shards".into()));
        }
        if let Some(e) = entries.values().find(|e| e.shard_id >= header.num_shards) {
            return Err(corrupt(format!(
                "entry `{}` is in shard {} of {}",
                e.key, e.shard_id, header.num_shards
            )));
        }
        Ok(Self {
            prefix,
            num_shards: header.num_shards,
            big_endian: header.big_endian,
            entries,
        })
    }

    /// The checkpoint prefix (`<prefix>.index`, `<prefix>.data-…`).
    pub fn prefix(&self) -> &Path {
        &self.prefix
    }

    /// The `.index` file.
    pub fn index_path(&self) -> PathBuf {
        index_path(&self.prefix)
    }

    /// Every data shard file, in shard order.
    pub fn data_paths(&self) -> Vec<PathBuf> {
        (0..self.num_shards).map(|s| self.shard_path(s)).collect()
    }

    /// Every entry, in key order.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = &Entry> + '_ {
        self.entries.values()
    }

    /// The entry of `key`.
    pub fn entry(&self, key: &str) -> Result<&Entry> {
        self.entries.get(key).ok_or_else(|| BundleError::MissingKey {
            path: self.index_path(),
            key: key.to_string(),
        })
    }

    fn shard_path(&self, shard: u32) -> PathBuf {
        let mut name = self.prefix.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(format!(".data-{shard:05}-of-{:05}", self.num_shards));
        self.prefix.with_file_name(name)
    }

    /// The raw bytes of `key`, after checking that the shard holds them and that their crc32c
    /// matches the index.
    pub fn read_bytes(&self, key: &str) -> Result<Vec<u8>> {
        let e = self.entry(key)?;
        let path = self.shard_path(e.shard_id);
        let io = |source| BundleError::Io {
            path: path.clone(),
            source,
        };
        let mut file = File::open(&path).map_err(io)?;
        let file_len = file.metadata().map_err(io)?.len();
        let end = e.offset.checked_add(e.size).unwrap_or(u64::MAX);
        if end > file_len {
            return Err(BundleError::Truncated {
                path,
                key: key.to_string(),
                end,
                file_len,
            });
        }
        let len = usize::try_from(e.size).map_err(|_| BundleError::Unsupported {
            path: path.clone(),
            key: key.to_string(),
            problem: format!("is too large for this machine ({} bytes)", e.size),
        })?;
        let mut bytes = vec![0u8; len];
        file.seek(SeekFrom::Start(e.offset)).map_err(io)?;
        file.read_exact(&mut bytes).map_err(io)?;
        let stored = crc32c::unmask(e.crc32c_masked);
        let computed = if e.dtype == DType::String {
            string_tensor_crc(&bytes, e.numel().unwrap_or(0))
        } else {
            Some(crc32c::value(&bytes))
        };
        let Some(computed) = computed else {
            return Err(BundleError::Unsupported {
                path,
                key: key.to_string(),
                problem: "is a string tensor whose length prefix cannot be read (damaged file)".into(),
            });
        };
        if stored != computed {
            return Err(BundleError::Checksum {
                path,
                key: key.to_string(),
                stored,
                computed,
            });
        }
        Ok(bytes)
    }

    /// Reads a float32 tensor (row-major), checking dtype, shape, size and crc32c.
    pub fn read_f32(&self, key: &str) -> Result<F32Tensor> {
        let e = self.entry(key)?;
        let path = self.index_path();
        if e.dtype != DType::Float {
            return Err(BundleError::Dtype {
                path,
                key: key.to_string(),
                dtype: e.dtype.to_string(),
                expected: "expected float32",
            });
        }
        if e.n_slices > 0 {
            return Err(BundleError::Unsupported {
                path,
                key: key.to_string(),
                problem: format!("is a partitioned variable ({} slices)", e.n_slices),
            });
        }
        let (Some(shape), Some(numel)) = (e.shape.clone(), e.numel()) else {
            return Err(BundleError::Unsupported {
                path,
                key: key.to_string(),
                problem: format!("has no usable shape ({:?})", e.shape),
            });
        };
        let expected = numel.checked_mul(4).unwrap_or(u64::MAX);
        if e.size != expected {
            return Err(BundleError::Size {
                path,
                key: key.to_string(),
                shape,
                size: e.size,
                expected,
            });
        }
        let bytes = self.read_bytes(key)?;
        let decode: fn([u8; 4]) -> f32 = if self.big_endian { f32::from_be_bytes } else { f32::from_le_bytes };
        let values = bytes
            .chunks_exact(4)
            .map(|c| decode(c.try_into().expect("4 bytes")))
            .collect();
        Ok(F32Tensor {
            shape: shape.iter().map(|&d| d as usize).collect(),
            values,
        })
    }

    /// Reads every entry and checks its crc32c (and, for fixed-size dtypes, its size).
    pub fn verify(&self) -> Result<()> {
        for e in self.entries.values() {
            if let (Some(elem), Some(numel)) = (e.dtype.element_size(), e.numel()) {
                let expected = elem.checked_mul(numel).unwrap_or(u64::MAX);
                if e.n_slices == 0 && e.size != expected {
                    return Err(BundleError::Size {
                        path: self.index_path(),
                        key: e.key.clone(),
                        shape: e.shape.clone().unwrap_or_default(),
                        size: e.size,
                        expected,
                    });
                }
            }
            self.read_bytes(&e.key)?;
        }
        Ok(())
    }
}

/// The crc32c TensorFlow stores for a string tensor (`WriteStringTensor` in `tensor_bundle.cc`):
/// the bytes are `varint64 len_i…`, a 4-byte masked checksum of the lengths, then the strings, but
/// the crc covers each length as the little-endian u32 TensorFlow held it in (not its varint),
/// then the 4 checksum bytes and the strings (checked on the official fixture). `None` if the
/// length prefix is unreadable.
fn string_tensor_crc(bytes: &[u8], numel: u64) -> Option<u32> {
    let mut pos = 0;
    let mut crc = 0u32;
    for _ in 0..numel {
        let len = sstable::read_varint(bytes, &mut pos)?;
        let len = u32::try_from(len).ok()?;
        crc = crc32c::extend(crc, &len.to_le_bytes());
    }
    let checksum = bytes.get(pos..pos + 4)?;
    crc = crc32c::extend(crc, checksum);
    Some(crc32c::extend(crc, &bytes[pos + 4..]))
}

fn index_path(prefix: &Path) -> PathBuf {
    let mut name = prefix.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".index");
    prefix.with_file_name(name)
}

/// Finds the checkpoint prefix for a prefix, an `.index` file or a folder.
pub fn resolve_prefix(path: &Path) -> Result<PathBuf> {
    let not_found = |problem: String| BundleError::NotFound {
        path: path.to_path_buf(),
        problem,
    };
    if path.is_dir() {
        // TensorFlow's `checkpoint` text file: `model_checkpoint_path: "weights"`.
        let state = path.join("checkpoint");
        if let Ok(text) = std::fs::read_to_string(&state) {
            if let Some(name) = text.lines().find_map(|l| {
                let rest = l.trim().strip_prefix("model_checkpoint_path:")?;
                Some(rest.trim().trim_matches('"').to_string())
            }) {
                let prefix = path.join(name);
                if index_path(&prefix).is_file() {
                    return Ok(prefix);
                }
            }
        }
        let mut found: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|source| BundleError::Io {
                path: path.to_path_buf(),
                source,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "index"))
            .collect();
        found.sort();
        return match found.len() {
            1 => Ok(found.remove(0).with_extension("")),
            0 => Err(not_found("the folder holds no `.index` file".into())),
            _ => Err(not_found(format!(
                "the folder holds several checkpoints ({}); pass one prefix",
                found.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            ))),
        };
    }
    if path.extension().is_some_and(|x| x == "index") {
        return Ok(path.with_extension(""));
    }
    if index_path(path).is_file() {
        return Ok(path.to_path_buf());
    }
    Err(not_found(format!(
        "neither {} nor a folder with a checkpoint",
        index_path(path).display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A two-tensor bundle written the way TensorFlow lays it out.
    fn write_bundle(dir: &Path, big_endian: bool) -> PathBuf {
        let a: Vec<f32> = vec![1.0, -2.5, 3.25, 0.0, 5.0, 6.0];
        let b: Vec<f32> = vec![7.5];
        let enc = |v: &[f32]| -> Vec<u8> {
            v.iter()
                .flat_map(|x| if big_endian { x.to_be_bytes() } else { x.to_le_bytes() })
                .collect()
        };
        let (ab, bb) = (enc(&a), enc(&b));
        let mut data = ab.clone();
        data.extend(&bb);
        let mut header = proto::tests::encode_header(1);
        if big_endian {
            header.extend([2 << 3, 1]);
        }
        let ea = proto::tests::encode_entry(1, &[2, 3], 0, ab.len() as u64, crc32c::mask(crc32c::value(&ab)));
        let eb = proto::tests::encode_entry(1, &[], ab.len() as u64, 4, crc32c::mask(crc32c::value(&bb)));
        let table = sstable::tests::build_table(&[(b"", &header), (b"a/kernel", &ea), (b"b", &eb)]);
        let prefix = dir.join("weights");
        std::fs::write(dir.join("weights.index"), table).unwrap();
        std::fs::write(dir.join("weights.data-00000-of-00001"), data).unwrap();
        prefix
    }

    #[test]
    fn reads_tensors_by_key() {
        for big_endian in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let prefix = write_bundle(dir.path(), big_endian);
            let b = Bundle::open(&prefix).unwrap();
            assert_eq!(b.entries().len(), 2);
            let t = b.read_f32("a/kernel").unwrap();
            assert_eq!(t.shape, vec![2, 3]);
            assert_eq!(t.values, vec![1.0, -2.5, 3.25, 0.0, 5.0, 6.0]);
            let s = b.read_f32("b").unwrap();
            assert_eq!((s.shape.len(), s.values[0]), (0, 7.5));
            b.verify().unwrap();
            // The folder and the index file resolve to the same prefix.
            assert_eq!(Bundle::open(dir.path()).unwrap().prefix(), prefix);
            assert_eq!(Bundle::open(&dir.path().join("weights.index")).unwrap().prefix(), prefix);
        }
    }

    #[test]
    fn damaged_data_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = write_bundle(dir.path(), false);
        let data = dir.path().join("weights.data-00000-of-00001");
        let mut bytes = std::fs::read(&data).unwrap();
        bytes[2] ^= 0x40;
        std::fs::write(&data, &bytes).unwrap();
        let b = Bundle::open(&prefix).unwrap();
        let err = b.read_f32("a/kernel").unwrap_err();
        assert!(matches!(err, BundleError::Checksum { .. }), "{err}");
        assert!(err.to_string().contains("a/kernel"), "{err}");
        assert!(b.read_f32("b").is_ok(), "the other tensor is intact");
        std::fs::write(&data, &bytes[..bytes.len() - 2]).unwrap();
        let err = b.read_f32("b").unwrap_err();
        assert!(matches!(err, BundleError::Truncated { .. }), "{err}");
        assert!(err.to_string().contains("weights.data-00000-of-00001"), "{err}");
    }

    #[test]
    fn missing_checkpoints_and_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(Bundle::open(dir.path()), Err(BundleError::NotFound { .. })));
        assert!(matches!(Bundle::open(&dir.path().join("nope")), Err(BundleError::NotFound { .. })));
        let prefix = write_bundle(dir.path(), false);
        let b = Bundle::open(&prefix).unwrap();
        assert!(matches!(b.read_f32("c"), Err(BundleError::MissingKey { .. })));
    }
}
