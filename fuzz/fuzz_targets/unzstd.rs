#![no_main]
use libfuzzer_sys::fuzz_target;

// One decompressor with the fuzzing output limit, and with a (wrong) size hint.
use kernelimage::{decompress, decompress_hinted, fuzz::FUZZ_LIMIT, Format};

fuzz_target!(|data: &[u8]| {
    let _ = decompress(Format::Zstd, data, FUZZ_LIMIT);
    let _ = decompress_hinted(Format::Zstd, data, 4096, 1 << 20);
});
