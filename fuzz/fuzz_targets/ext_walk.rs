#![no_main]
use libfuzzer_sys::fuzz_target;

// A whole ext2/3/4 image through ext4-view.
fuzz_target!(|data: &[u8]| {
    rpvboot_fuzz::open_and_walk(data, fs::ext::Ext::open);
});
