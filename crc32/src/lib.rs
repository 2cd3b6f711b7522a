//! CRC-32 (IEEE 802.3, reflected; CRC-32/ISO-HDLC), the one copy for rpvboot: gzip members
//! (`kernelimage`) and GPT headers and entry arrays (`fs`) carry it. Slicing-by-8, since a
//! kernel of 30 MiB should not spend long here; the 8 KiB of tables are computed per call on
//! the heap (microseconds) rather than stored in the image, which must stay small.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::boxed::Box;

type Tables = [[u32; 256]; 8];

fn make_tables() -> Box<Tables> {
    let mut t = Box::new([[0u32; 256]; 8]);
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut s = 1;
        while s < 8 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            s += 1;
        }
        i += 1;
    }
    t
}

/// The CRC-32 of `data`.
pub fn crc32(data: &[u8]) -> u32 {
    update(0, data)
}

/// Continues a CRC-32 over `data` (`crc` is a previous result; start with `0`).
pub fn update(crc: u32, data: &[u8]) -> u32 {
    let t = make_tables();
    let mut c = !crc;
    let mut chunks = data.chunks_exact(8);
    for ch in &mut chunks {
        let lo = u32::from_le_bytes([ch[0], ch[1], ch[2], ch[3]]) ^ c;
        let hi = u32::from_le_bytes([ch[4], ch[5], ch[6], ch[7]]);
        c = t[7][(lo & 0xff) as usize]
            ^ t[6][((lo >> 8) & 0xff) as usize]
            ^ t[5][((lo >> 16) & 0xff) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][(hi & 0xff) as usize]
            ^ t[2][((hi >> 8) & 0xff) as usize]
            ^ t[1][((hi >> 16) & 0xff) as usize]
            ^ t[0][(hi >> 24) as usize];
    }
    for &b in chunks.remainder() {
        c = t[0][((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

#[cfg(test)]
mod tests {
    #[test]
    fn check_value() {
        // The standard check value of CRC-32/ISO-HDLC.
        assert_eq!(super::update(0, b"123456789"), 0xCBF4_3926);
        let a = super::update(0, b"12345");
        assert_eq!(super::update(a, b"6789"), 0xCBF4_3926);
        assert_eq!(super::crc32(b""), 0);
        // Lengths around the 8-byte slices: the same as the bitwise definition.
        let data: [u8; 40] = core::array::from_fn(|i| (i as u8).wrapping_mul(73) ^ 0x5a);
        for n in 0..data.len() {
            let mut c = !0u32;
            for &b in &data[..n] {
                c ^= u32::from(b);
                for _ in 0..8 {
                    c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
                }
            }
            assert_eq!(super::crc32(&data[..n]), !c, "{n} bytes");
        }
    }
}
