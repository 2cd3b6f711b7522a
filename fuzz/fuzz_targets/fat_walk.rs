#![no_main]
use libfuzzer_sys::fuzz_target;

// A whole FAT12/16/32 image through lamfat.
fuzz_target!(|data: &[u8]| {
    rpvboot_fuzz::open_and_walk(data, fs::fat::Fat::open);
});
