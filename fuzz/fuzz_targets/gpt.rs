#![no_main]
use libfuzzer_sys::fuzz_target;

// GPT header and entry array, primary and backup, 512- and 4096-byte sectors.
use fs::part::gpt;
use fs::MemDisk;

fuzz_target!(|data: &[u8]| {
    for bs in [512, 4096] {
        let mut d = MemDisk::new(data.to_vec(), bs);
        let _ = gpt::read(&mut d);
    }
});
