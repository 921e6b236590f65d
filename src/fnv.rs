//! FNV-1a, 64 bits: a fast hash of short keys (metric names, metric keys, the default physical
//! id of a custom resource), not for anything an attacker chooses the collisions of.

/// The FNV-1a offset basis.
const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;

/// The FNV-1a prime.
const PRIME: u64 = 0x0100_0000_01b3;

/// An FNV-1a hash being computed: [`write`](Self::write) bytes, then [`finish`](Self::finish).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv1a(u64);

impl Fnv1a {
    /// A hash of nothing yet.
    pub(crate) const fn new() -> Self {
        Self(OFFSET_BASIS)
    }

    /// A hash of nothing yet, from the offset basis mixed (XOR) with `seed`: `seeded(0)` is
    /// [`new`](Self::new).
    pub(crate) const fn seeded(seed: u64) -> Self {
        Self(OFFSET_BASIS ^ seed)
    }

    /// Folds in `bytes`.
    #[inline]
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u8(byte);
        }
    }

    /// Folds in one byte.
    #[inline]
    pub(crate) fn write_u8(&mut self, byte: u8) {
        self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(PRIME);
    }

    /// The hash of everything written.
    #[inline]
    pub(crate) const fn finish(self) -> u64 {
        self.0
    }
}

impl Default for Fnv1a {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(bytes: &[u8]) -> u64 {
        let mut fnv = Fnv1a::new();
        fnv.write(bytes);
        fnv.finish()
    }

    #[test]
    fn matches_the_published_fnv1a_64_values() {
        assert_eq!(hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn writing_in_pieces_or_by_byte_is_writing_at_once() {
        let mut pieces = Fnv1a::new();
        pieces.write(b"foo");
        pieces.write(b"");
        for &byte in b"bar" {
            pieces.write_u8(byte);
        }
        assert_eq!(pieces.finish(), hash(b"foobar"));
    }

    #[test]
    fn a_zero_seed_is_no_seed() {
        let mut seeded = Fnv1a::seeded(0);
        seeded.write(b"foobar");
        assert_eq!(seeded.finish(), hash(b"foobar"));
        let mut other = Fnv1a::seeded(1);
        other.write(b"foobar");
        assert_ne!(other.finish(), hash(b"foobar"));
    }
}
