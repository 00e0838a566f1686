//! The LevelDB table format that TensorFlow's `.index` files use (`tensorflow/core/lib/io/table*`):
//!
//! ```text
//! [data block][trailer] … [meta-index block][trailer] [index block][trailer] [footer: 48 bytes]
//! block   = entries, then u32 restart offsets, then u32 restart count (little-endian)
//! entry   = varint shared, varint non_shared, varint value_len, key[shared..], value
//! trailer = 1 byte compression type (0 = none) + u32 masked crc32c of (block ‖ type)
//! footer  = meta-index handle, index handle (varint offset + varint size each), zero padding to
//!           40 bytes, u64 magic 0xdb4775248b80fb57
//! ```
//!
//! The index block maps a separator key to the handle of each data block; keys are
//! prefix-compressed against the previous key, with a full key at every restart point.

use crate::crc32c;

const FOOTER_LEN: usize = 48;
const TABLE_MAGIC: u64 = 0xdb47_7524_8b80_fb57;
const TRAILER_LEN: usize = 5;

/// A parse failure, with what was wrong; the caller adds the file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TableError {
    /// The file does not look like a table at all (too short, wrong magic).
    NotATable(String),
    /// It looks like a table but something inside is inconsistent.
    Corrupt(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BlockHandle {
    offset: u64,
    size: u64,
}

/// Reads a varint64 at `*pos`, advancing it.
pub(crate) fn read_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut result = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *buf.get(*pos)?;
        *pos += 1;
        result |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(result);
        }
    }
    None
}

fn read_handle(buf: &[u8], pos: &mut usize) -> Option<BlockHandle> {
    let offset = read_varint(buf, pos)?;
    let size = read_varint(buf, pos)?;
    Some(BlockHandle { offset, size })
}

/// Every (key, value) of the table's data blocks, in key order.
pub(crate) fn read_table(file: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, TableError> {
    if file.len() < FOOTER_LEN {
        return Err(TableError::NotATable(format!(
            "{} bytes, shorter than a table footer ({FOOTER_LEN} bytes)",
            file.len()
        )));
    }
    let footer = &file[file.len() - FOOTER_LEN..];
    let magic = u64::from_le_bytes(footer[40..48].try_into().expect("8 bytes"));
    if magic != TABLE_MAGIC {
        return Err(TableError::NotATable(format!(
            "footer magic {magic:#018x}, expected {TABLE_MAGIC:#018x} (truncated or not an index file)"
        )));
    }
    let mut pos = 0;
    let bad_footer = || TableError::Corrupt("unreadable block handles in the footer".into());
    let _meta_index = read_handle(footer, &mut pos).ok_or_else(bad_footer)?;
    let index = read_handle(footer, &mut pos).ok_or_else(bad_footer)?;
    let index_block = block_contents(file, index, "index block")?;
    let mut out = Vec::new();
    for (separator, handle_bytes) in block_entries(index_block, "index block")? {
        let mut p = 0;
        let handle = read_handle(&handle_bytes, &mut p).ok_or_else(|| {
            TableError::Corrupt(format!(
                "index entry {:?} does not hold a block handle",
                String::from_utf8_lossy(&separator)
            ))
        })?;
        let what = format!("data block at byte {}", handle.offset);
        let block = block_contents(file, handle, &what)?;
        out.extend(block_entries(block, &what)?);
    }
    if out.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(TableError::Corrupt("keys are not in strictly increasing order".into()));
    }
    Ok(out)
}

/// The bytes of a block, after checking its trailer (compression type and masked crc32c).
fn block_contents<'a>(file: &'a [u8], h: BlockHandle, what: &str) -> Result<&'a [u8], TableError> {
    let start = usize::try_from(h.offset).ok();
    let end = start
        .zip(usize::try_from(h.size).ok())
        .and_then(|(s, n)| s.checked_add(n)?.checked_add(TRAILER_LEN));
    let (Some(start), Some(end)) = (start, end) else {
        return Err(TableError::Corrupt(format!("{what}: handle out of range")));
    };
    if end > file.len() - FOOTER_LEN {
        return Err(TableError::Corrupt(format!(
            "{what}: {} bytes at offset {start} run past the end of the table",
            h.size
        )));
    }
    let body_end = end - TRAILER_LEN;
    let body = &file[start..body_end];
    let kind = file[body_end];
    let stored = u32::from_le_bytes(file[body_end + 1..end].try_into().expect("4 bytes"));
    let computed = crc32c::extend(crc32c::value(body), &[kind]);
    if crc32c::unmask(stored) != computed {
        return Err(TableError::Corrupt(format!(
            "{what}: block checksum mismatch (stored {:#010x}, computed {computed:#010x})",
            crc32c::unmask(stored)
        )));
    }
    match kind {
        0 => Ok(body),
        1 => Err(TableError::Corrupt(format!(
            "{what} is snappy-compressed; TensorFlow writes checkpoint indexes uncompressed and this \
             reader does not decompress snappy"
        ))),
        k => Err(TableError::Corrupt(format!("{what}: unknown compression type {k}"))),
    }
}

/// The (key, value) entries of one block, keys expanded from their shared prefixes.
fn block_entries(block: &[u8], what: &str) -> Result<Vec<(Vec<u8>, Vec<u8>)>, TableError> {
    let corrupt = |p: &str| TableError::Corrupt(format!("{what}: {p}"));
    if block.len() < 4 {
        return Err(corrupt("shorter than its restart count"));
    }
    let n_restarts = u32::from_le_bytes(block[block.len() - 4..].try_into().expect("4 bytes")) as usize;
    let restarts_start = n_restarts
        .checked_mul(4)
        .and_then(|r| block.len().checked_sub(4 + r))
        .ok_or_else(|| corrupt("restart array larger than the block"))?;
    let restarts: Vec<usize> = block[restarts_start..block.len() - 4]
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")) as usize)
        .collect();
    let mut out: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut key: Vec<u8> = Vec::new();
    let mut pos = 0;
    while pos < restarts_start {
        let entry_start = pos;
        let mut field = || read_varint(block, &mut pos).and_then(|v| usize::try_from(v).ok());
        let (Some(shared), Some(non_shared), Some(value_len)) = (field(), field(), field()) else {
            return Err(corrupt(&format!("unreadable entry header at byte {entry_start}")));
        };
        if restarts.contains(&entry_start) && shared != 0 {
            return Err(corrupt(&format!("restart entry at byte {entry_start} shares a prefix")));
        }
        if shared > key.len() {
            return Err(corrupt(&format!(
                "entry at byte {entry_start} shares {shared} bytes of a {}-byte key",
                key.len()
            )));
        }
        let end = pos
            .checked_add(non_shared)
            .and_then(|e| e.checked_add(value_len))
            .filter(|&e| e <= restarts_start)
            .ok_or_else(|| corrupt(&format!("entry at byte {entry_start} runs past the block")))?;
        key.truncate(shared);
        key.extend_from_slice(&block[pos..pos + non_shared]);
        out.push((key.clone(), block[pos + non_shared..end].to_vec()));
        pos = end;
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    /// A block with one restart point and prefix-compressed keys.
    fn build_block(entries: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut prev: &[u8] = &[];
        for (i, (k, v)) in entries.iter().enumerate() {
            let shared = if i == 0 {
                0
            } else {
                prev.iter().zip(k.iter()).take_while(|(a, b)| a == b).count()
            };
            put_varint(&mut out, shared as u64);
            put_varint(&mut out, (k.len() - shared) as u64);
            put_varint(&mut out, v.len() as u64);
            out.extend_from_slice(&k[shared..]);
            out.extend_from_slice(v);
            prev = k;
        }
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        out
    }

    fn push_block(file: &mut Vec<u8>, block: &[u8]) -> BlockHandle {
        let h = BlockHandle {
            offset: file.len() as u64,
            size: block.len() as u64,
        };
        file.extend_from_slice(block);
        file.push(0);
        let crc = crc32c::mask(crc32c::extend(crc32c::value(block), &[0]));
        file.extend_from_slice(&crc.to_le_bytes());
        h
    }

    /// A one-data-block table holding `entries` (keys sorted), as LevelDB writes it.
    pub(crate) fn build_table(entries: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut file = Vec::new();
        let data = push_block(&mut file, &build_block(entries));
        let meta = push_block(&mut file, &build_block(&[]));
        let mut handle = Vec::new();
        put_varint(&mut handle, data.offset);
        put_varint(&mut handle, data.size);
        let last_key = entries.last().map(|e| e.0).unwrap_or(b"");
        let index = push_block(&mut file, &build_block(&[(last_key, &handle)]));
        let mut footer = Vec::new();
        for h in [meta, index] {
            put_varint(&mut footer, h.offset);
            put_varint(&mut footer, h.size);
        }
        footer.resize(40, 0);
        footer.extend_from_slice(&TABLE_MAGIC.to_le_bytes());
        file.extend_from_slice(&footer);
        file
    }

    #[test]
    fn reads_back_prefix_compressed_keys() {
        let entries: [(&[u8], &[u8]); 3] = [(b"", b"h"), (b"layer/a", b"1"), (b"layer/ab", b"22")];
        let table = build_table(&entries);
        let got = read_table(&table).unwrap();
        let want: Vec<(Vec<u8>, Vec<u8>)> =
            entries.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_flipped_byte_fails_the_block_checksum() {
        let mut table = build_table(&[(b"key", b"value")]);
        table[3] ^= 0x01; // inside the data block
        match read_table(&table) {
            Err(TableError::Corrupt(m)) => assert!(m.contains("checksum"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn truncation_and_garbage_are_not_tables() {
        let table = build_table(&[(b"key", b"value")]);
        assert!(matches!(read_table(&table[..table.len() - 1]), Err(TableError::NotATable(_))));
        assert!(matches!(read_table(&table[..10]), Err(TableError::NotATable(_))));
        assert!(matches!(read_table(&[0u8; 100]), Err(TableError::NotATable(_))));
    }

    #[test]
    fn varints() {
        let mut p = 0;
        assert_eq!(read_varint(&[0xac, 0x02], &mut p), Some(300));
        assert_eq!(p, 2);
        let mut p = 0;
        assert_eq!(read_varint(&[0x80], &mut p), None);
    }
}
