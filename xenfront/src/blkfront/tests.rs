//! blkfront against the fake xenstored and blkback.

use super::*;
use crate::fake::{Behaviour, Fake};
use crate::platform::PAGE_SIZE;
use crate::xenstore::Xenstore;
use fs::{BlockDevice, IoError, Lba, MemDisk};

/// Disk contents no driver logic produced: a byte pattern keyed by position.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| ((i / 512) as u8).wrapping_mul(31) ^ (i as u8) ^ seed).collect()
}

fn setup(disks: &[(u32, usize, u32, Behaviour, Option<u32>)]) -> (Fake, Xenstore<Fake>) {
    let f = Fake::new();
    for &(id, len, ss, b, ind) in disks {
        f.add_disk(id, MemDisk::new(pattern(len, id as u8), ss), b, ind);
    }
    // Copies through the data pages unless a test asks for reads in place: buffer
    // alignment would otherwise decide which path a test takes.
    f.set_no_frames(true);
    let xs = Xenstore::new(f.clone()).unwrap();
    (f, xs)
}

/// `n` zero bytes starting `skew` bytes past a page boundary of `v` (over-allocated).
fn at_page_offset(v: &mut Vec<u8>, n: usize, skew: usize) -> &mut [u8] {
    v.resize(n + 2 * PAGE_SIZE, 0);
    let off = v.as_ptr().align_offset(PAGE_SIZE) + skew;
    &mut v[off..off + n]
}

#[test]
fn reads_in_place_into_aligned_buffers() {
    let (f, mut xs) = setup(&[(51712, 4 << 20, 512, Behaviour::Reverse, Some(32))]);
    f.set_no_frames(false);
    let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
    let pool = f.live_grants();
    let disk = pattern(4 << 20, 0);
    // Page-aligned, 512-byte skewed (segments start mid-page), and a 4-sector tail.
    for (skew, lba, n) in [(0usize, 0u64, 3 << 20), (512, 77, (1 << 20) + 2048), (3584, 5000, 4096)] {
        let before = f.own_writes();
        let mut v = Vec::new();
        let buf = at_page_offset(&mut v, n, skew);
        d.read_blocks(Lba(lba), buf).unwrap();
        assert!(buf[..] == disk[lba as usize * 512..][..n], "skew {skew}");
        assert!(f.own_writes() > before, "skew {skew}: read in place");
        assert_eq!(f.live_grants(), pool, "skew {skew}: every grant of our memory ended");
    }
    // 32 segments per request (the backend's offer), 3 MiB page-aligned: 24 requests.
    assert!(f.seen(51712).iter().all(|&(_, n)| n <= 32));
    assert!(d.stats.max_in_flight > 4, "in flight: {}", d.stats.max_in_flight);
    // Not sector-aligned in memory: copied through the data pages.
    let before = f.own_writes();
    let mut v = Vec::new();
    let buf = at_page_offset(&mut v, 64 << 10, 100);
    d.read_blocks(Lba(9), buf).unwrap();
    assert!(buf[..] == disk[9 * 512..][..64 << 10]);
    assert_eq!(f.own_writes(), before);
}

#[test]
fn in_place_on_4096_byte_sectors_only_page_aligned() {
    let (f, mut xs) = setup(&[(51712, 1 << 20, 4096, Behaviour::Normal, Some(32))]);
    f.set_no_frames(false);
    let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
    let disk = pattern(1 << 20, 0);
    for (skew, in_place) in [(0usize, true), (512, false)] {
        let before = f.own_writes();
        let mut v = Vec::new();
        let buf = at_page_offset(&mut v, 64 << 10, skew);
        d.read_blocks(Lba(3), buf).unwrap();
        assert!(buf[..] == disk[3 * 4096..][..64 << 10], "skew {skew}");
        assert_eq!(f.own_writes() > before, in_place, "skew {skew}");
    }
}

#[test]
fn grants_of_our_memory_end_when_a_read_fails() {
    for beh in [Behaviour::Silent, Behaviour::BadId, Behaviour::ErrorAt(300)] {
        let (f, mut xs) = setup(&[(51712, 1 << 20, 512, beh, Some(32))]);
        f.set_no_frames(false);
        let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
        let pool = f.live_grants();
        let mut v = Vec::new();
        let buf = at_page_offset(&mut v, 512 << 10, 0);
        assert!(d.read_blocks(Lba(0), buf).is_err(), "{beh:?}");
        assert_eq!(f.live_grants(), pool, "{beh:?}: no grant of the returned buffer outlives the read");
    }
}

fn read_all(d: &mut Blkfront<Fake>, chunk: usize) -> Vec<u8> {
    let total = usize::try_from(d.num_blocks()).unwrap() * d.block_size() as usize;
    let mut out = vec![0u8; total];
    let bs = d.block_size() as usize;
    for (i, c) in out.chunks_mut(chunk).enumerate() {
        d.read_blocks(Lba((i * chunk / bs) as u64), c).unwrap();
    }
    out
}

#[test]
fn disks_in_numeric_order_with_names() {
    let (_f, mut xs) = setup(&[
        (51728, 1 << 20, 512, Behaviour::Normal, None),
        (51712, 1 << 20, 512, Behaviour::Normal, None),
        (268439552, 1 << 16, 512, Behaviour::Normal, None),
    ]);
    let disks = connect_all(&mut xs, Config::default()).unwrap();
    let names: Vec<_> = disks.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["xvda", "xvdb", "xvdq"]);
    assert_eq!(vbd_name(768), "hda");
    assert_eq!(vbd_name(2049), "sda1");
    assert_eq!(vbd_name((1 << 28) | (27 << 8)), "xvdab");
    let d = disks[0].dev.as_ref().unwrap();
    assert_eq!(d.backend_path(), "/local/domain/0/backend/vbd/7/51712");
    assert_eq!((d.block_size(), d.num_blocks()), (512, 2048));
}

#[test]
fn large_read_uses_few_direct_requests_in_flight() {
    let (f, mut xs) = setup(&[(51712, 3 << 20, 512, Behaviour::Normal, None)]);
    let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
    let all = read_all(&mut d, 3 << 20);
    assert!(all == pattern(3 << 20, 0), "data differs from the disk");
    // 3 MiB / 44 KiB per request.
    assert_eq!(d.stats.requests, (3u64 << 20).div_ceil(11 * 4096));
    assert!(d.stats.max_in_flight > 1);
    assert!(f.seen(51712).iter().all(|&(ind, n)| !ind && n <= 11));
}

#[test]
fn indirect_requests_when_offered() {
    let (f, mut xs) = setup(&[(51712, 2 << 20, 512, Behaviour::Normal, Some(32))]);
    let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
    assert_eq!(d.indirect_segments(), 32);
    let all = read_all(&mut d, 2 << 20);
    assert!(all == pattern(2 << 20, 0));
    assert_eq!(d.stats.requests, 16);
    assert!(f.seen(51712).iter().all(|&(ind, n)| ind && n == 32));
    // Unaligned tail: 7 sectors at an odd place, through a 1-segment direct request.
    let mut b = vec![0u8; 7 * 512];
    d.read_blocks(Lba(1001), &mut b).unwrap();
    assert!(b[..] == pattern(2 << 20, 0)[1001 * 512..1008 * 512]);
}

#[test]
fn vectored_reads_keep_several_runs_in_flight() {
    let (f, mut xs) = setup(&[(51712, 4 << 20, 512, Behaviour::Reverse, Some(64))]);
    let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
    let disk = pattern(4 << 20, 0);
    // Runs of a fragmented file: odd places and sizes, each fitting one request.
    let runs = [(7u64, 3 * 512), (100, 64 << 10), (1000, 256 << 10), (5000, 512), (4001, 200 << 10)];
    let mut bufs: Vec<Vec<u8>> = runs.iter().map(|&(_, n)| vec![0u8; n]).collect();
    let mut reqs: Vec<(Lba, &mut [u8])> =
        runs.iter().zip(bufs.iter_mut()).map(|(&(s, _), b)| (Lba(s), b.as_mut_slice())).collect();
    d.read_blocks_vectored(&mut reqs).unwrap();
    for (&(s, n), b) in runs.iter().zip(&bufs) {
        assert!(b[..] == disk[s as usize * 512..][..n], "run at sector {s}");
    }
    // One request per run, all in flight together (one after the other would be 1).
    assert_eq!(d.stats.requests, 5);
    assert_eq!(d.stats.max_in_flight, 5);
    assert!(f.seen(51712).iter().all(|&(_, n)| n <= 64));
    // A run past the end fails the whole call before anything is sent.
    let mut b = [0u8; 1024];
    let before = d.stats.requests;
    assert_eq!(d.read_blocks_vectored(&mut [(Lba(8191), &mut b[..])]), Err(IoError::OutOfRange));
    assert_eq!(d.stats.requests, before);
}

#[test]
fn small_sequential_reads_are_read_ahead() {
    let (_f, mut xs) = setup(&[(51712, 4 << 20, 512, Behaviour::ErrorAt(8000), Some(64))]);
    let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
    let disk = pattern(4 << 20, 0);
    // 1 KiB at a time over 2 MiB: one (indirect) request per 256 KiB window (+1 for the first read,
    // which is not yet known to be sequential).
    let mut b = [0u8; 1024];
    for s in (100..4196).step_by(2) {
        d.read_blocks(Lba(s), &mut b).unwrap();
        assert!(b[..] == disk[s as usize * 512..][..1024]);
    }
    assert_eq!(d.stats.requests, 1 + 2 * 2048 * 512 / (256 << 10));
    // Random small reads do not trigger it.
    let before = d.stats.requests;
    for s in [7000u64, 50, 3000, 10] {
        d.read_blocks(Lba(s), &mut b).unwrap();
        assert!(b[..] == disk[s as usize * 512..][..1024]);
    }
    assert_eq!(d.stats.requests - before, 4);
    // A window reaching a bad sector falls back to the plain read.
    d.read_blocks(Lba(7700), &mut b).unwrap();
    d.read_blocks(Lba(7702), &mut b).unwrap();
    assert!(b[..] == disk[7702 * 512..][..1024]);
    assert_eq!(d.read_blocks(Lba(7999), &mut b), Err(IoError::Device));
}

#[test]
fn sector_size_4096() {
    let (_f, mut xs) = setup(&[(51712, 1 << 20, 4096, Behaviour::Normal, None)]);
    let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
    assert_eq!((d.block_size(), d.num_blocks()), (4096, 256));
    let mut b = vec![0u8; 4096 * 3];
    d.read_blocks(Lba(100), &mut b).unwrap();
    assert!(b[..] == pattern(1 << 20, 0)[100 * 4096..103 * 4096]);
    assert_eq!(d.read_blocks(Lba(0), &mut [0u8; 512]), Err(IoError::Misaligned));
    assert_eq!(d.read_blocks(Lba(255), &mut b), Err(IoError::OutOfRange));
}

#[test]
fn out_of_order_responses_and_ring_wraparound() {
    let (_f, mut xs) = setup(&[(51712, 4 << 20, 512, Behaviour::Reverse, None)]);
    let mut d = Blkfront::connect(&mut xs, 51712, Config { data_pages: 256, ..Config::default() }).unwrap();
    let all = read_all(&mut d, 4 << 20);
    assert!(all == pattern(4 << 20, 0));
    // Many single-sector reads: the 32-slot ring wraps many times.
    for s in (0..8192).step_by(37) {
        let mut b = [0u8; 512];
        d.read_blocks(Lba(s), &mut b).unwrap();
        assert!(b[..] == pattern(4 << 20, 0)[s as usize * 512..][..512]);
    }
    assert!(d.stats.requests > 300);
}

#[test]
fn device_error_fails_that_read_only() {
    let (_f, mut xs) = setup(&[(51712, 1 << 20, 512, Behaviour::ErrorAt(300), None)]);
    let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
    let mut b = vec![0u8; 256 << 10];
    assert_eq!(d.read_blocks(Lba(0), &mut b), Err(IoError::Device));
    d.read_blocks(Lba(1024), &mut b).unwrap();
    assert!(b[..] == pattern(1 << 20, 0)[1024 * 512..][..256 << 10]);
}

#[test]
fn protocol_violations_fence_the_device() {
    for beh in [Behaviour::BadId, Behaviour::Overflow] {
        let (_f, mut xs) = setup(&[(51712, 1 << 20, 512, beh, None)]);
        let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
        let mut b = vec![0u8; 4096];
        assert_eq!(d.read_blocks(Lba(0), &mut b), Err(IoError::Device), "{beh:?}");
        assert_eq!(d.read_blocks(Lba(8), &mut b), Err(IoError::Device), "{beh:?} stays fenced");
    }
}

#[test]
fn silent_backend_times_out() {
    let (_f, mut xs) = setup(&[(51712, 1 << 20, 512, Behaviour::Silent, None)]);
    let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
    assert_eq!(d.read_blocks(Lba(0), &mut [0u8; 512]), Err(IoError::Timeout));
}

#[test]
fn disks_connect_and_close_together() {
    // Round trips to xenstored for `n` disks: connect, then close.
    fn round_trips(n: u32) -> (u64, u64) {
        let disks: Vec<_> = (0..n).map(|i| (51712 + 16 * i, 1usize << 20, 512, Behaviour::Normal, Some(32))).collect();
        let (f, mut xs) = setup(&disks);
        let r0 = xs.stats.round_trips;
        let devs: Vec<Blkfront<Fake>> =
            connect_all(&mut xs, Config::default()).unwrap().into_iter().map(|d| d.dev.unwrap()).collect();
        let r1 = xs.stats.round_trips;
        for i in 0..n {
            assert_eq!(f.get(&format!("device/vbd/{}/state", 51712 + 16 * i)).as_deref(), Some("4"));
        }
        let grants = f.live_grants();
        let closing = begin_close(&mut xs, devs);
        // Closing was said for every disk at once, and each gave back its data pages at
        // once: only the rings stay granted until the backends have closed.
        for i in 0..n {
            assert_eq!(f.get(&format!("device/vbd/{}/state", 51712 + 16 * i)).as_deref(), Some("5"));
        }
        assert!(grants > f.live_grants() && f.live_grants() == n as usize, "{grants} {}", f.live_grants());
        let r2 = xs.stats.round_trips;
        let closed = closing.finish(&mut xs);
        assert!(closed.disks.iter().all(Result::is_ok));
        assert_eq!(closed.still_granted, 0);
        for i in 0..n {
            let id = 51712 + 16 * i;
            assert_eq!(f.get(&format!("device/vbd/{id}/state")).as_deref(), Some("1"));
            assert_eq!(f.get(&format!("/local/domain/0/backend/vbd/7/{id}/state")).as_deref(), Some("2"));
            assert_eq!(f.get(&format!("device/vbd/{id}/ring-ref")), None);
        }
        assert_eq!((f.live_grants(), f.live_ports()), (0, 0));
        (r1 - r0, xs.stats.round_trips - r2 + 1)
    }
    let one = round_trips(1);
    // Every step is one request group for all disks: three cost what one does.
    assert_eq!(round_trips(3), one);
    // Connect: the vbd list, the backends' paths, watch + state + features, publish, state +
    // geometry, Connected. Close: Closing, the state, Closed, the state, ring nodes +
    // Initialising, the state, unwatch.
    assert_eq!(one, (6, 7));
}

#[test]
fn failing_backends_are_reported_and_others_work() {
    let (f, mut xs) = setup(&[
        (51712, 1 << 20, 512, Behaviour::NeverConnect, None),
        (51728, 1 << 20, 512, Behaviour::FailConnect, None),
        (51744, 1 << 20, 512, Behaviour::Normal, None),
    ]);
    let mut disks = connect_all(&mut xs, Config::default()).unwrap();
    let e = disks[0].dev.as_ref().unwrap_err();
    assert_eq!(e.path, "device/vbd/51712");
    assert_eq!(e.kind, BlkErrorKind::Timeout { want: state::INIT_WAIT, last: 1 });
    let msg = e.to_string();
    assert!(msg.contains("device/vbd/51712") && msg.contains("/local/domain/0/backend/vbd/7/51712"), "{msg}");
    assert_eq!(disks[1].dev.as_ref().unwrap_err().kind, BlkErrorKind::BackendState(state::CLOSED));
    let mut b = [0u8; 512];
    disks[2].dev.as_mut().unwrap().read_blocks(Lba(3), &mut b).unwrap();
    assert!(b[..] == pattern(1 << 20, (51744u32 & 0xff) as u8)[1536..2048]);
    // The failed disks gave back what they took.
    drop(disks.remove(2));
    assert_eq!(f.live_ports(), 1);
    assert_eq!(f.get("device/vbd/51728/state").as_deref(), Some("1"));
}

#[test]
fn backend_disconnect_fails_reads_and_close_still_completes() {
    let (f, mut xs) = setup(&[(51712, 1 << 20, 512, Behaviour::Normal, None)]);
    let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
    d.read_blocks(Lba(0), &mut [0u8; 512]).unwrap();
    f.disconnect(51712);
    assert_eq!(d.read_blocks(Lba(8), &mut [0u8; 512]), Err(IoError::Timeout));
    // The close walks Closing/Closed/Initialising with a backend that is already Closed;
    // the backend then offers the disk again (InitWait) and nothing of ours is left.
    d.shutdown(&mut xs).unwrap();
    assert_eq!(f.get("/local/domain/0/backend/vbd/7/51712/state").as_deref(), Some("2"));
    assert_eq!(f.get("device/vbd/51712/state").as_deref(), Some("1"));
    assert_eq!((f.live_grants(), f.live_ports()), (0, 0));
}

/// `advance` between `begin_close` and `finish`: Closed is said once the backend is Closing,
/// before `finish`, and the close ends as the one-step close does, with no extra round trip.
#[test]
fn close_advanced_early_ends_like_the_plain_close() {
    let (f, mut xs) = setup(&[(51712, 1 << 20, 512, Behaviour::Normal, Some(64))]);
    let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
    d.read_blocks(Lba(0), &mut [0u8; 512]).unwrap();
    let mut closing = begin_close(&mut xs, vec![d]);
    let r0 = xs.stats.round_trips;
    closing.advance(&mut xs);
    assert_eq!(f.get("device/vbd/51712/state").as_deref(), Some("6"));
    closing.advance(&mut xs);
    let r1 = xs.stats.round_trips;
    let closed = closing.finish(&mut xs);
    assert!(closed.disks.iter().all(Result::is_ok) && closed.still_granted == 0);
    // Closing: the state, Closed; then the state, ring nodes + Initialising, the state,
    // unwatch: the 6 round trips of `disks_connect_and_close_together` after begin_close.
    assert_eq!((r1 - r0) + (xs.stats.round_trips - r1), 6);
    assert_eq!(f.get("device/vbd/51712/state").as_deref(), Some("1"));
    assert_eq!(f.get("/local/domain/0/backend/vbd/7/51712/state").as_deref(), Some("2"));
    assert_eq!((f.live_grants(), f.live_ports()), (0, 0));
}

#[test]
fn clean_close_leaves_disk_for_next_kernel() {
    let (f, mut xs) = setup(&[(51712, 1 << 20, 512, Behaviour::Normal, Some(64))]);
    for _ in 0..2 {
        let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
        assert_eq!(f.get("device/vbd/51712/state").as_deref(), Some("4"));
        let mut b = vec![0u8; 64 << 10];
        d.read_blocks(Lba(0), &mut b).unwrap();
        d.shutdown(&mut xs).unwrap();
        assert_eq!(f.get("device/vbd/51712/state").as_deref(), Some("1"));
        assert_eq!(f.get("/local/domain/0/backend/vbd/7/51712/state").as_deref(), Some("2"));
        assert_eq!(f.get("device/vbd/51712/ring-ref"), None);
        assert_eq!(f.get("device/vbd/51712/event-channel"), None);
        assert_eq!((f.live_grants(), f.live_ports()), (0, 0));
    }
}

#[test]
fn backend_keeping_a_caller_page_mapped_fails_the_read_and_blocks_the_handover() {
    let (f, mut xs) = setup(&[(51712, 1 << 20, 512, Behaviour::KeepsMapped, Some(32))]);
    f.set_no_frames(false);
    let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
    let mut v = Vec::new();
    let buf = at_page_offset(&mut v, 64 << 10, 0);
    // An error, not a panic; the device is fenced.
    assert_eq!(d.read_blocks(Lba(0), buf), Err(IoError::Device));
    assert_eq!(d.read_blocks(Lba(0), &mut [0u8; 512]), Err(IoError::Device));
    let closed = begin_close(&mut xs, vec![d]).finish(&mut xs);
    assert!(closed.disks[0].is_err());
    // Every grant the fake still holds mapped is one the close counted.
    assert!(f.live_grants() > 0);
    assert_eq!(closed.still_granted, f.live_grants());
}

#[test]
fn close_counts_the_pages_a_backend_keeps_granted() {
    let (f, mut xs) = setup(&[
        (51712, 1 << 20, 512, Behaviour::KeepsMapped, Some(32)),
        (51728, 1 << 20, 512, Behaviour::Normal, Some(32)),
    ]);
    let mut devs: Vec<Blkfront<Fake>> =
        connect_all(&mut xs, Config::default()).unwrap().into_iter().map(|d| d.dev.unwrap()).collect();
    for d in &mut devs {
        let mut b = vec![0u8; 256 << 10];
        d.read_blocks(Lba(0), &mut b).unwrap();
    }
    let closed = begin_close(&mut xs, devs).finish(&mut xs);
    assert!(closed.disks[0].is_err() && closed.disks[1].is_ok());
    // The ring and the data pages that served the read stay mapped by the first backend.
    assert!(f.live_grants() > 1);
    assert_eq!(closed.still_granted, f.live_grants());
    // And none of them went back to the heap.
    assert!(f.retired_pages() >= closed.still_granted);
}

#[test]
fn writes_through_read_only_grants_flushes_and_reads_back() {
    let (f, mut xs) = setup(&[(51712, 1 << 20, 512, Behaviour::Normal, None)]);
    let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
    assert_eq!(d.write_refusal(), None, "mode w");
    let pool = f.live_grants();
    // Fill the read-ahead window first: the write must not leave it stale.
    let mut before = vec![0u8; 512];
    d.read_blocks(Lba(100), &mut before).unwrap();
    d.read_blocks(Lba(101), &mut before).unwrap();
    let data: Vec<u8> = (0..5000u32).map(|i| (i % 253) as u8).collect::<Vec<_>>()[..4608].to_vec();
    d.write_blocks(Lba(101), &data).unwrap();
    d.flush().unwrap();
    assert_eq!(f.flushes(51712), 1);
    assert_eq!(f.live_grants(), pool, "the write's grants ended");
    let disk = f.disk_bytes(51712);
    assert_eq!(&disk[101 * 512..101 * 512 + data.len()], &data[..], "the backend's disk holds the data");
    let mut pat = pattern(1 << 20, 0);
    pat[101 * 512..101 * 512 + data.len()].copy_from_slice(&data);
    assert_eq!(disk, pat, "nothing else changed");
    let mut back = vec![0u8; data.len()];
    d.read_blocks(Lba(101), &mut back).unwrap();
    assert_eq!(back, data, "read back after the write");
    assert!(matches!(d.write_blocks(Lba(2047), &data), Err(IoError::OutOfRange)));
}

#[test]
fn a_disk_attached_read_only_is_never_written() {
    let (f, mut xs) = setup(&[(51712, 1 << 20, 512, Behaviour::Normal, None)]);
    f.set(&format!("/local/domain/0/backend/vbd/{}/51712/mode", crate::fake::DOMID), "r");
    let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
    assert!(d.write_refusal().is_some_and(|w| w.contains("read-only")));
    assert_eq!(d.write_blocks(Lba(0), &[0u8; 512]), Err(IoError::ReadOnly));
    assert_eq!(f.disk_bytes(51712), pattern(1 << 20, 0));
    assert!(f.seen(51712).is_empty(), "no request reached the backend");
}
