//! CRC-32C (Castagnoli), as LevelDB tables and TensorBundle entries use it, with LevelDB's masking.
//!
//! Table-driven, one byte at a time: the largest checkpoint we read (the released A2, 16 MB) is
//! checked in tens of milliseconds, so a hardware or sliced version would not be worth a dependency.

const POLY_REFLECTED: u32 = 0x82F6_3B78;

const TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY_REFLECTED } else { c >> 1 };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// Continues a CRC-32C over `data` (start with `crc = 0`).
pub fn extend(crc: u32, data: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in data {
        c = TABLE[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// CRC-32C of `data`.
pub fn value(data: &[u8]) -> u32 {
    extend(0, data)
}

const MASK_DELTA: u32 = 0xa282_ead8;

/// LevelDB's masked form of a CRC (stored CRCs are masked so a CRC of data that itself holds CRCs
/// does not degenerate).
pub fn mask(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

/// Inverse of [`mask`].
pub fn unmask(masked: u32) -> u32 {
    masked.wrapping_sub(MASK_DELTA).rotate_left(15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_check_values() {
        // The CRC-32C check value (RFC 3720 / iSCSI) and the LevelDB crc32c_test vectors.
        assert_eq!(value(b"123456789"), 0xE306_9283);
        assert_eq!(value(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(value(&[0xffu8; 32]), 0x62A8_AB43);
        let ascending: Vec<u8> = (0..32).collect();
        assert_eq!(value(&ascending), 0x46DD_794E);
    }

    #[test]
    fn extend_equals_one_pass() {
        assert_eq!(extend(value(b"hello "), b"world"), value(b"hello world"));
    }

    #[test]
    fn mask_round_trips_and_changes_the_value() {
        for c in [0u32, 1, 0xE306_9283, u32::MAX] {
            assert_ne!(mask(c), c);
            assert_eq!(unmask(mask(c)), c);
        }
    }
}
