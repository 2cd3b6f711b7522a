#![no_main]
use libfuzzer_sys::fuzz_target;

// MBR with extended/logical chains, 512- and 4096-byte sectors.
use fs::part::mbr;
use fs::MemDisk;

fuzz_target!(|data: &[u8]| {
    if let Some(s) = data.get(..512) {
        let _ = mbr::parse_primary(s, (data.len() / 512) as u64);
        let _ = mbr::looks_like_vbr(s);
    }
    for bs in [512, 4096] {
        let mut d = MemDisk::new(data.to_vec(), bs);
        let _ = mbr::read(&mut d);
    }
});
