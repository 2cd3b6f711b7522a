#![no_main]
//! blkfront against a hostile blkback: the handshake's geometry (sectors, sector-size,
//! indirect offer) and every response (id, status, operation, rsp_prod, silence) come from the
//! input; reads of assorted sizes and offsets must return data or an error, never panic or hang.
use fs::{BlockDevice, Lba};
use libfuzzer_sys::fuzz_target;
use rpvboot_fuzz::Blkback;
use xenfront::blkfront::{Blkfront, Config};
use xenfront::platform::MS;
use xenfront::xenstore::Xenstore;

fuzz_target!(|data: &[u8]| {
    let Ok(mut xs) = Xenstore::new(Blkback::new(data)) else {
        return;
    };
    let cfg = Config {
        connect_timeout_ns: 200 * MS,
        io_timeout_ns: 500 * MS,
        data_pages: 24,
        max_indirect_segments: 64,
        read_ahead: if data.get(7).is_some_and(|b| b & 2 != 0) { 64 << 10 } else { 0 },
        // Reads into the caller's pages need `Platform::frame_of`, which this backend does not
        // offer (the copy path is fuzzed; the in-place path is covered by xenfront's fake tests).
        direct_pages: 64,
        direct_max_segments: 256,
    };
    let debug = std::env::var_os("RPV_FUZZ_DEBUG").is_some();
    let mut dev = match Blkfront::connect(&mut xs, 768, cfg) {
        Ok(d) => d,
        Err(e) => {
            if debug {
                eprintln!("connect: {e}");
            }
            return;
        }
    };
    let bs = dev.block_size() as usize;
    let n = dev.num_blocks();
    for (lba, count) in [(0u64, 1usize), (1, 8), (0, 200), (n.saturating_sub(1), 1), (n, 1), (3, 1), (4, 1)] {
        let mut buf = vec![0u8; bs.saturating_mul(count).min(1 << 20)];
        let r = dev.read_blocks(Lba(lba), &mut buf);
        if debug {
            eprintln!("read {lba}+{count}: {r:?} first byte {:?}", buf.first());
        }
    }
    // The close must also end (or count) every grant, a backend that keeps them all mapped
    // included.
    let closed = xenfront::blkfront::begin_close(&mut xs, vec![dev]).finish(&mut xs);
    if debug {
        eprintln!("close: {:?}, {} pages still granted", closed.disks, closed.still_granted);
    }
});
