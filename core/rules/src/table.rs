//! The name table: truncated hashes of rule names in about one bucket per
//! name, bucket sizes in unary, a tag byte per record in its own array, and
//! records bit-packed with their payload. See [`crate::compiled`] for the
//! layout and the false-match bound.

/// The most remainder bits a record's tag holds: the top ones, kept in a
/// byte array of its own that is small enough to stay in cache, so that a
/// probe for an unlisted name almost never reads the records.
pub(crate) const TAG_BITS: u32 = 8;
/// The most directory bits a table has: enough for a bucket per name up to
/// 2^30 names.
pub(crate) const MAX_DIR_BITS: u32 = 30;
/// Buckets per block: the unit a bucket's records are found from.
pub(crate) const BLOCK: usize = 32;
/// Buckets per directory sample: one `u64` holds the records before the
/// group and before each of its blocks after the first.
pub(crate) const GROUP: usize = 128;
/// Bits of each within-group count in a sample.
const DELTA_BITS: u32 = 10;
/// Zero bytes after the tags, so that every tag read is one 8-byte load
/// that stays inside the section.
pub(crate) const TAG_PAD: usize = 8;
/// Zero bytes after the records, so that every record read is one 16-byte
/// load that stays inside the section.
pub(crate) const RECORD_PAD: usize = 16;
/// The widest record a 16-byte load can hold at any bit offset.
pub(crate) const MAX_RECORD_BITS: u32 = 121;

const K0: u64 = 0xa076_1d64_78bd_642f;
const K1: u64 = 0xe703_7ed1_a0b4_28db;
const K2: u64 = 0x8ebc_6af0_9c88_c6e3;
const K3: u64 = 0x5899_65cc_7537_4cc3;
const ONES8: u64 = 0x0101_0101_0101_0101;
const HIGH8: u64 = 0x8080_8080_8080_8080;

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

/// `bytes[at..at + 8]` as a little-endian word; 0 if out of bounds (callers
/// only ask for words inside `bytes`).
#[inline(always)]
fn word(bytes: &[u8], at: usize) -> u64 {
    match bytes.get(at..at.wrapping_add(8)).map(<[u8; 8]>::try_from) {
        Some(Ok(w)) => u64::from_le_bytes(w),
        _ => 0,
    }
}

/// `bytes[from..to]` (at most 8 bytes) as a little-endian word, zero-filled
/// above: one 8-byte load when the slice has 8 bytes around the span.
#[inline(always)]
fn short_word(bytes: &[u8], from: usize, to: usize) -> u64 {
    let len = to.saturating_sub(from);
    let bits = 8 * len as u32;
    if to >= 8 {
        // The 8 bytes ending at `to`, shifted so the span starts at bit 0.
        word(bytes, to - 8).checked_shr(64 - bits).unwrap_or(0)
    } else if from.saturating_add(8) <= bytes.len() {
        word(bytes, from) & 1u64.checked_shl(bits).map_or(u64::MAX, |m| m - 1)
    } else {
        let mut w = [0u8; 8];
        for (d, s) in w.iter_mut().zip(bytes.get(from..to).unwrap_or_default()) {
            *d = *s;
        }
        u64::from_le_bytes(w)
    }
}

/// Absorbs the label `bytes[from..to]` into the chain: the hash of a name is
/// the chain over its labels from the rightmost (TLD) to the leftmost, so the
/// hashes of a name and of all its parents come out of one pass. A label of
/// up to 16 bytes (nearly all of them) costs one multiply and no branch.
#[inline(always)]
pub(crate) fn absorb(state: u64, bytes: &[u8], from: usize, to: usize) -> u64 {
    let len = to.wrapping_sub(from);
    // Most labels: at most 8 bytes, with 8 bytes of the name ending where
    // they do. The same value as below, from one load.
    if len <= 8 && to >= 8 {
        if let Some(Ok(w)) = bytes.get(to - 8..to).map(<[u8; 8]>::try_from) {
            // An empty label (a name with `..`) keeps nothing of the load.
            let a = if len == 0 {
                0
            } else {
                u64::from_le_bytes(w).wrapping_shr(64 - 8 * len as u32)
            };
            return fold(state, a, 0, len);
        }
    }
    absorb_any(state, bytes, from, to)
}

/// [`absorb`] for any label.
#[inline(always)]
fn absorb_any(state: u64, bytes: &[u8], from: usize, to: usize) -> u64 {
    let len = to.saturating_sub(from);
    let mut s = state;
    let mut at = from;
    // Whole 16-byte chunks of a long label, mixed differently from the last
    // piece so that a long label never hashes like two short ones.
    while to.saturating_sub(at) > 16 {
        s = mum(s ^ word(bytes, at + 8) ^ K2, word(bytes, at) ^ K3);
        at += 16;
    }
    let mid = to.min(at + 8);
    let (a, b) = (short_word(bytes, at, mid), short_word(bytes, mid, to));
    fold(s, a, b, len)
}

/// The last step of absorbing a label of `len` bytes: its first 8 bytes
/// (or fewer, zero-filled) in `a`, the next 8 in `b`, folded into the
/// chain with the length, so that labels differing only in trailing zeros
/// hash apart.
#[inline(always)]
fn fold(state: u64, a: u64, b: u64, len: usize) -> u64 {
    mum(state ^ b ^ K0, a ^ K1 ^ (len as u64) << 56)
}

/// The hash of a reversed key (`com.huami.api`).
pub(crate) fn hash_reversed(seed: u64, key: &[u8]) -> u64 {
    let mut h = start(seed);
    let mut from = 0;
    for (i, &b) in key.iter().enumerate() {
        if b == b'.' {
            h = absorb(h, key, from, i);
            from = i + 1;
        }
    }
    absorb(h, key, from, key.len())
}

/// Where the label that ends at `end` starts in `name`: just after the last
/// dot before `end`, eight bytes at a time.
fn label_start(name: &[u8], end: usize) -> usize {
    let mut at = end;
    while at >= 8 {
        let dots = dot_bits(word(name, at - 8));
        if dots != 0 {
            return at - 8 + (63 - dots.leading_zeros() as usize) / 8 + 1;
        }
        at -= 8;
    }
    match name
        .get(..at)
        .and_then(|s| s.iter().rposition(|&b| b == b'.'))
    {
        Some(dot) => dot + 1,
        None => 0,
    }
}

/// A bit per byte of `w`, set for a dot: bit `i` for byte `i`.
#[inline(always)]
fn dot_mask(w: u64) -> u64 {
    // Bit 8i + 7 moves to bit 56 + i.
    (dot_bits(w) >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// Where the label that ends at `to` starts, in a name of at most 64 bytes
/// whose dots are the set bits of `dots`: just after the last dot before
/// `to`.
#[inline(always)]
fn after_last_dot(dots: u64, to: usize) -> usize {
    64 - (dots & mask64(to as u32)).leading_zeros() as usize
}

/// The high bit of each byte of `w` that is a dot.
#[inline(always)]
fn dot_bits(w: u64) -> u64 {
    eq_bytes(w, b'.')
}

/// The high bit of each byte of `w` equal to `b` (exact: no borrow runs
/// from one byte into the next).
#[inline(always)]
fn eq_bytes(w: u64, b: u8) -> u64 {
    let x = w ^ (ONES8 * u64::from(b));
    let nonzero = ((x & !HIGH8).wrapping_add(!HIGH8) | x) & HIGH8;
    !nonzero & HIGH8
}

/// The labels of a name from the last (the TLD) to the first, as byte
/// ranges. Names of up to 64 bytes (nearly all) are scanned for dots once,
/// into a bit per byte; longer ones label by label.
pub(crate) struct Labels<'a> {
    name: &'a [u8],
    /// Bit `i` set when `name[i]` is a dot (names of up to 64 bytes).
    dots: u64,
    /// Where the next label ends; `None` once all are given.
    end: Option<usize>,
}

impl<'a> Labels<'a> {
    #[inline(always)]
    pub(crate) fn new(name: &'a [u8]) -> Self {
        let mut dots = 0;
        if name.len() <= 64 {
            let mut at = 0;
            while at < name.len() {
                let w = short_word(name, at, name.len().min(at + 8));
                // One bit per byte: bit 8i + 7 moves to bit 56 + i.
                dots |= dot_mask(w) << at;
                at += 8;
            }
        }
        Self {
            name,
            dots,
            end: Some(name.len()),
        }
    }
}

impl Iterator for Labels<'_> {
    type Item = (usize, usize);

    #[inline(always)]
    fn next(&mut self) -> Option<(usize, usize)> {
        let to = self.end?;
        let from = if self.name.len() <= 64 {
            after_last_dot(self.dots, to)
        } else {
            label_start(self.name, to)
        };
        self.end = from.checked_sub(1);
        Some((from, to))
    }
}

/// Asks the processor to bring the cache line of `bytes[at]` in, without
/// waiting for it: a hint that never faults and changes nothing else. Out
/// of bounds, it does nothing. On processors other than x86-64 and
/// AArch64 it reads the byte instead, which overlaps misses as well but
/// holds the lookup until the line arrives.
#[inline(always)]
pub(crate) fn prefetch(bytes: &[u8], at: usize) {
    let Some(byte) = bytes.get(at) else {
        return;
    };
    let p: *const u8 = byte;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of every x86-64 processor; a prefetch neither
    // reads nor writes memory as the program sees it, and `p` points into
    // `bytes` anyway.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above: `prfm` is a hint that cannot fault, and `p` points
    // into `bytes`.
    unsafe {
        std::arch::asm!(
            "prfm pldl1keep, [{0}]",
            in(reg) p,
            options(nostack, readonly, preserves_flags)
        );
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    std::hint::black_box(*byte);
    let _ = p;
}

/// The longest name [`ShortHashes`] takes: nearly every name queried.
pub(crate) const SHORT_NAME: usize = 64;
/// A [`ShortHashes`] buffer: 8 zero bytes, the name, zeros; long enough
/// that any 8-byte load at an offset below 128 stays inside it.
const PADDED: usize = 136;

/// The chain hash of a name and of each of its parents, TLD first, each
/// with where that parent starts in the name (0 for the whole name): for names of up to [`SHORT_NAME`]
/// bytes. The name is copied between zero bytes, so that a label of up to
/// 16 bytes is hashed from two loads, with no bounds to check and no branch
/// on where it sits; the same hashes as [`absorb`] gives.
pub(crate) struct ShortHashes<'a> {
    buf: &'a [u8; PADDED],
    /// Bit `i` set when byte `i` of the name is a dot.
    dots: u64,
    /// Where the next label ends; `None` once all are given.
    end: Option<usize>,
    state: u64,
}

/// The buffer a [`ShortHashes`] copies its name into, on the caller's
/// stack so that it is never moved.
pub(crate) struct Padded([u8; PADDED]);

impl Padded {
    pub(crate) fn new() -> Self {
        Self([0; PADDED])
    }
}

impl<'a> ShortHashes<'a> {
    /// `None` for a name longer than [`SHORT_NAME`] bytes.
    #[inline(always)]
    pub(crate) fn new(buf: &'a mut Padded, name: &[u8], seed: u64) -> Option<Self> {
        if name.len() > SHORT_NAME {
            return None;
        }
        buf.0.get_mut(8..8 + name.len())?.copy_from_slice(name);
        let buf = &buf.0;
        let mut dots = 0u64;
        let mut at = 0;
        while at < name.len() {
            dots |= dot_mask(word(buf, (at + 8) & 127)) << (at & 63);
            at += 8;
        }
        Some(Self {
            buf,
            dots,
            end: Some(name.len()),
            state: start(seed),
        })
    }

    /// The 8 bytes of the name that end at `to` (zeros before its start).
    #[inline(always)]
    fn ending_at(&self, to: usize) -> u64 {
        word(self.buf, to & 127)
    }
}

impl Iterator for ShortHashes<'_> {
    type Item = (u64, usize);

    #[inline(always)]
    fn next(&mut self) -> Option<(u64, usize)> {
        let to = self.end?;
        let from = after_last_dot(self.dots, to);
        self.end = from.checked_sub(1);
        let len = to - from;
        let last = self.ending_at(to);
        // As `absorb`: a label of at most 8 bytes is one word (`b` empty);
        // one of up to 16, the first 8 bytes and the rest.
        self.state = if len <= 8 {
            let a = last.checked_shr(64 - 8 * len as u32).unwrap_or(0);
            fold(self.state, a, 0, len)
        } else if len <= 16 {
            let a = self.ending_at(from + 8);
            let b = last >> (128 - 8 * len as u32);
            fold(self.state, a, b, len)
        } else {
            absorb_any(self.state, self.buf, from + 8, to + 8)
        };
        Some((self.state, from))
    }
}

/// [`ShortHashes`] for a name of any length.
pub(crate) struct LongHashes<'a> {
    name: &'a [u8],
    labels: Labels<'a>,
    state: u64,
}

impl<'a> LongHashes<'a> {
    pub(crate) fn new(name: &'a [u8], seed: u64) -> Self {
        Self {
            name,
            labels: Labels::new(name),
            state: start(seed),
        }
    }
}

impl Iterator for LongHashes<'_> {
    type Item = (u64, usize);

    fn next(&mut self) -> Option<(u64, usize)> {
        let (from, to) = self.labels.next()?;
        self.state = absorb(self.state, self.name, from, to);
        Some((self.state, from))
    }
}

/// The shape of a table: how a hash splits into bucket and stored bits, and
/// how a record's bits are laid out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Bits of the hash that pick the bucket (its top bits).
    pub dir_bits: u32,
    /// Bits of the hash below those: the tag's, then the record's.
    pub rem_bits: u32,
    /// Bits of the payload that pick a kind (list and flags, or "shared").
    pub kind_bits: u32,
    /// Bits of the payload that hold the line (or the shared index).
    pub value_bits: u32,
}

impl Shape {
    /// The hash bits a table tells apart: bucket and remainder.
    pub fn hash_bits(self) -> u32 {
        self.dir_bits + self.rem_bits
    }

    /// Remainder bits in the tag: the top [`TAG_BITS`] of them.
    pub fn tag_bits(self) -> u32 {
        self.rem_bits.min(TAG_BITS)
    }

    /// Remainder bits in the record: those below the tag's.
    pub fn stored_bits(self) -> u32 {
        self.rem_bits - self.tag_bits()
    }

    pub fn record_bits(self) -> u32 {
        self.stored_bits() + self.kind_bits + self.value_bits
    }

    pub fn buckets(self) -> usize {
        1usize << self.dir_bits
    }

    /// Directory samples: one per [`GROUP`] buckets.
    pub fn samples(self) -> usize {
        self.buckets().div_ceil(GROUP)
    }

    /// Blocks of [`BLOCK`] buckets.
    pub fn blocks(self) -> usize {
        self.buckets().div_ceil(BLOCK)
    }

    /// Whether the shifts of [`Cuts`] stay below 64: 1 to 64 hash bits
    /// kept, 1 to 63 of them remainder.
    pub fn is_valid(self) -> bool {
        (1..=64).contains(&self.hash_bits()) && (1..64).contains(&self.rem_bits)
    }

    /// Directory bits for `n` names: at least one bucket per name, at most
    /// two, so that a bucket holds one name on average or fewer.
    pub fn dir_bits_for(n: usize) -> u32 {
        n.max(1)
            .next_power_of_two()
            .trailing_zeros()
            .min(MAX_DIR_BITS)
    }
}

/// A [`Shape`]'s shifts and masks, worked out once when a table is loaded
/// rather than in every lookup.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Cuts {
    /// `64 - hash_bits`: what a hash is shifted by to keep its kept bits.
    key_shift: u32,
    rem_bits: u32,
    rem_mask: u64,
    stored_bits: u32,
    stored_mask: u64,
    kind_bits: u32,
    kind_mask: u128,
    value_mask: u128,
    record_bits: u32,
    record_mask: u128,
}

impl Cuts {
    /// The cuts of a valid shape ([`Shape::is_valid`]).
    pub fn new(shape: Shape) -> Self {
        Self {
            key_shift: 64 - shape.hash_bits(),
            rem_bits: shape.rem_bits,
            rem_mask: mask64(shape.rem_bits),
            stored_bits: shape.stored_bits(),
            stored_mask: mask64(shape.stored_bits()),
            kind_bits: shape.kind_bits,
            kind_mask: mask128(shape.kind_bits),
            value_mask: mask128(shape.value_bits),
            record_bits: shape.record_bits(),
            record_mask: mask128(shape.record_bits()),
        }
    }

    /// The top [`Shape::hash_bits`] bits of `hash`: what the table keeps,
    /// bucket and remainder. Two names whose keys are equal cannot be told
    /// apart.
    #[inline(always)]
    pub fn key(&self, hash: u64) -> u64 {
        hash.wrapping_shr(self.key_shift)
    }

    /// The bucket of `hash`: the top [`Shape::dir_bits`] of its key.
    #[inline(always)]
    pub fn bucket(&self, hash: u64) -> usize {
        self.key(hash).wrapping_shr(self.rem_bits) as usize
    }

    /// The rest of the key, the remainder, split in two: the tag (its top
    /// [`Shape::tag_bits`]), and the bits the record stores.
    #[inline(always)]
    pub fn tag_and_stored(&self, hash: u64) -> (u8, u64) {
        let rem = hash.wrapping_shr(self.key_shift) & self.rem_mask;
        (
            rem.wrapping_shr(self.stored_bits) as u8,
            rem & self.stored_mask,
        )
    }

    /// The byte where record `i` of packed records begins.
    #[inline(always)]
    pub fn record_byte(&self, i: usize) -> usize {
        i.wrapping_mul(self.record_bits as usize) / 8
    }

    /// Record `i` of packed records.
    #[inline(always)]
    pub fn record(&self, records: &[u8], i: usize) -> u128 {
        let bit = i.wrapping_mul(self.record_bits as usize);
        let at = bit / 8;
        let Some(Ok(word)) = records
            .get(at..at.wrapping_add(16))
            .map(<[u8; 16]>::try_from)
        else {
            return 0;
        };
        (u128::from_le_bytes(word) >> (bit % 8)) & self.record_mask
    }

    /// A record for `hash` and its payload (kind and value), as
    /// [`Cuts::record`] reads it back.
    pub fn pack(&self, hash: u64, kind: u64, value: u64) -> u128 {
        let (_, stored) = self.tag_and_stored(hash);
        u128::from(stored)
            | u128::from(kind) << self.stored_bits
            | u128::from(value) << (self.stored_bits + self.kind_bits)
    }

    /// The remainder bits a record stores.
    #[inline(always)]
    pub fn stored(&self, record: u128) -> u64 {
        record as u64 & self.stored_mask
    }

    /// A record's payload: (kind, value).
    #[inline(always)]
    pub fn payload(&self, record: u128) -> (u64, u64) {
        let p = record.wrapping_shr(self.stored_bits);
        (
            (p & self.kind_mask) as u64,
            (p.wrapping_shr(self.kind_bits) & self.value_mask) as u64,
        )
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

/// The ones in each byte of `w` and all bytes below it, per byte: the top
/// byte is the count of ones in `w` (at most 64, so bytes never carry).
/// Plain arithmetic: `count_ones` is a call-free but slower sequence on
/// x86-64 targets built without `popcnt`.
#[inline(always)]
fn running_ones(w: u64) -> u64 {
    let mut s = w - ((w >> 1) & 0x5555_5555_5555_5555);
    s = (s & 0x3333_3333_3333_3333) + ((s >> 2) & 0x3333_3333_3333_3333);
    s = (s + (s >> 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    s.wrapping_mul(ONES8)
}

/// `SELECT_IN_BYTE[b * 8 + k]`: position of the `k`-th (from 0) set bit of
/// the byte `b`, 8 when there is none.
static SELECT_IN_BYTE: [u8; 2048] = {
    let mut t = [8u8; 2048];
    let mut b = 0;
    while b < 256 {
        let mut k = 0;
        let mut bit = 0;
        while bit < 8 {
            if b >> bit & 1 == 1 {
                t[b * 8 + k] = bit as u8;
                k += 1;
            }
            bit += 1;
        }
        b += 1;
    }
    t
};

/// Position of the `k`-th (from 0) set bit of `w`, given
/// `running_ones(w)`; `k` must be below the count of ones.
#[inline(always)]
fn select(w: u64, sums: u64, k: u64) -> usize {
    // Bytes whose running count is at most `k` all come before the one
    // holding the `k`-th one.
    let before = (((k * ONES8) | HIGH8).wrapping_sub(sums) & HIGH8) >> 7;
    let byte = (before.wrapping_mul(ONES8) >> 56) * 8;
    let seen = (sums << 8).checked_shr(byte as u32).unwrap_or(0) & 0xff;
    let b = (w.checked_shr(byte as u32).unwrap_or(0) & 0xff) as usize;
    let bit = SELECT_IN_BYTE
        .get(b * 8 + k.wrapping_sub(seen) as usize)
        .copied()
        .unwrap_or(8);
    byte as usize + usize::from(bit)
}

/// The 64 bits of a little-endian bit string starting at bit `at`.
#[inline(always)]
fn bits_at(words: &[u8], at: usize) -> u64 {
    let (w, shift) = (at / 64 * 8, (at % 64) as u32);
    let lo = word(words, w) >> shift;
    // `checked_shl` is `None` for shift 0: the next word adds nothing.
    lo | word(words, w + 8).checked_shl(64 - shift).unwrap_or(0)
}

/// Records before block `block`, from the directory's samples: a
/// little-endian `u64` per [`GROUP`] buckets holds the records before the
/// group (bits 0-31) and, in three [`DELTA_BITS`]-bit fields from bit 32,
/// the records in the group before its second, third and fourth block.
#[inline(always)]
pub(crate) fn records_before_block(samples: &[u8], block: usize) -> usize {
    let s = word(samples, block / (GROUP / BLOCK) * 8);
    // With a zero field put in front for the group's first block.
    let deltas = (s >> 32) << DELTA_BITS;
    let delta = (deltas >> (DELTA_BITS as usize * (block % (GROUP / BLOCK)))) & mask64(DELTA_BITS);
    s as u32 as usize + delta as usize
}

/// A sample from the records before its group and its blocks: `None` when
/// a block's count does not fit its field.
fn sample(before: &[usize]) -> Option<u64> {
    let (&base, rest) = before.split_first()?;
    let mut s = u64::from(u32::try_from(base).ok()?);
    for (i, &b) in rest.iter().enumerate() {
        let delta = b.checked_sub(base)? as u64;
        if delta > mask64(DELTA_BITS) {
            return None;
        }
        s |= delta << (32 + DELTA_BITS as usize * i);
    }
    Some(s)
}

/// Which of the first eight records from `start` (at most `len`) have tag
/// `tag`: the high bit of byte `i` for record `start + i`. `tags` ends with
/// [`TAG_PAD`] zero bytes.
#[inline(always)]
pub(crate) fn tag_matches(tags: &[u8], start: usize, len: usize, tag: u8) -> u64 {
    eq_bytes(word(tags, start), tag) & mask64(8 * len.min(8) as u32)
}

/// Where the sizes of block `block`, which `first` records precede, begin:
/// after `block * BLOCK` ones (ends of buckets) and `first` zeros (records).
#[inline(always)]
pub(crate) fn block_sizes(block: usize, first: usize) -> usize {
    block * BLOCK + first
}

/// The records of bucket `bucket`, whose block `first` records precede:
/// `sizes` holds each bucket's size in unary (a 0 per record, then a 1), in
/// little-endian 64-bit words.
#[inline(always)]
pub(crate) fn bucket_records(sizes: &[u8], bucket: usize, first: usize) -> std::ops::Range<usize> {
    // With a one put in front of its block's sizes, bucket `j` of the block
    // begins right after the `j`-th one.
    let begin = block_sizes(bucket / BLOCK, first);
    let j = (bucket % BLOCK) as u64;
    // 121 bits or more from `begin` in one load; what lies past the section
    // reads as zeros, which never count as the end of a bucket.
    let window = match sizes
        .get(begin / 8..begin / 8 + 16)
        .map(<[u8; 16]>::try_from)
    {
        Some(Ok(b)) => u128::from_le_bytes(b) >> (begin % 8),
        _ => return slow_bucket_records(sizes, begin, bucket, j),
    };
    // With the one put in front, the first 64 bits hold the start of
    // nearly every bucket; the rest (a block's last buckets when it is
    // fuller than usual) take the word-at-a-time path.
    let a = (window as u64) << 1 | 1;
    let sums = running_ones(a);
    if j >= sums >> 56 {
        return slow_bucket_records(sizes, begin, bucket, j);
    }
    // `start` counts from `begin`; the records run to the next one.
    let start = select(a, sums, j) & 63;
    let rest = (window >> start) as u64;
    if rest == 0 {
        return slow_bucket_records(sizes, begin, bucket, j);
    }
    let lo = (begin + start).saturating_sub(bucket);
    lo..lo + rest.trailing_zeros() as usize
}

/// [`bucket_records`] one word at a time: for blocks or buckets of unusually
/// many records, and at the end of the sizes.
#[cold]
fn slow_bucket_records(
    sizes: &[u8],
    begin: usize,
    bucket: usize,
    j: u64,
) -> std::ops::Range<usize> {
    let start = if j == 0 {
        begin
    } else {
        skip_ends(sizes, begin, j - 1)
    };
    let lo = start.saturating_sub(bucket);
    lo..lo + count_zeros(sizes, start)
}

/// Where the bit after the `skip`-th one (from 0) at or after `at` is: the
/// slow path of [`bucket_records`], for blocks of unusually many records.
#[cold]
fn skip_ends(sizes: &[u8], at: usize, mut skip: u64) -> usize {
    let mut at = at;
    while at < sizes.len() * 8 {
        let w = bits_at(sizes, at);
        let sums = running_ones(w);
        if skip < sums >> 56 {
            return at + select(w, sums, skip) + 1;
        }
        skip -= sums >> 56;
        at += 64;
    }
    at
}

/// The zeros from bit `at` to the next one: the slow path of
/// [`bucket_records`], for a bucket of 64 records or more.
#[cold]
fn count_zeros(sizes: &[u8], at: usize) -> usize {
    let mut len = 0;
    while at + len < sizes.len() * 8 {
        let zeros = bits_at(sizes, at + len).trailing_zeros() as usize;
        len += zeros;
        if zeros < 64 {
            break;
        }
    }
    len
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

/// The directory of a table whose records, in order, fall in `buckets`
/// (each below `shape.buckets()`, ascending): the samples and the unary
/// sizes, as written to the file. `None` when a group's counts do not fit
/// its sample (never for hashes not chosen to do so: a group of 128 buckets
/// holds about 128 records; the builder then tries another seed).
pub(crate) fn directory(
    shape: Shape,
    buckets: impl ExactSizeIterator<Item = usize>,
) -> Option<(Vec<u64>, Vec<u64>)> {
    let total = shape.buckets() + buckets.len();
    // Every bit a one, then a zero for each record: record `i` of bucket `b`
    // has `b` bucket ends and `i` records before it.
    let mut sizes = vec![u64::MAX; total.div_ceil(64)];
    if let Some(last) = sizes.last_mut() {
        *last = mask64(((total + 63) % 64 + 1) as u32);
    }
    // Records in each block, then (below) before each block.
    let mut before = vec![0usize; shape.blocks() + 1];
    for (i, b) in buckets.enumerate() {
        let bit = b + i;
        if let Some(w) = sizes.get_mut(bit / 64) {
            *w &= !(1 << (bit % 64));
        }
        if let Some(s) = before.get_mut(b / BLOCK + 1) {
            *s += 1;
        }
    }
    let mut sum = 0;
    for s in &mut before {
        sum += *s;
        *s = sum;
    }
    before.pop();
    let samples = before
        .chunks(GROUP / BLOCK)
        .map(sample)
        .collect::<Option<Vec<u64>>>()?;
    Some((samples, sizes))
}

/// Whether a directory read from a file is one that [`directory`] writes
/// for `count` records; lookups rely on it.
pub(crate) fn check_directory(shape: Shape, count: usize, samples: &[u8], sizes: &[u8]) -> bool {
    let Some(total) = shape.buckets().checked_add(count) else {
        return false;
    };
    if samples.len() != shape.samples() * 8 || sizes.len() != total.div_ceil(64) * 8 {
        return false;
    }
    // What each sample holds, field by field: reserved bits and the fields
    // of blocks past the last are zero, and the first block has no records
    // before it.
    let blocks = shape.blocks();
    let per_group = GROUP / BLOCK;
    for (g, s) in samples.chunks_exact(8).enumerate() {
        let s = word(s, 0);
        let used = blocks.saturating_sub(g * per_group).min(per_group);
        let used_bits = 32 + DELTA_BITS * (used as u32).saturating_sub(1);
        if s & !mask64(used_bits) != 0 {
            return false;
        }
    }
    if blocks > 0 && records_before_block(samples, 0) != 0 {
        return false;
    }
    let (mut ones, mut zeros) = (0usize, 0usize);
    for (i, w) in sizes.chunks_exact(8).enumerate() {
        let w = word(w, 0);
        let valid = (total - i * 64).min(64) as u32;
        if w & !mask64(valid) != 0 {
            return false;
        }
        let sums = running_ones(w);
        let n = (sums >> 56) as usize;
        // The records before each block are the zeros before the one that
        // ends its previous block's last bucket.
        let mut m = ones + (BLOCK - 1) - ones % BLOCK;
        while m < ones + n {
            let block = (m + 1) / BLOCK;
            if block < blocks {
                let at = i * 64 + select(w, sums, (m - ones) as u64);
                if records_before_block(samples, block) != at - m {
                    return false;
                }
            }
            m += BLOCK;
        }
        ones += n;
        zeros += valid as usize - n;
    }
    // The last bit ends the last bucket.
    let last_is_one =
        total == 0 || (word(sizes, (total - 1) / 64 * 8) >> ((total - 1) % 64)) & 1 == 1;
    ones == shape.buckets() && zeros == count && last_is_one
}

#[cfg(test)]
mod tests {
    use super::*;

    fn absorb_slice(h: u64, label: &[u8]) -> u64 {
        absorb(h, label, 0, label.len())
    }

    #[test]
    fn chain_matches_reversed_key_hash() {
        let seed = 7;
        let mut h = start(seed);
        let mut seen = Vec::new();
        for label in ["com", "huami", "api"] {
            h = absorb_slice(h, label.as_bytes());
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
        // A long label is not two short ones.
        let long = "abcdefghijklmnopqrstuvwxyz012345";
        assert_ne!(
            hash_reversed(seed, long.as_bytes()),
            hash_reversed(seed, b"abcdefghijklmnop.qrstuvwxyz012345")
        );
    }

    #[test]
    fn a_label_hashes_alike_wherever_it_sits() {
        // The loads differ with the bytes around a label (8-byte windows
        // before or after it, or a byte copy in short names): the hash must not.
        let seed = 3;
        for len in 0..40 {
            let label: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            let alone = absorb_slice(start(seed), &label);
            for pad in 0..20 {
                let mut buf = vec![b'x'; pad];
                buf.extend_from_slice(&label);
                buf.extend(std::iter::repeat_n(b'y', pad));
                assert_eq!(
                    absorb(start(seed), &buf, pad, pad + len as usize),
                    alone,
                    "len {len} pad {pad}"
                );
            }
        }
    }

    #[test]
    fn short_names_hash_as_long_ones_do() {
        // Every name of up to 64 bytes from an alphabet heavy in dots, with
        // labels of every length from empty to over 16 bytes.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut names: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b".".to_vec(),
            b"..".to_vec(),
            b"com".to_vec(),
            b"www.example.com".to_vec(),
            b".leading.dot".to_vec(),
            b"trailing.dot.".to_vec(),
            b"abcdefghijklmnopq.abcdefghijklmnop.abcdefgh.abcdefghi".to_vec(),
            vec![b'x'; 64],
            [b"a.".repeat(31), b"bc".to_vec()].concat(),
        ];
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 65) as usize;
            let dots = 2 + (state >> 8) % 20;
            let name = (0..len)
                .map(|i| {
                    let r = state.rotate_left(i as u32 * 7) ^ i as u64;
                    if r % dots == 0 {
                        b'.'
                    } else {
                        b'a' + (r >> 8) as u8 % 26
                    }
                })
                .collect();
            names.push(name);
        }
        for name in &names {
            assert!(name.len() <= SHORT_NAME);
            let mut buf = Padded::new();
            let short: Vec<(u64, usize)> = ShortHashes::new(&mut buf, name, 9)
                .map(Iterator::collect)
                .unwrap_or_default();
            let long: Vec<(u64, usize)> = LongHashes::new(name, 9).collect();
            assert_eq!(short, long, "{:?}", String::from_utf8_lossy(name));
            assert_eq!(short.last().map(|h| h.1), Some(0));
            // Each hash is the one of the suffix it says it starts.
            for &(h, from) in &short {
                let suffix = &name[from..];
                let mut key = Vec::new();
                for (i, label) in suffix.rsplit(|&b| b == b'.').enumerate() {
                    if i > 0 {
                        key.push(b'.');
                    }
                    key.extend_from_slice(label);
                }
                assert_eq!(h, hash_reversed(9, &key));
            }
        }
        let mut buf = Padded::new();
        assert!(ShortHashes::new(&mut buf, &[b'a'; SHORT_NAME + 1], 9).is_none());
    }

    #[test]
    fn labels_are_split_at_every_dot() {
        let long = format!("{}.{}.com", "a".repeat(40), "b.".repeat(20));
        let names = [
            "",
            "a",
            ".",
            "com",
            "a.b",
            "www.example.com",
            "x..y",
            "abcdefghij.klmnopqrstuvwxyz.com.",
            &long,
            &long[..64],
            &long[..65],
        ];
        for name in names {
            let b = name.as_bytes();
            for end in 0..=b.len() {
                let want = b[..end]
                    .iter()
                    .rposition(|&c| c == b'.')
                    .map_or(0, |d| d + 1);
                assert_eq!(label_start(b, end), want, "{name:?} {end}");
            }
            let mut want: Vec<(usize, usize)> = Vec::new();
            let mut from = 0;
            for (i, &c) in b.iter().enumerate() {
                if c == b'.' {
                    want.push((from, i));
                    from = i + 1;
                }
            }
            want.push((from, b.len()));
            want.reverse();
            assert_eq!(Labels::new(b).collect::<Vec<_>>(), want, "{name:?}");
        }
    }

    #[test]
    fn select_finds_each_set_bit() {
        for w in [
            1u64,
            0x8000_0000_0000_0001,
            u64::MAX,
            0xdead_beef_0bad_f00d,
            0x0100_0000,
        ] {
            let sums = running_ones(w);
            assert_eq!(sums >> 56, u64::from(w.count_ones()));
            let mut k = 0;
            for bit in 0..64 {
                if w >> bit & 1 == 1 {
                    assert_eq!(select(w, sums, k), bit, "{w:x} {k}");
                    k += 1;
                }
            }
        }
    }

    fn directory_bytes(shape: Shape, buckets: &[usize]) -> (Vec<u8>, Vec<u8>) {
        let (samples, sizes) = directory(shape, buckets.iter().copied()).unwrap();
        assert_eq!(samples.len(), shape.samples());
        (
            samples.iter().flat_map(|s| s.to_le_bytes()).collect(),
            sizes.iter().flat_map(|s| s.to_le_bytes()).collect(),
        )
    }

    #[test]
    fn directory_gives_each_bucket_its_records() {
        for dir_bits in [0, 3, 5, 8, 9] {
            let shape = Shape {
                dir_bits,
                rem_bits: 10,
                kind_bits: 0,
                value_bits: 4,
            };
            let n = shape.buckets();
            // Bucket b holds (b * 7) % 5 records, one bucket 70 (past a word).
            let sizes_of = |b: usize| if b == n / 2 + 2 { 70 } else { (b * 7) % 5 };
            let buckets: Vec<usize> = (0..n)
                .flat_map(|b| std::iter::repeat_n(b, sizes_of(b)))
                .collect();
            let (samples, sizes) = directory_bytes(shape, &buckets);
            assert!(check_directory(shape, buckets.len(), &samples, &sizes));
            let mut first = 0;
            for b in 0..n {
                let before = records_before_block(&samples, b / BLOCK);
                let r = bucket_records(&sizes, b, before);
                assert_eq!(r, first..first + sizes_of(b), "{dir_bits} bucket {b}");
                first = r.end;
            }
            assert_eq!(first, buckets.len());
        }
    }

    #[test]
    fn directory_checks_refuse_any_changed_bit() {
        let shape = Shape {
            dir_bits: 9,
            rem_bits: 10,
            kind_bits: 0,
            value_bits: 4,
        };
        let buckets: Vec<usize> = (0..600).map(|i| i * 512 / 600).collect();
        let (samples, sizes) = directory_bytes(shape, &buckets);
        assert!(check_directory(shape, 600, &samples, &sizes));
        // Each bytes with one bit flipped, every bit in turn.
        let flipped = |bytes: &[u8]| {
            let bytes = bytes.to_vec();
            (0..bytes.len() * 8).map(move |bit| {
                let mut bad = bytes.clone();
                bad[bit / 8] ^= 1 << (bit % 8);
                (bit, bad)
            })
        };
        for (bit, bad) in flipped(&samples) {
            assert!(
                !check_directory(shape, 600, &bad, &sizes),
                "samples bit {bit}"
            );
        }
        for (bit, bad) in flipped(&sizes) {
            assert!(
                !check_directory(shape, 600, &samples, &bad),
                "sizes bit {bit}"
            );
        }
    }

    #[test]
    fn a_group_too_full_for_its_sample_is_refused() {
        let shape = Shape {
            dir_bits: 8,
            ..Shape::default()
        };
        // 1,024 records in the first block: the second block's count
        // does not fit ten bits.
        assert!(directory(shape, std::iter::repeat_n(0, 1024)).is_none());
        assert!(directory(shape, std::iter::repeat_n(0, 1023)).is_some());
    }

    #[test]
    fn tags_match_within_the_bucket_only() {
        let tags = [7u8, 3, 7, 7, 9, 7, 7, 7, 7, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(tag_matches(&tags, 0, 3, 7), 0x80_0080);
        assert_eq!(tag_matches(&tags, 1, 1, 7), 0);
        assert_eq!(tag_matches(&tags, 2, 8, 7).count_ones(), 6);
        assert_eq!(tag_matches(&tags, 9, 1, 0), 0x80);
    }

    #[test]
    fn records_round_trip() {
        let shape = Shape {
            dir_bits: 3,
            rem_bits: 29,
            kind_bits: 2,
            value_bits: 21,
        };
        let bits = shape.record_bits();
        assert_eq!(bits, 21 + 2 + 21);
        let cuts = Cuts::new(shape);
        let mut buf = vec![0u8; (10 * bits as usize).div_ceil(8) + RECORD_PAD];
        for i in 0..10u64 {
            let h = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            write_record(&mut buf, i as usize, bits, cuts.pack(h, i % 4, i * 1000));
        }
        for i in 0..10u64 {
            let h = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let r = cuts.record(&buf, i as usize);
            // The top 32 bits kept: 3 of bucket, then 8 of tag and 21
            // stored.
            let (tag, stored) = cuts.tag_and_stored(h);
            assert_eq!(cuts.key(h), h >> 32);
            assert_eq!(cuts.bucket(h), (h >> 61) as usize);
            assert_eq!(u64::from(tag), h >> 53 & 0xff);
            assert_eq!(stored, h >> 32 & 0x1f_ffff);
            assert_eq!(cuts.stored(r), stored);
            assert_eq!(cuts.payload(r), (i % 4, i * 1000));
        }
    }
}
