#![no_main]
use libfuzzer_sys::fuzz_target;

// NetBSD disklabel: the sector parser, the search in a buffer, and reading at sector 0/1.
use fs::part::disklabel;
use fs::MemDisk;

fuzz_target!(|data: &[u8]| {
    let _ = disklabel::parse(data);
    let _ = disklabel::find(data);
    for bs in [512, 4096] {
        let mut d = MemDisk::new(data.to_vec(), bs);
        let _ = disklabel::read(&mut d, 0);
        let _ = disklabel::read(&mut d, 1);
    }
});
