//! sha256 of data files, cached by (path, size, mtime) so re-verifying gigabytes that did not
//! change is instant.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{DatasetError, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct CacheEntry {
    bytes: u64,
    /// Nanoseconds since the epoch (u64: TOML has no 128-bit integers).
    mtime_ns: u64,
    sha256: String,
}

/// A persistent cache of file hashes. Entries are valid while size and mtime are unchanged.
#[derive(Debug, Default)]
pub struct HashCache {
    path: Option<PathBuf>,
    entries: BTreeMap<String, CacheEntry>,
    dirty: bool,
}

/// Size and sha256 of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileHash {
    pub bytes: u64,
    pub sha256: String,
}

impl HashCache {
    /// Opens (or starts) the cache stored at `path`. A corrupt cache is ignored, not an error.
    pub fn open(path: &Path) -> Self {
        let entries = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| toml::from_str::<BTreeMap<String, CacheEntry>>(&t).ok())
            .unwrap_or_default();
        Self {
            path: Some(path.to_path_buf()),
            entries,
            dirty: false,
        }
    }

    /// A cache that is never written to disk.
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// Hash of `file`, from the cache when its size and mtime match.
    pub fn hash(&mut self, file: &Path) -> Result<FileHash> {
        let meta = std::fs::metadata(file).map_err(|e| DatasetError::io(file, e))?;
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64);
        let key = std::fs::canonicalize(file)
            .unwrap_or_else(|_| file.to_path_buf())
            .to_string_lossy()
            .into_owned();
        if let Some(e) = self.entries.get(&key) {
            if e.bytes == meta.len() && e.mtime_ns == mtime_ns && mtime_ns != 0 {
                return Ok(FileHash {
                    bytes: e.bytes,
                    sha256: e.sha256.clone(),
                });
            }
        }
        let sha256 = sha256_file(file)?;
        self.entries.insert(
            key,
            CacheEntry {
                bytes: meta.len(),
                mtime_ns,
                sha256: sha256.clone(),
            },
        );
        self.dirty = true;
        Ok(FileHash {
            bytes: meta.len(),
            sha256,
        })
    }

    /// Writes the cache back if it changed. Failure to write a cache is only logged.
    pub fn save(&mut self) {
        let (Some(path), true) = (&self.path, self.dirty) else {
            return;
        };
        let text = match toml::to_string(&self.entries) {
            Ok(t) => t,
            Err(e) => {
                log::warn!("hash cache not saved: {e}");
                return;
            }
        };
        let res = lightcurve::io::atomic_write(path, |f| {
            use std::io::Write;
            f.write_all(text.as_bytes()).map_err(|e| lightcurve::DataError::Io {
                path: path.clone(),
                source: e,
            })
        });
        match res {
            Ok(()) => self.dirty = false,
            Err(e) => log::warn!("hash cache not saved: {e}"),
        }
    }
}

/// Streams a file through sha256.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| DatasetError::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| DatasetError::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest_and_cache_invalidation() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.txt");
        std::fs::write(&f, b"abc").unwrap();
        assert_eq!(
            sha256_file(&f).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let cache_path = dir.path().join("cache.toml");
        let mut cache = HashCache::open(&cache_path);
        let first = cache.hash(&f).unwrap();
        cache.save();
        assert!(cache_path.exists());
        // Same size, new content and mtime: the cache must not hide the change.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&f, b"abd").unwrap();
        let mut cache = HashCache::open(&cache_path);
        let second = cache.hash(&f).unwrap();
        assert_ne!(first.sha256, second.sha256);
        assert_eq!(second.bytes, 3);
    }
}
