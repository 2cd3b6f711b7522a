#![no_main]
use libfuzzer_sys::fuzz_target;

// A whole FFS image: superblock, cylinder groups, inodes, directories, indirect blocks.
fuzz_target!(|data: &[u8]| {
    rpvboot_fuzz::open_and_walk(data, fs::ffs::Ffs::open);
});
