//! Decompressors against the reference command-line tools (gzip, xz, zstd, lz4): the tools
//! compress, the tools' own decompression is the oracle; corrupt and truncated streams must
//! give errors, never panics.

use kernelimage::{self as image, Error, Format};

const LIMIT: usize = 64 << 20;

/// The tool's output for `input`, whether or not it succeeded (corrupt streams).
fn tool(cmd: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    tool_status(cmd, args, input).1
}

use testimages::tools::pipe_status as tool_status;

/// Deterministic test data: compressible text, some incompressible noise, the test kernel.
fn sample() -> Vec<u8> {
    let mut v = Vec::new();
    let mut r = testimages::rng::Rng(0x1234_5678_9abc_def1);
    for i in 0..40_000u32 {
        v.extend_from_slice(format!("line {i} of the rpvboot test data {}\n", i % 97).as_bytes());
    }
    for _ in 0..200_000 {
        v.push(r.next() as u8);
    }
    let k = testimages::kernels::build(&testimages::kernels::images_dir(), &testimages::kernels::KernelSpec::netbsd())
        .unwrap();
    v.extend(std::fs::read(k).unwrap());
    v
}

fn roundtrip(format: Format, comp: &str, cargs: &[&str], dargs: &[&str]) {
    let data = sample();
    let packed = tool(comp, cargs, &data);
    assert!(!packed.is_empty(), "{comp} {cargs:?} produced nothing");
    let oracle = tool(comp, dargs, &packed);
    assert_eq!(oracle, data, "{comp} round trip");
    let ours = image::decompress(format, &packed, LIMIT).unwrap();
    assert!(ours == oracle, "{comp} {cargs:?}: our output differs from {comp} -d");
    assert_eq!(image::detect(&packed), image::Detected::Known(format));
    // Truncated: an error at every cut, never a panic.
    for cut in [1, 5, 12, packed.len() / 3, packed.len() / 2, packed.len() - 5, packed.len() - 1] {
        let r = image::decompress(format, &packed[..cut], LIMIT);
        assert!(r.is_err(), "{comp} {cargs:?}: truncated at {cut}/{} accepted", packed.len());
    }
    // Corrupt: with a checksum, an error; without, at least no panic.
    for at in [packed.len() / 4, packed.len() / 2, packed.len() * 3 / 4] {
        let mut bad = packed.clone();
        bad[at] ^= 0x55;
        let _ = image::decompress(format, &bad, LIMIT);
    }
    // The memory limit holds.
    let r = image::decompress(format, &packed, data.len() / 2);
    assert!(matches!(r, Err(Error::TooLarge { .. })), "{comp}: limit not enforced: {r:?}");
}

/// Flip bytes in the compressed body: whenever we accept the stream, the reference tool must
/// accept it too and produce the same bytes (the tool is the oracle); with a checksum most
/// flips must be errors.
fn corrupt_is_error(format: Format, comp: &str, cargs: &[&str], dargs: &[&str]) {
    let data = sample();
    let packed = tool(comp, cargs, &data);
    let mut errors = 0;
    for at in (packed.len() / 10..packed.len() * 9 / 10).step_by(packed.len() / 17) {
        let mut bad = packed.clone();
        bad[at] ^= 0x10;
        match image::decompress(format, &bad, LIMIT) {
            Err(_) => errors += 1,
            Ok(ours) => {
                let (ok, theirs) = tool_status(comp, dargs, &bad);
                assert!(ok && ours == theirs, "{comp}: corrupt byte {at} accepted, tool disagrees");
            }
        }
    }
    assert!(errors >= 12, "{comp} {cargs:?}: only {errors}/16 corruptions detected");
}

#[test]
fn gzip_matches_gzip() {
    roundtrip(Format::Gzip, "gzip", &["-c", "-9"], &["-dc"]);
    roundtrip(Format::Gzip, "gzip", &["-c", "-1", "--name"], &["-dc"]);
    corrupt_is_error(Format::Gzip, "gzip", &["-c", "-6"], &["-dc"]);
}

#[test]
fn gzip_multi_member_and_trailing_zeros() {
    let a = b"first member\n".repeat(1000);
    let b = sample();
    let mut cat = tool("gzip", &["-c"], &a);
    cat.extend(tool("gzip", &["-c", "-9"], &b));
    let oracle = tool("gzip", &["-dc"], &cat);
    assert_eq!(oracle.len(), a.len() + b.len());
    assert!(image::decompress(Format::Gzip, &cat, LIMIT).unwrap() == oracle);
    cat.extend([0u8; 512]);
    assert!(image::decompress(Format::Gzip, &cat, LIMIT).unwrap() == oracle);
}

#[test]
fn xz_matches_xz() {
    roundtrip(Format::Xz, "xz", &["-c"], &["-dc"]);
    // As Linux compresses itself: x86 BCJ filter, CRC32 check.
    roundtrip(Format::Xz, "xz", &["-c", "--check=crc32", "--x86", "--lzma2=preset=6"], &["-dc"]);
    roundtrip(Format::Xz, "xz", &["-c", "--check=none", "-0"], &["-dc"]);
    roundtrip(Format::Xz, "xz", &["-c", "--delta=dist=4", "--lzma2=preset=1"], &["-dc"]);
    corrupt_is_error(Format::Xz, "xz", &["-c"], &["-dc"]);
}

/// The presets and filter chains a kernel or initrd may come with, each against `xz -dc`:
/// -9e (64 MiB dictionary, far larger than the data: single-call mode allocates none), Linux's
/// own x86 kernel packing (`scripts/xz_wrap.sh`: BCJ x86, CRC32, 32 MiB), lc/lp/pb variants
/// (literal context and position bits), SHA-256 refused by name, multi-threaded xz (sizes in
/// every block header, many blocks), a BCJ start offset, BCJ before delta, and an empty input.
#[test]
fn xz_presets_and_filters_match_xz() {
    for cargs in [
        &["-c", "-9e"][..],
        &["-c", "--check=crc32", "--x86", "--lzma2=preset=9,dict=32MiB"],
        &["-c", "--check=crc64", "--lzma2=preset=6,lc=0,lp=2,pb=0"],
        &["-c", "--lzma2=preset=3,lc=4,lp=0,pb=4,mf=hc4"],
        &["-c", "-T2", "--block-size=100KiB", "-3"],
        &["-c", "--x86=start=4096", "--lzma2=preset=2"],
        &["-c", "--x86", "--delta=dist=2", "--lzma2=preset=1"],
        &["-c", "--lzma2=preset=0,dict=4KiB"],
    ] {
        roundtrip(Format::Xz, "xz", cargs, &["-dc"]);
    }
    let empty = tool("xz", &["-c"], b"");
    assert_eq!(image::decompress(Format::Xz, &empty, LIMIT).unwrap(), b"");
    let sha = tool("xz", &["-c", "--check=sha256"], b"hello");
    let r = image::decompress(Format::Xz, &sha, LIMIT);
    assert!(
        matches!(&r, Err(Error::Corrupt { detail, .. }) if detail.contains("UnsupportedCheckType(type=10)")
        || detail.contains("Sha256")),
        "{r:?}"
    );
}

/// The uncompressed size is known only from the stream's index, or a bzImage's appended size:
/// when that hint is wrong (too small, missing, too large) the output still comes out right,
/// decoded again with more room where it did not fit.
#[test]
fn xz_wrong_size_hint_still_decodes() {
    let data = sample();
    let packed = tool("xz", &["-c", "--x86", "-6"], &data);
    let oracle = tool("xz", &["-dc"], &packed);
    // A bzImage payload: the stream, then 4 bytes, so the index is not found at the end.
    let mut trailing = packed.clone();
    trailing.extend_from_slice(&7u32.to_le_bytes());
    for hint in [0, 1, 1000, oracle.len() - 1, oracle.len(), oracle.len() + 1, LIMIT] {
        let ours = image::decompress_hinted(Format::Xz, &trailing, LIMIT, hint).unwrap();
        assert!(ours == oracle, "hint {hint}");
    }
    // Not enough memory for what the hint promises: refused as too large, before decoding.
    let r = image::decompress_hinted(Format::Xz, &trailing, oracle.len() - 1, oracle.len());
    assert!(matches!(r, Err(Error::TooLarge { .. })), "{r:?}");
}

/// Clear errors for streams cut or damaged where the format's fields are: each case is first
/// shown to be refused by `xz -t` (the oracle), then ours must refuse it with the error the
/// damage calls for, never a panic.
#[test]
fn xz_damaged_fields_are_refused_like_xz() {
    let data = b"rpvboot xz field test ".repeat(3000);
    let packed = tool("xz", &["-c", "--check=crc32", "--x86", "-6"], &data);
    let n = packed.len();
    let index_len = (u32::from_le_bytes(packed[n - 8..n - 4].try_into().unwrap()) as usize + 1) * 4;
    let flip = |at: usize, x: u8| {
        let mut b = packed.clone();
        b[at] ^= x;
        b
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("header flags", flip(7, 0x02), "StreamHeaderCrc32Mismatch"),
        ("block header size byte", flip(12, 0x01), "BlockHeaderCrc32Mismatch"),
        ("first LZMA2 control byte", flip(12 + 16, 0x40), ""),
        // The CRC32 check ends where the index starts (the footer's backward size).
        ("block check", flip(n - 12 - index_len - 4, 0x01), "ContentCrc32Mismatch"),
        ("index CRC", flip(n - 12 - 1, 0x01), "IndexCrc32Mismatch"),
        ("footer magic", flip(n - 1, 0x01), "FooterMagicNumberMismatch"),
        ("footer backward size", flip(n - 8, 0x01), "FooterCrc32Mismatch"),
        ("cut in the footer", packed[..n - 3].to_vec(), "truncated"),
        ("cut in the data", packed[..n / 2].to_vec(), "truncated"),
    ];
    for (what, bad, want) in cases {
        let (ok, _) = tool_status("xz", &["-t"], &bad);
        assert!(!ok, "{what}: xz -t accepts it, so the case proves nothing");
        let r = image::decompress(Format::Xz, &bad, LIMIT);
        let msg = match &r {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{what}: accepted"),
        };
        assert!(msg.contains(want), "{what}: {msg}");
        assert!(msg.starts_with("xz") || msg.contains("xz"), "{what}: message does not name xz: {msg}");
    }
}

#[test]
fn xz_concatenated_streams() {
    let a = b"stream one ".repeat(5000);
    let b = sample();
    let mut cat = tool("xz", &["-c"], &a);
    cat.extend(tool("xz", &["-c", "-1"], &b));
    let oracle = tool("xz", &["-dc"], &cat);
    assert!(image::decompress(Format::Xz, &cat, LIMIT).unwrap() == oracle);
}

#[test]
fn zstd_matches_zstd() {
    roundtrip(Format::Zstd, "zstd", &["-c", "-q", "-19"], &["-dc", "-q"]);
    roundtrip(Format::Zstd, "zstd", &["-c", "-q", "-3", "--no-check"], &["-dc", "-q"]);
    corrupt_is_error(Format::Zstd, "zstd", &["-c", "-q", "-3"], &["-dc", "-q"]);
    let a = b"frame one ".repeat(5000);
    let mut cat = tool("zstd", &["-c", "-q"], &a);
    cat.extend(tool("zstd", &["-c", "-q", "-9"], &sample()));
    let oracle = tool("zstd", &["-dc", "-q"], &cat);
    assert!(image::decompress(Format::Zstd, &cat, LIMIT).unwrap() == oracle);
}

/// Runs of every short period (1 to 40 bytes, the overlapping match copies) and of long ones,
/// between incompressible bytes: the match shapes zstd-rs's copy paths distinguish.
fn periodic() -> Vec<u8> {
    let mut v = Vec::new();
    let mut r = testimages::rng::Rng(0x0bad_cafe_f00d_1234);
    for round in 0..3usize {
        for period in (1..=40).chain([64, 100, 1000, 5000]) {
            let pattern: Vec<u8> = (0..period).map(|_| r.next() as u8).collect();
            let len = 3 + (period * 7 + round * 1001) % 9000;
            v.extend(pattern.iter().cycle().take(len));
            v.extend((0..1 + period % 13).map(|_| r.next() as u8));
        }
        v.extend(std::iter::repeat_n(0u8, 300_000));
    }
    v
}

/// Long mode (`--long`, a 128 MiB window at -19, as kernels are packed with `-19 --long`), the
/// content size in the frame header (`--stream-size`, what a file's frame carries), frames of
/// short- and long-period runs; the `zstd` tool decodes each as the oracle.
#[test]
fn zstd_long_mode_content_size_and_match_shapes() {
    let data = sample();
    let size = format!("--stream-size={}", data.len());
    roundtrip(Format::Zstd, "zstd", &["-c", "-q", "-19", "--long=27", &size], &["-dc", "-q", "--long=27"]);
    let runs = periodic();
    let size = format!("--stream-size={}", runs.len());
    for level in ["-1", "-19"] {
        let packed = tool("zstd", &["-c", "-q", level, &size], &runs);
        let oracle = tool("zstd", &["-dc", "-q"], &packed);
        assert!(oracle == runs, "zstd {level} round trip");
        let ours = image::decompress(Format::Zstd, &packed, LIMIT).unwrap();
        assert!(ours == oracle, "zstd {level}: our output of the periodic runs differs from zstd -d");
    }
}

#[test]
fn lz4_matches_lz4() {
    // Linux uses the legacy format (lz4 -l).
    roundtrip(Format::Lz4, "lz4", &["-c", "-q", "-l", "-9"], &["-dc", "-q"]);
    roundtrip(Format::Lz4, "lz4", &["-c", "-q"], &["-dc", "-q"]);
    roundtrip(Format::Lz4, "lz4", &["-c", "-q", "-BD", "-B4"], &["-dc", "-q"]);
    roundtrip(Format::Lz4, "lz4", &["-c", "-q", "--content-size", "-BX"], &["-dc", "-q"]);
}

/// Linux's lz4 kernels: the legacy frame in 8 MiB blocks, the size known only from a bzImage's
/// last word. With that size as the hint and as the limit (a domain with just room for the
/// kernel), or with no hint at all, the last block decodes into the room left instead of
/// asking for a whole 8 MiB more; a wrong hint still decodes. `lz4 -dc` is the oracle.
#[test]
fn lz4_legacy_blocks_fit_the_exact_size() {
    let s = sample();
    let data = s.repeat((17 << 20) / s.len() + 1);
    let packed = tool("lz4", &["-c", "-q", "-l", "-9"], &data);
    let oracle = tool("lz4", &["-dc", "-q"], &packed);
    assert!(oracle == data, "lz4 round trip");
    let n = oracle.len();
    for hint in [0, 1, 1000, n - 1, n, n + 1, LIMIT] {
        let ours = image::decompress_hinted(Format::Lz4, &packed, LIMIT, hint).unwrap();
        assert!(ours == oracle, "hint {hint}");
    }
    for hint in [0, n] {
        let ours = image::decompress_hinted(Format::Lz4, &packed, n, hint).unwrap();
        assert!(ours == oracle, "limit = output size, hint {hint}");
    }
    let r = image::decompress_hinted(Format::Lz4, &packed, n - 1, n);
    assert!(matches!(r, Err(Error::TooLarge { .. })), "{r:?}");
}

#[test]
fn nested_layers_are_reported_outermost_first() {
    let k = std::fs::read(
        testimages::kernels::build(&testimages::kernels::images_dir(), &testimages::kernels::KernelSpec::netbsd())
            .unwrap(),
    )
    .unwrap();
    let gz = tool("gzip", &["-c"], &k);
    let u = image::unwrap(&gz, LIMIT).unwrap();
    assert_eq!(u.format_names(), vec!["gzip", "elf64"]);
    assert!(*u.elf == *k);
    let zx = tool("xz", &["-c"], &tool("zstd", &["-c", "-q"], &k));
    assert_eq!(image::unwrap(&zx, LIMIT).unwrap().format_names(), vec!["xz", "zstd", "elf64"]);
    // A gzip bomb beyond the limit is refused, not allocated.
    let zeros = vec![0u8; 32 << 20];
    let bomb = tool("gzip", &["-c", "-9"], &zeros);
    assert!(matches!(image::unwrap(&bomb, 1 << 20), Err(Error::TooLarge { .. })));
}

#[test]
fn garbage_after_valid_magic_never_panics() {
    let mut x: u64 = 0xfeed_beef;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let magics: [&[u8]; 6] = [
        &[0x1f, 0x8b, 0x08, 0x00],
        &[0xfd, b'7', b'z', b'X', b'Z', 0x00, 0x00, 0x01],
        &[0x28, 0xb5, 0x2f, 0xfd],
        &[0x02, 0x21, 0x4c, 0x18],
        &[0x04, 0x22, 0x4d, 0x18, 0x64, 0x40],
        b"\x7fELF\x02\x01\x01\x00",
    ];
    for i in 0..4000 {
        let mut d = magics[i % magics.len()].to_vec();
        let n = (next() % 600) as usize;
        d.extend((0..n).map(|_| next() as u8));
        kernelimage::fuzz::unwrap(&d);
        d.insert(0, (i % 4) as u8);
        kernelimage::fuzz::decompressor(&d);
        kernelimage::fuzz::bzimage_header(&d);
    }
}

/// Fuzz crash (gunzip/unzstd/unlz4, empty input): an output limit below the 64 KiB initial
/// buffer made `OutBuf::new`'s `clamp(64 KiB, limit)` panic (min > max). A small limit (a domain
/// nearly out of memory, a small module budget) must give an error or the data, never a panic.
#[test]
fn fuzz_crash_limit_below_initial_buffer() {
    let gz = tool("gzip", &["-c"], b"hello");
    for f in [Format::Gzip, Format::Xz, Format::Zstd, Format::Lz4] {
        let _ = image::decompress_hinted(f, &[], 4096, 1 << 20);
        let _ = image::decompress(f, &[], 1);
    }
    assert_eq!(image::decompress(Format::Gzip, &gz, 4096).unwrap(), b"hello");
    assert!(image::decompress(Format::Gzip, &gz, 3).is_err());
}
