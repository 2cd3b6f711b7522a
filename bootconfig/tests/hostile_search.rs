//! The configuration search (issue 20) over a disk whose GPT has 8192 entries all pointing at
//! one ext2 without a configuration, under a global allocator capped at 32 MiB: the search
//! must end (in the built-in menu) in bounded memory. Each opened ext filesystem holds a few
//! hundred KiB, so keeping one per entry ran to 2.4 GB.

use bootconfig::search::{self, DiskVolumes, Volumes};
use testimages::capped::{CappedAlloc, TEST_CAP};
use testimages::hostile;

#[global_allocator]
static ALLOC: CappedAlloc = CappedAlloc::new(TEST_CAP);

#[test]
fn gpt_of_8192_entries_over_one_ext2_is_searched_in_bounded_memory() {
    let img = hostile::gpt_repeating_one_ext2().unwrap();
    let (r, m) = ALLOC.measure(|| {
        let dev = fs::block::FileDisk::open(&img).unwrap();
        let disks = vec![fs::probe::scan_disk(0, Box::new(dev))];
        let mut v = DiskVolumes::new(&disks);
        let vols = v.volumes();
        let loaded = search::load("", &mut v);
        (vols, loaded)
    });
    let (vols, loaded) = r;
    eprintln!("{} volumes, config {:?}; peak heap {} KiB", vols.len(), loaded.source.path, m.peak / 1024);
    // Every entry is a volume (sfdisk's one partition, copied 8191 times by the recipe).
    assert_eq!(vols.len(), hostile::GPT_ENTRIES as usize);
    assert!(vols.iter().all(|v| v.fs == search::FsKind::Ext));
    // No configuration anywhere: the built-in menu.
    assert!(matches!(loaded.reason, search::Reason::Builtin | search::Reason::Nothing), "{:?}", loaded.source);
    assert!(m.peak < 8 << 20, "peak heap {} KiB", m.peak / 1024);
}
