//! Deterministic test data.

/// Pseudo-random bytes (xorshift) from `seed`; `runs_every` > 0 makes every other run of that
/// many bytes zeros, so that chunks are cut both by the mask and at the maximum, and compress.
pub(crate) fn bytes(len: usize, seed: u64, runs_every: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            if runs_every > 0 && (i / runs_every) % 2 == 1 {
                0
            } else {
                state as u8
            }
        })
        .collect()
}
