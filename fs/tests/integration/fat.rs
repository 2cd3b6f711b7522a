//! FAT12/16/32 images made by `mkfs.fat` + `mcopy -s` from the test tree, read back through
//! [`fs::fat::Fat`] and compared with the host tree (the oracle), case-insensitively.

use std::path::Path;

use fs::block::FileDisk;
use fs::fat::Fat;
use fs::{BlockDevice, Error, FileType, Filesystem, MemDisk};
use testimages::tree;

use super::ext::{check_tree, corruption_run, exercise, Expect, BUILD_LOCK};

const FAT: Expect = Expect { symlinks: false, case_insensitive: true, unreadable: &[], extra_in_root: &[] };

fn image(name: &str) -> testimages::fat::Image {
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let recipe = testimages::fat::recipe(name).unwrap_or_else(|| panic!("no recipe {name}"));
    testimages::fat::build(&tree::images_dir(), &recipe).unwrap_or_else(|e| panic!("building {name}: {e}"))
}

fn open(path: &Path, sector: u32) -> Result<Fat, Error> {
    let disk = FileDisk::open_with_block_size(path, sector).expect("open image");
    Fat::open(Box::new(disk))
}

fn check_image(name: &str, kind: &str) {
    let img = image(name);
    let r = &img.recipe;
    let mut fs = open(&img.path, r.sector_size).unwrap_or_else(|e| panic!("open {name}: {e}"));
    let info = fs.info();
    assert_eq!(info.kind, kind);
    assert_eq!(info.block_size, r.cluster_size());
    assert_eq!(info.label.as_deref(), Some(r.label));
    let id = format!("{:04X}-{:04X}", r.volume_id >> 16, r.volume_id & 0xFFFF);
    assert_eq!(info.uuid.as_deref(), Some(id.as_str()));
    check_tree(&mut fs, &img.tree, FAT);

    // Case-insensitive lookups by long and by 8.3 name, and mixed-case paths.
    let a = fs.lookup("/names/MixedCase.TXT").expect("exact");
    assert_eq!(fs.lookup("/NAMES/mixedcase.txt").expect("lower"), a);
    assert_eq!(fs.lookup("/Names/MIXEDC~1.TXT").expect("8.3 name"), a);
    assert_eq!(fs.lookup("/SIZES/S-513").expect("upper").size, 513);
    assert_eq!(fs.read_link(a.id).err().map(|e| matches!(e, Error::Unsupported(_))), Some(true));
    let root = fs.lookup("/").expect("root");
    assert_eq!(root.file_type, FileType::Directory);
}

#[test]
fn fat12() {
    check_image("fat12", "fat12");
}

#[test]
fn fat16() {
    check_image("fat16", "fat16");
}

#[test]
fn fat32() {
    check_image("fat32", "fat32");
}

#[test]
fn fat16_on_4096_byte_sectors() {
    check_image("fat16-4kn", "fat16");
}

#[test]
fn other_formats_are_not_recognized() {
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let recipe = testimages::ext::recipe("ext2-small").expect("ext2-small");
    let ext = testimages::ext::build(&tree::images_dir(), &recipe).expect("ext image");
    assert_eq!(open(&ext.path, 512).err(), Some(Error::NotRecognized));
}

/// Byte ranges of FAT metadata: boot sector, the first FAT, and the root directory
/// (FAT12/16's fixed root, or the first clusters of the data area on FAT32).
fn fat_metadata_regions(data: &[u8]) -> Vec<(usize, usize)> {
    let u16_at = |o: usize| u16::from_le_bytes([data[o], data[o + 1]]) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(data[o..o + 4].try_into().unwrap()) as usize;
    let bps = u16_at(11);
    let reserved = u16_at(14) * bps;
    let fats = data[16] as usize;
    let root_entries = u16_at(17);
    let fat_sectors = if u16_at(22) != 0 { u16_at(22) } else { u32_at(36) };
    let fat_bytes = fat_sectors * bps;
    let root = reserved + fats * fat_bytes;
    let root_len = if root_entries != 0 { root_entries * 32 } else { 64 * 1024 };
    // The used part of the FAT is at its start; so is the tree's directory data.
    vec![(0, 512), (reserved, fat_bytes.min(16 * 1024)), (root, root_len), (root + root_len, 256 * 1024)]
}

fn open_fat(d: Box<dyn BlockDevice>) -> Result<Box<dyn Filesystem>, Error> {
    Fat::open(d).map(|f| Box::new(f) as Box<dyn Filesystem>)
}

#[test]
fn corrupt_fat_never_panics_or_hangs() {
    for name in ["fat12", "fat32"] {
        let img = image(name);
        let data = std::fs::read(&img.path).expect("image");
        let mut fs = open_fat(Box::new(MemDisk::new(data.clone(), 512))).expect("pristine image opens");
        assert!(exercise(&mut *fs) > 30);
        corruption_run(&data, &fat_metadata_regions(&data), 200, open_fat);
    }
}

/// Cluster number 1 (reserved) in a chain and as a first cluster: lamfat subtracts 2 from it
/// unchecked. Needs `overflow-checks = false` for lamfat in the dev profile (as in release):
/// then the bogus offsets end in errors or garbage data, never a panic.
#[test]
fn reserved_cluster_numbers_do_not_panic() {
    let img = image("fat16");
    let pristine = std::fs::read(&img.path).expect("image");
    let u16_at = |d: &[u8], o: usize| u16::from_le_bytes([d[o], d[o + 1]]) as usize;
    let bps = u16_at(&pristine, 11);
    let fat = u16_at(&pristine, 14) * bps;
    let fat_bytes = u16_at(&pristine, 22) * bps;
    let root = fat + pristine[16] as usize * fat_bytes;

    // Every link in every chain of the first FAT points at cluster 1.
    let mut chains = pristine.clone();
    let mut links = 0;
    for c in 2..fat_bytes / 2 {
        let v = u16_at(&chains, fat + 2 * c);
        if (2..0xFFF0).contains(&v) {
            chains[fat + 2 * c..fat + 2 * c + 2].copy_from_slice(&1u16.to_le_bytes());
            links += 1;
        }
    }
    assert!(links > 30, "only {links} chain links");
    let mut fs = open_fat(Box::new(MemDisk::new(chains, 512))).expect("opens");
    exercise(&mut *fs);
    assert!(fs::vfs::read_to_vec(&mut *fs, "/sizes/s-4097", 1 << 20).is_err(), "a broken chain read fine");

    // Every root-directory entry starts at cluster 1.
    let mut firsts = pristine;
    for e in (root..root + 512 * 32).step_by(32) {
        if firsts[e] != 0 && firsts[e] != 0xE5 && firsts[e + 11] != 0x0F {
            firsts[e + 26..e + 28].copy_from_slice(&1u16.to_le_bytes());
        }
    }
    let mut fs = open_fat(Box::new(MemDisk::new(firsts, 512))).expect("opens");
    exercise(&mut *fs);
}

/// Fuzz crash (target `probe`, minimised to 2 KiB): a FAT12 whose directory entries point at
/// clusters 0 and 1. lamfat computes `cluster - 2` unchecked; with overflow checks that panics.
/// What ships (and this test profile, see the workspace Cargo.toml) wraps, and our I/O layer
/// must then reject the bogus offset: opening and walking must end with errors, not a panic.
#[test]
fn fuzz_crash_probe_fat_cluster_below_2() {
    let data = include_bytes!("data/fuzz-probe-fat-cluster-below-2.bin").to_vec();
    let disk = fs::probe::scan_disk(0, Box::new(MemDisk::new(data, 512)));
    let mut walked = 0;
    for p in disk.candidates() {
        let Ok(mut f) = fs::probe::open_fs(p) else { continue };
        let root = f.root();
        for e in f.read_dir(root).unwrap_or_default() {
            walked += 1;
            let _ = f.lookup(&format!("/{}", e.name));
            if e.file_type == FileType::File {
                let mut buf = vec![0u8; 4096];
                let _ = f.read_at(e.id, 0, &mut buf);
            } else if e.file_type == FileType::Directory {
                let _ = f.read_dir(e.id);
            }
        }
    }
    // The image is recognised as FAT and its root is read (the crash was inside the walk).
    assert!(walked > 0, "the minimised image no longer reaches the directory walk");
}
