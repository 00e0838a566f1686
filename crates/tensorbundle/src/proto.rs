//! The two protocol buffers of a TensorBundle index (`tensorflow/core/protobuf/tensor_bundle.proto`),
//! decoded by hand from the wire format (only the fields a reader needs):
//!
//! ```text
//! BundleHeaderProto  { int32 num_shards = 1; Endianness endianness = 2; VersionDef version = 3; }
//! BundleEntryProto   { DataType dtype = 1; TensorShapeProto shape = 2; int32 shard_id = 3;
//!                      int64 offset = 4; int64 size = 5; fixed32 crc32c = 6;
//!                      repeated TensorSliceProto slices = 7; }
//! TensorShapeProto   { repeated Dim dim = 2 { int64 size = 1; string name = 2; }; bool unknown_rank = 3; }
//! ```

use crate::sstable::read_varint;

/// A protobuf field value, by wire type.
enum Value<'a> {
    Varint(u64),
    /// Skipped: no field of these messages is a fixed64.
    Fixed64,
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// Iterates over (field number, value) of one message; `Err` on malformed input.
fn fields(msg: &[u8]) -> Result<Vec<(u64, Value<'_>)>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < msg.len() {
        let tag = read_varint(msg, &mut pos).ok_or("unreadable field tag")?;
        let (number, wire) = (tag >> 3, tag & 7);
        let value = match wire {
            0 => Value::Varint(read_varint(msg, &mut pos).ok_or("unreadable varint")?),
            1 => {
                msg.get(pos..pos + 8).ok_or("truncated fixed64")?;
                pos += 8;
                Value::Fixed64
            }
            2 => {
                let n = read_varint(msg, &mut pos).ok_or("unreadable length")? as usize;
                let b = pos
                    .checked_add(n)
                    .and_then(|end| msg.get(pos..end))
                    .ok_or("length-delimited field runs past the message")?;
                pos += n;
                Value::Bytes(b)
            }
            5 => {
                let b = msg.get(pos..pos + 4).ok_or("truncated fixed32")?;
                pos += 4;
                Value::Fixed32(u32::from_le_bytes(b.try_into().expect("4 bytes")))
            }
            w => return Err(format!("unsupported wire type {w} (field {number})")),
        };
        out.push((number, value));
    }
    Ok(out)
}

/// `BundleHeaderProto`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub num_shards: u32,
    /// `endianness = 1` (BIG) in the proto.
    pub big_endian: bool,
}

pub(crate) fn decode_header(msg: &[u8]) -> Result<Header, String> {
    let mut h = Header {
        num_shards: 0,
        big_endian: false,
    };
    for (n, v) in fields(msg)? {
        match (n, v) {
            (1, Value::Varint(x)) => h.num_shards = x as u32,
            (2, Value::Varint(x)) => h.big_endian = x == 1,
            _ => {}
        }
    }
    Ok(h)
}

/// `BundleEntryProto`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryProto {
    pub dtype: u32,
    /// Dimension sizes; `None` for an unknown rank.
    pub shape: Option<Vec<i64>>,
    pub shard_id: u32,
    pub offset: u64,
    pub size: u64,
    pub crc32c: u32,
    pub n_slices: usize,
}

fn decode_shape(msg: &[u8]) -> Result<Option<Vec<i64>>, String> {
    let mut dims = Vec::new();
    let mut unknown_rank = false;
    for (n, v) in fields(msg)? {
        match (n, v) {
            (2, Value::Bytes(dim)) => {
                let mut size = 0i64;
                for (dn, dv) in fields(dim)? {
                    if let (1, Value::Varint(x)) = (dn, dv) {
                        size = x as i64;
                    }
                }
                dims.push(size);
            }
            (3, Value::Varint(x)) => unknown_rank = x != 0,
            _ => {}
        }
    }
    Ok((!unknown_rank).then_some(dims))
}

pub(crate) fn decode_entry(msg: &[u8]) -> Result<EntryProto, String> {
    let mut e = EntryProto {
        dtype: 0,
        shape: Some(Vec::new()),
        shard_id: 0,
        offset: 0,
        size: 0,
        crc32c: 0,
        n_slices: 0,
    };
    for (n, v) in fields(msg)? {
        match (n, v) {
            (1, Value::Varint(x)) => e.dtype = x as u32,
            (2, Value::Bytes(b)) => e.shape = decode_shape(b)?,
            (3, Value::Varint(x)) => e.shard_id = x as u32,
            (4, Value::Varint(x)) => e.offset = x,
            (5, Value::Varint(x)) => e.size = x,
            (6, Value::Fixed32(x)) => e.crc32c = x,
            (7, Value::Bytes(_)) => e.n_slices += 1,
            // Unknown fields are skipped, as protobuf does.
            _ => {}
        }
    }
    Ok(e)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    use crate::sstable::tests::put_varint as varint;

    /// Encodes a `BundleEntryProto` (test helper, also used to build synthetic bundles).
    pub(crate) fn encode_entry(dtype: u32, shape: &[i64], offset: u64, size: u64, crc: u32) -> Vec<u8> {
        let mut shape_msg = Vec::new();
        for &d in shape {
            let mut dim = Vec::new();
            varint(&mut dim, 1 << 3);
            varint(&mut dim, d as u64);
            varint(&mut shape_msg, (2 << 3) | 2);
            varint(&mut shape_msg, dim.len() as u64);
            shape_msg.extend(dim);
        }
        let mut out = Vec::new();
        varint(&mut out, 1 << 3);
        varint(&mut out, dtype as u64);
        varint(&mut out, (2 << 3) | 2);
        varint(&mut out, shape_msg.len() as u64);
        out.extend(shape_msg);
        if offset != 0 {
            varint(&mut out, 4 << 3);
            varint(&mut out, offset);
        }
        varint(&mut out, 5 << 3);
        varint(&mut out, size);
        varint(&mut out, (6 << 3) | 5);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Encodes a `BundleHeaderProto` with one shard, little-endian.
    pub(crate) fn encode_header(num_shards: u32) -> Vec<u8> {
        let mut out = Vec::new();
        varint(&mut out, 1 << 3);
        varint(&mut out, num_shards as u64);
        out
    }

    #[test]
    fn entry_round_trip() {
        let msg = encode_entry(1, &[16, 32], 4096, 2048, 0xdead_beef);
        let e = decode_entry(&msg).unwrap();
        assert_eq!(e.dtype, 1);
        assert_eq!(e.shape, Some(vec![16, 32]));
        assert_eq!((e.offset, e.size, e.crc32c, e.shard_id), (4096, 2048, 0xdead_beef, 0));
    }

    #[test]
    fn scalar_and_malformed() {
        let e = decode_entry(&encode_entry(1, &[], 0, 4, 7)).unwrap();
        assert_eq!(e.shape, Some(vec![]));
        assert!(decode_entry(&[0x12, 0x05, 0x00]).is_err(), "length past the end");
        assert_eq!(decode_header(&encode_header(3)).unwrap().num_shards, 3);
    }
}
