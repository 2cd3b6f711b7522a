//! Host decode benchmark (`cargo xtask bench --decompress` runs it; also for profiling with
//! `valgrind --tool=callgrind` or `perf`): decodes one compressed file with rpvboot's decoders,
//! the way the loader calls them (`kernelimage::decompress`, no size hint).
//!
//! `cargo build --profile pv -p kernelimage --example decode` builds it as rpvboot is built
//! (opt-level "z", LTO, the decoders at 3), then `target/pv/examples/decode FORMAT FILE [PASSES]`
//! (FORMAT: gzip, xz, zstd, lz4). Each pass reads the file and decodes it, as a C tool given
//! the file PASSES times does (`xz -dc FILE FILE`), so that the difference between two and one
//! pass is one more read + decode in a process whose memory is already set up. Prints the
//! output length and the decode time of each pass to stderr, and with `DECODE_HASH=1` the
//! output's FNV-1a (to compare with the uncompressed file; left out by default as it would
//! cost as much as a decode).

use kernelimage::Format;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(format), Some(file)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: decode FORMAT FILE [PASSES]");
        std::process::exit(2);
    };
    let format = match format.as_str() {
        "gzip" => Format::Gzip,
        "xz" => Format::Xz,
        "zstd" => Format::Zstd,
        "lz4" => Format::Lz4,
        other => {
            eprintln!("unknown format {other}");
            std::process::exit(2);
        }
    };
    let passes: u32 = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(1);
    for _ in 0..passes {
        let input = std::fs::read(file).unwrap_or_else(|e| {
            eprintln!("{file}: {e}");
            std::process::exit(1);
        });
        let t = std::time::Instant::now();
        match kernelimage::decompress(format, &input, 1 << 30) {
            Ok(out) => {
                let secs = t.elapsed().as_secs_f64();
                // Only on request: under callgrind the hash would count as much as a decode.
                if std::env::var_os("DECODE_HASH").is_some() {
                    let h = out
                        .iter()
                        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
                    eprintln!("{} bytes fnv1a={h:016x} {secs:.5} s", out.len());
                } else {
                    eprintln!("{} bytes {secs:.5} s", std::hint::black_box(out).len());
                }
            }
            Err(e) => {
                eprintln!("{file}: {e}");
                std::process::exit(1);
            }
        }
    }
}
