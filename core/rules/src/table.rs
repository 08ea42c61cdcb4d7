//! The name table: 64-bit hashes of rule names, quotiented into buckets and
//! bit-packed with their payload. See [`crate::compiled`] for the layout and
//! the false-match bound.

/// Names per bucket, on average, are between this and twice this.
const BUCKET_TARGET: usize = 8;
/// The most directory bits a table has (also on 32-bit targets): enough
/// for 2^31 names at [`BUCKET_TARGET`].
pub(crate) const MAX_DIR_BITS: u32 = 28;
/// Zero bytes after the records, so that every record read is one 16-byte
/// load that stays inside the section.
pub(crate) const RECORD_PAD: usize = 16;
/// The widest record a 16-byte load can hold at any bit offset.
pub(crate) const MAX_RECORD_BITS: u32 = 121;

const K0: u64 = 0xa076_1d64_78bd_642f;
const K1: u64 = 0xe703_7ed1_a0b4_28db;
const K2: u64 = 0x8ebc_6af0_9c88_c6e3;
const K3: u64 = 0x5899_65cc_7537_4cc3;

/// wyhash's folded multiply: the 128-bit product's halves xor-ed.
#[inline(always)]
fn mum(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// The hash state before the first label, for a table's seed.
#[inline]
pub(crate) fn start(seed: u64) -> u64 {
    mum(seed ^ K0, K1)
}

/// Absorbs one label into the chain: the hash of a name is the chain over
/// its labels from the rightmost (TLD) to the leftmost, so the hashes of a
/// name and of all its parents come out of one pass.
#[inline]
pub(crate) fn absorb(state: u64, label: &[u8]) -> u64 {
    let mut s = state;
    let mut chunks = label.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        s = mum(s ^ K0, u64::from_le_bytes(w) ^ K1);
    }
    let rest = chunks.remainder();
    let mut w = [0u8; 8];
    if let Some(dst) = w.get_mut(..rest.len()) {
        dst.copy_from_slice(rest);
    }
    s = mum(s ^ K2, u64::from_le_bytes(w) ^ K3);
    mum(s ^ K1, (label.len() as u64) ^ K2)
}

/// The hash of a reversed key (`com.huami.api`).
pub(crate) fn hash_reversed(seed: u64, key: &[u8]) -> u64 {
    key.split(|&b| b == b'.').fold(start(seed), absorb)
}

/// The shape of a table: how a record's bits are laid out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Bits of the hash that pick the bucket (its top bits).
    pub dir_bits: u32,
    /// Bits of the payload that pick a kind (list and flags, or "shared").
    pub kind_bits: u32,
    /// Bits of the payload that hold the line (or the shared index).
    pub value_bits: u32,
}

impl Shape {
    /// Hash bits stored in each record: all those the bucket does not imply.
    pub fn rem_bits(self) -> u32 {
        64 - self.dir_bits
    }

    pub fn record_bits(self) -> u32 {
        self.rem_bits() + self.kind_bits + self.value_bits
    }

    pub fn buckets(self) -> usize {
        1usize << self.dir_bits
    }

    pub fn bucket(self, hash: u64) -> usize {
        // A shift by 64 would overflow: no directory bits, one bucket.
        hash.checked_shr(64 - self.dir_bits).unwrap_or(0) as usize
    }

    pub fn rem(self, hash: u64) -> u64 {
        hash & mask64(self.rem_bits())
    }

    /// Directory bits for `n` names: about [`BUCKET_TARGET`] names a bucket.
    pub fn dir_bits_for(n: usize) -> u32 {
        let buckets = (n / BUCKET_TARGET).max(1);
        buckets.ilog2().min(MAX_DIR_BITS)
    }
}

fn mask64(bits: u32) -> u64 {
    1u64.checked_shl(bits).map_or(u64::MAX, |v| v - 1)
}

fn mask128(bits: u32) -> u128 {
    1u128.checked_shl(bits).map_or(u128::MAX, |v| v - 1)
}

/// Bits needed to hold values up to `max`.
pub(crate) fn bits_for(max: u64) -> u32 {
    64 - max.leading_zeros()
}

/// Reads record `i` (`bits` wide) from packed records.
#[inline(always)]
pub(crate) fn read_record(records: &[u8], i: usize, bits: u32) -> u128 {
    let bit = i.wrapping_mul(bits as usize);
    let at = bit / 8;
    let Some(Ok(word)) = records
        .get(at..at.wrapping_add(16))
        .map(<[u8; 16]>::try_from)
    else {
        return 0;
    };
    (u128::from_le_bytes(word) >> (bit % 8)) & mask128(bits)
}

/// Writes bit-packed records; `records` must be zeroed and long enough.
pub(crate) fn write_record(records: &mut [u8], i: usize, bits: u32, value: u128) {
    let bit = i * bits as usize;
    let at = bit / 8;
    if let Some(dst) = records.get_mut(at..at + 16) {
        let mut word = [0u8; 16];
        word.copy_from_slice(dst);
        let v = u128::from_le_bytes(word) | (value & mask128(bits)) << (bit % 8);
        dst.copy_from_slice(&v.to_le_bytes());
    }
}

/// Packs a record from its hash remainder and payload.
pub(crate) fn pack_record(shape: Shape, hash: u64, kind: u64, value: u64) -> u128 {
    u128::from(shape.rem(hash))
        | u128::from(kind) << shape.rem_bits()
        | u128::from(value) << (shape.rem_bits() + shape.kind_bits)
}

/// Splits a record's payload into (kind, value).
#[inline(always)]
pub(crate) fn payload(shape: Shape, record: u128) -> (u64, u64) {
    let p = record >> shape.rem_bits();
    (
        (p & mask128(shape.kind_bits)) as u64,
        ((p >> shape.kind_bits) & mask128(shape.value_bits)) as u64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_matches_reversed_key_hash() {
        let seed = 7;
        let mut h = start(seed);
        let mut seen = Vec::new();
        for label in ["com", "huami", "api"] {
            h = absorb(h, label.as_bytes());
            seen.push(h);
        }
        assert_eq!(seen[0], hash_reversed(seed, b"com"));
        assert_eq!(seen[1], hash_reversed(seed, b"com.huami"));
        assert_eq!(seen[2], hash_reversed(seed, b"com.huami.api"));
        assert_ne!(
            hash_reversed(seed, b"com.huami"),
            hash_reversed(seed, b"comhuami")
        );
        assert_ne!(hash_reversed(seed, b"a.bc"), hash_reversed(seed, b"ab.c"));
        assert_ne!(hash_reversed(1, b"com"), hash_reversed(2, b"com"));
    }

    #[test]
    fn records_round_trip() {
        let shape = Shape {
            dir_bits: 3,
            kind_bits: 2,
            value_bits: 21,
        };
        let bits = shape.record_bits();
        let mut buf = vec![0u8; (10 * bits as usize).div_ceil(8) + RECORD_PAD];
        for i in 0..10u64 {
            let h = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            write_record(
                &mut buf,
                i as usize,
                bits,
                pack_record(shape, h, i % 4, i * 1000),
            );
        }
        for i in 0..10u64 {
            let h = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let r = read_record(&buf, i as usize, bits);
            assert_eq!(r as u64 & mask64(shape.rem_bits()), shape.rem(h));
            assert_eq!(payload(shape, r), (i % 4, i * 1000));
        }
    }
}
