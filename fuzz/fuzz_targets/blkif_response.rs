#![no_main]
//! blkif responses: the backend writes response slots and `rsp_prod` into the shared ring. The
//! input is a list of (new rsp_prod: u32, slot bytes: 16) records applied after pushing requests.
use libfuzzer_sys::fuzz_target;
use rpvboot_fuzz::Page;
use xenfront::blkif::{heapless_segs::Segs, Blkif, Request, Segment};
use xenfront::platform::SharedPage;
use xenfront::ring::{FrontRing, SRING_HEADER};

fuzz_target!(|data: &[u8]| {
    let Some((&n, mut rest)) = data.split_first() else {
        return;
    };
    let page = Page::detached(1);
    let start = u32::from(n).wrapping_mul(0x0101_0101).wrapping_neg();
    let mut ring: FrontRing<Page, Blkif> = FrontRing::new_at(page.clone(), start);
    let mut segs = Segs::default();
    segs.push(Segment { gref: 9, first_sect: 0, last_sect: 7, pad: 0 });
    for id in 0..u64::from(n % 40) {
        let req = Request::Direct { id, handle: 768, sector: id * 8, segs: segs.clone() };
        let _ = ring.push(&req);
    }
    let _ = ring.publish();
    let mut polls = 0u32;
    while let Some((rec, tail)) = rest.split_at_checked(20) {
        rest = tail;
        let prod = u32::from_le_bytes([rec[0], rec[1], rec[2], rec[3]]);
        let slot = usize::from(rec[4]) % 64;
        page.write(SRING_HEADER + slot * 112, &rec[4..]);
        page.store_u32(8, start.wrapping_add(prod % 128));
        while polls < 1024 {
            polls += 1;
            match ring.poll() {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
    }
    let _ = (ring.outstanding(), ring.free_slots());
});
