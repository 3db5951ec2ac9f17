//! SHA-256 for the golden digests, from the `sha2` crate: the same value `sha256sum` prints, so
//! a user can check a run's files against `tests/golden/*.sha256` with standard tools.

use sha2::{Digest, Sha256};

/// The SHA-256 of `data` as 64 lower-case hex digits.
pub fn hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// The first four bytes of the SHA-256 of `data`, big-endian.
pub fn first_word(data: &[u8]) -> u32 {
    let d = Sha256::digest(data);
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

#[cfg(test)]
mod tests {
    use super::hex;

    #[test]
    fn fips_180_4_vectors() {
        assert_eq!(hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
