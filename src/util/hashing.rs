//! A hasher for keys that are random already.

/// A hasher for keys that are already uniformly random and not chosen by clients: UUIDs
/// this crate generated, SHA-256 digests (of keys only the host stores). It folds their
/// bits instead of running SipHash.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct UniformHasher(u64);

impl std::hash::Hasher for UniformHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(17) ^ u64::from_le_bytes(word);
        }
    }

    fn write_u128(&mut self, value: u128) {
        self.0 = self.0.rotate_left(17) ^ (value as u64) ^ ((value >> 64) as u64);
    }

    fn write_usize(&mut self, _length: usize) {
        // Slice lengths carry no entropy here: every key of a map has the same length.
    }
}

/// Builds [`UniformHasher`]s.
pub(crate) type Uniform = std::hash::BuildHasherDefault<UniformHasher>;
