//! XXH64, the 64-bit xxHash that Envoy uses for every consistent-hashing decision
//! (`HashUtil::xxHash64` in `source/common/common/hash.h`, a thin wrapper over the reference
//! `XXH64` of the xxHash library): ring positions (`ring_hash_lb.cc`), Maglev offsets and skips
//! (`maglev_lb.cc`) and the request hash of a header, cookie, query parameter or source address
//! (`source/common/http/hash_policy.cc`).
//!
//! Written here from the published algorithm (Yann Collet's XXH64 specification) rather than taken
//! from a crate: it is 60 lines of integer arithmetic, the same bits on every platform, and the
//! tests below pin it to the reference vectors and to the ring positions Envoy's own tests print.

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

#[inline]
fn read_u64(b: &[u8]) -> u64 {
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

#[inline]
fn read_u32(b: &[u8]) -> u64 {
    u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

#[inline]
fn round(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(P2)).rotate_left(31).wrapping_mul(P1)
}

#[inline]
fn merge_round(acc: u64, val: u64) -> u64 {
    (acc ^ round(0, val)).wrapping_mul(P1).wrapping_add(P4)
}

/// `XXH64(input, seed)`.
pub fn xxhash64(input: &[u8], seed: u64) -> u64 {
    let len = input.len();
    let mut rest = input;
    let mut h = if len >= 32 {
        let mut v1 = seed.wrapping_add(P1).wrapping_add(P2);
        let mut v2 = seed.wrapping_add(P2);
        let mut v3 = seed;
        let mut v4 = seed.wrapping_sub(P1);
        while rest.len() >= 32 {
            v1 = round(v1, read_u64(&rest[0..]));
            v2 = round(v2, read_u64(&rest[8..]));
            v3 = round(v3, read_u64(&rest[16..]));
            v4 = round(v4, read_u64(&rest[24..]));
            rest = &rest[32..];
        }
        let mut h = v1
            .rotate_left(1)
            .wrapping_add(v2.rotate_left(7))
            .wrapping_add(v3.rotate_left(12))
            .wrapping_add(v4.rotate_left(18));
        h = merge_round(h, v1);
        h = merge_round(h, v2);
        h = merge_round(h, v3);
        merge_round(h, v4)
    } else {
        seed.wrapping_add(P5)
    };
    h = h.wrapping_add(len as u64);
    while rest.len() >= 8 {
        h ^= round(0, read_u64(rest));
        h = h.rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
        rest = &rest[8..];
    }
    if rest.len() >= 4 {
        h ^= read_u32(rest).wrapping_mul(P1);
        h = h.rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
        rest = &rest[4..];
    }
    for &b in rest {
        h ^= u64::from(b).wrapping_mul(P5);
        h = h.rotate_left(11).wrapping_mul(P1);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^ (h >> 32)
}

#[cfg(test)]
mod tests {
    use super::xxhash64;

    /// The reference vectors of the xxHash distribution and of python-xxhash's documentation
    /// (one input of each length class: empty, under 4, under 8, 32 bytes and more).
    #[test]
    fn reference_vectors() {
        assert_eq!(xxhash64(b"", 0), 0xEF46_DB37_51D8_E999);
        assert_eq!(xxhash64(b"a", 0), 0xD24E_C4F1_A98C_6E5B);
        assert_eq!(xxhash64(b"abc", 0), 0x44BC_2CF5_AD77_0999);
        assert_eq!(xxhash64(b"Nobody inspects the spammish repetition", 0), 0xFBCE_A83C_8A37_8BF1);
    }

    /// Envoy's `RingHashLoadBalancerTest.Basic` prints the ring positions of
    /// `127.0.0.1:9x_i`, i.e. `xxHash64("127.0.0.1:94_0")` and so on (`ring_hash_lb_test.cc`).
    #[test]
    fn envoy_ring_positions() {
        let positions = |host: &str| {
            let mut p: Vec<u64> = (0..2).map(|i| xxhash64(format!("{host}_{i}").as_bytes(), 0)).collect();
            p.sort_unstable();
            p
        };
        assert_eq!(positions("127.0.0.1:94"), vec![833_437_586_790_550_860, 15_516_499_411_664_133_160]);
        assert_eq!(positions("127.0.0.1:90"), vec![1_033_482_794_131_418_490, 16_117_243_373_044_804_889]);
        // `UnevenHosts`: the two positions of :80.
        assert_eq!(positions("127.0.0.1:80"), vec![5_454_692_015_285_649_509, 13_838_424_394_637_650_569]);
    }
}
