//! Partitioned disks made by sfdisk/fdisk (and our NetBSD label writer, checked against
//! NetBSD's disklabel.h layout), holding filesystems made by mkfs.fat, mke2fs and makefs:
//! the maps rpvboot parses must be what the tools were told and what `sfdisk --json` reports,
//! and the files read back through `probe` must be the files put in.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fs::block::{check_request, FileDisk};
use fs::probe::{self, Disk, MapKind, PartType, Role};
use fs::vfs::{read_to_vec, FileType};
use fs::{BlockDevice, IoError, Lba, MemDisk};
use testimages::disk::{self as tdisk, DiskImage, DiskSpec, FsKind};
use testimages::tree;

fn build(spec: &DiskSpec) -> DiskImage {
    tdisk::build(&tree::images_dir(), spec)
        .unwrap_or_else(|e| panic!("building disk {} (cargo xtask images): {e}", spec.name))
}

fn scan(img: &DiskImage) -> Disk {
    let dev = FileDisk::open_with_block_size(&img.path, img.spec.sector_size).expect("open image");
    probe::scan_disk(0, Box::new(dev))
}

fn map_of(spec: &DiskSpec) -> MapKind {
    match spec.map {
        tdisk::MapKind::None => MapKind::None,
        tdisk::MapKind::Mbr | tdisk::MapKind::MbrDisklabel => MapKind::Mbr,
        tdisk::MapKind::Gpt => MapKind::Gpt,
        tdisk::MapKind::Disklabel => MapKind::Disklabel,
    }
}

/// Every disk's partitions are exactly the recipe's: names, extents, types, roles.
#[test]
fn maps_match_what_the_tools_were_told() {
    for spec in tdisk::specs() {
        let img = build(&spec);
        let disk = scan(&img);
        assert_eq!(disk.map, map_of(&spec), "{}: map", spec.name);
        assert_eq!(disk.block_size, spec.sector_size);
        let got: Vec<(String, u64, u64)> = disk.partitions.iter().map(|p| (p.grub_name(), p.start, p.size)).collect();
        let want: Vec<(String, u64, u64)> = spec.parts.iter().map(|p| (p.grub.to_string(), p.start, p.size)).collect();
        assert_eq!(got, want, "{}: partitions", spec.name);
        for (p, s) in disk.partitions.iter().zip(&spec.parts) {
            match (&p.ptype, s) {
                (PartType::Mbr(t), s) => assert_eq!(Some(*t), s.mbr_type, "{} {}", spec.name, s.grub),
                (PartType::Gpt { type_guid, unique_guid, name }, s) => {
                    assert_eq!(Some(type_guid.to_string().as_str()), s.gpt_type, "{} {}", spec.name, s.grub);
                    if spec.sector_size == 512 {
                        assert_eq!(Some(unique_guid.to_string().as_str()), s.gpt_uuid);
                        assert_eq!(Some(name.as_str()), s.gpt_name);
                    }
                }
                (PartType::Disklabel(t), s) => assert_eq!(Some(*t), s.fstype, "{} {}", spec.name, s.grub),
                (PartType::Whole, s) => assert_eq!(s.grub, "(hd0)"),
            }
            let raw = s.fs == FsKind::None && s.fstype == Some(tdisk::FS_UNUSED);
            let container = s.fs == FsKind::None && s.mbr_type.is_some_and(|t| t == 0x05 || t == 0xA9);
            let want_role = if raw {
                Role::Raw
            } else if container {
                Role::Container
            } else {
                Role::Data
            };
            assert_eq!(p.role, want_role, "{} {}", spec.name, s.grub);
        }
        let backup = disk.notes.iter().any(|n| n.contains("backup"));
        assert_eq!(backup, spec.corrupt_primary_gpt, "{}: notes {:?}", spec.name, disk.notes);
        if !spec.corrupt_primary_gpt {
            assert!(disk.notes.is_empty(), "{}: notes {:?}", spec.name, disk.notes);
        }
    }
}

/// The second oracle: util-linux's own reading of the 512-byte-sector MBR and GPT disks.
#[test]
fn maps_match_sfdisk_json() {
    for spec in tdisk::specs().into_iter().filter(|s| s.sector_size == 512) {
        if matches!(spec.map, tdisk::MapKind::None | tdisk::MapKind::Disklabel) {
            continue;
        }
        let img = build(&spec);
        let (label, parts) = tdisk::sfdisk_json(&img.path).expect("sfdisk --json");
        let disk = scan(&img);
        let ours: Vec<_> = disk.partitions.iter().filter(|p| p.letter.is_none()).collect();
        assert_eq!(ours.len(), parts.len(), "{}", spec.name);
        for (p, sf) in ours.iter().zip(&parts) {
            assert_eq!(p.index, Some(sf.number - 1), "{}", spec.name);
            assert_eq!((p.start, p.size), (sf.start, sf.size), "{} {}", spec.name, p.grub_name());
            match &p.ptype {
                PartType::Mbr(t) => {
                    assert_eq!(label, "dos");
                    assert_eq!(format!("{t:x}"), sf.ptype);
                }
                PartType::Gpt { type_guid, unique_guid, name } => {
                    assert_eq!(label, "gpt");
                    assert_eq!(type_guid.to_string(), sf.ptype);
                    assert_eq!(Some(unique_guid.to_string()), sf.uuid);
                    assert_eq!(name, sf.name.as_deref().unwrap_or(""));
                }
                other => panic!("{}: unexpected {other:?}", spec.name),
            }
        }
    }
}

/// The 4Kn GPT also reads through an in-memory disk of 4096-byte sectors, and the backup
/// header alone gives the same table as an intact GPT.
#[test]
fn four_k_sectors_and_backup_gpt() {
    let spec = tdisk::spec("gpt-4k").expect("recipe");
    let img = build(&spec);
    let bytes = std::fs::read(&img.path).expect("read image");
    let disk = probe::scan_disk(0, Box::new(MemDisk::new(bytes, 4096)));
    assert_eq!(disk.map, MapKind::Gpt);
    let got: Vec<(u64, u64)> = disk.partitions.iter().map(|p| (p.start, p.size)).collect();
    let want: Vec<(u64, u64)> = spec.parts.iter().map(|p| (p.start, p.size)).collect();
    assert_eq!(got, want);

    let good = scan(&build(&tdisk::spec("gpt").expect("recipe")));
    let bad = scan(&build(&tdisk::spec("gpt-bad-primary").expect("recipe")));
    let summary = |d: &Disk| -> Vec<(String, u64, u64, PartType)> {
        d.partitions.iter().map(|p| (p.grub_name(), p.start, p.size, p.ptype.clone())).collect()
    };
    assert_eq!(summary(&good), summary(&bad));
    assert!(bad.notes.iter().any(|n| n.contains("backup")), "{:?}", bad.notes);
}

fn reader_for(kind: FsKind) -> bool {
    let want = kind.kind_prefix();
    probe::readers().any(|r| r == want)
}

/// Every file put into every partition reads back through `resolve` with the partition's
/// GRUB name, byte for byte; symlinks are followed.
#[test]
fn files_read_back_through_probe() {
    let mut checked = 0;
    for spec in tdisk::specs() {
        let img = build(&spec);
        let disks = [scan(&img)];
        for p in spec.parts.iter().filter(|p| p.fs != FsKind::None) {
            if !reader_for(p.fs) {
                eprintln!("{} {}: no {:?} reader wired into probe yet: skipped", spec.name, p.grub, p.fs);
                continue;
            }
            let part = disks[0].find(&probe::DeviceSpec::parse(p.grub).expect("name")).expect("partition");
            let mut fs = probe::open_fs(&part).unwrap_or_else(|e| panic!("{} {}: open: {e}", spec.name, p.grub));
            assert!(fs.info().kind.starts_with(p.fs.kind_prefix()), "{} {}: {:?}", spec.name, p.grub, fs.info());
            for (path, want) in tdisk::part_files(p.tag, p.fs) {
                let got = read_to_vec(fs.as_mut(), &path, 1 << 24)
                    .unwrap_or_else(|e| panic!("{} {}{path}: {e}", spec.name, p.grub));
                assert!(got == want, "{} {}{path}: {} bytes read, {} put in", spec.name, p.grub, got.len(), want.len());
                let r = probe::resolve(&disks, &format!("{}{path}", p.grub))
                    .unwrap_or_else(|e| panic!("{} {}{path}: {e}", spec.name, p.grub));
                assert_eq!(r.meta.size, want.len() as u64);
                assert_eq!(r.meta.file_type, FileType::File);
                checked += 1;
            }
            // A plain path only this partition has is found by discovery.
            let only = format!("/only-{}", p.tag);
            let r = probe::resolve(&disks, &only).unwrap_or_else(|e| panic!("{} {only}: {e}", spec.name));
            assert_eq!(r.partition.grub_name(), p.grub, "{} {only}", spec.name);
        }
        // A plain path every partition has comes from the first searchable one that can be read.
        let first = spec.parts.iter().find(|p| p.fs != FsKind::None && reader_for(p.fs));
        if let Some(first) = first {
            let r = probe::resolve(&disks, "/id.txt").expect("/id.txt");
            assert_eq!(r.partition.grub_name(), first.grub, "{}", spec.name);
        }
        assert!(matches!(probe::resolve(&disks, "/no/such/file"), Err(fs::Error::NotFound)));
    }
    assert!(checked > 0 || probe::readers().count() == 0, "nothing was checked");
}

/// GRUB-legacy conveniences on real disks: `(hd0,a)` finds the label inside the NetBSD slot,
/// `(hd0,1)/…` on that slot falls back to its `a`, GRUB 2 names mean the same partitions.
#[test]
fn device_names_on_real_disks() {
    let img = build(&tdisk::spec("netbsd-mbr").expect("recipe"));
    let disks = [scan(&img)];
    let find = |s: &str| disks[0].find(&probe::DeviceSpec::parse(s).expect("name")).map(|p| (p.start, p.size));
    assert_eq!(find("(hd0,a)").unwrap(), find("(hd0,1,a)").unwrap());
    assert_eq!(find("(hd0,msdos2,bsd5)").unwrap(), find("(hd0,1,e)").unwrap());
    assert!(find("(hd0,2)").is_err());
    if reader_for(FsKind::Ffs1) {
        // 'a' starts where the slot does (NetBSD's usual layout): either way its files are seen.
        let mut r = probe::resolve(&disks, "(hd0,1)/id.txt").expect("slot or its a");
        let got = read_to_vec(r.fs.as_mut(), "/id.txt", 4096).expect("read");
        assert_eq!(got, b"rpvboot test partition nbm-a-ffs1\n");
    }
    let bare = build(&tdisk::spec("netbsd-bare").expect("recipe"));
    let disks = [scan(&bare)];
    let p = disks[0].find(&probe::DeviceSpec::parse("(hd0,e)").expect("name")).expect("e");
    assert_eq!((p.start, p.size), (36864, 32768));
}

/// A disk whose reads see seeded byte flips in its map sectors (MBR, EBRs, GPT headers and
/// arrays, disklabels): scanning and opening every partition ends, without panic, quickly.
struct FlipDisk {
    base: Arc<Vec<u8>>,
    flips: Vec<(usize, u8)>,
    bs: u32,
}

impl BlockDevice for FlipDisk {
    fn block_size(&self) -> u32 {
        self.bs
    }
    fn num_blocks(&self) -> u64 {
        self.base.len() as u64 / u64::from(self.bs)
    }
    fn read_blocks(&mut self, lba: Lba, buf: &mut [u8]) -> Result<(), IoError> {
        check_request(self.bs, self.num_blocks(), lba, buf.len())?;
        let start = (lba.0 * u64::from(self.bs)) as usize;
        buf.copy_from_slice(&self.base[start..start + buf.len()]);
        for &(off, x) in &self.flips {
            if off >= start && off < start + buf.len() {
                buf[off - start] ^= x;
            }
        }
        Ok(())
    }
}

#[test]
fn corrupted_maps_on_real_disks() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for name in ["mbr-logical", "gpt", "netbsd-mbr", "netbsd-bare", "gpt-4k"] {
        let spec = tdisk::spec(name).expect("recipe");
        let img = build(&spec);
        let base = Arc::new(std::fs::read(&img.path).expect("read"));
        let bs = spec.sector_size as usize;
        // Map sectors: sector 0..3 (MBR, GPT header + array start, bare label), the last 33
        // (backup GPT), every EBR and every NetBSD slot's label sector.
        let mut hot: Vec<(usize, usize)> = vec![(0, 4 * bs), (base.len() - 33 * bs, 33 * bs)];
        for p in &spec.parts {
            if p.mbr_type == Some(0xA9) {
                hot.push(((p.start as usize + 1) * bs, 512));
            }
            if p.grub.ends_with(",4)") || p.grub.ends_with(",5)") || p.grub.ends_with(",6)") {
                hot.push(((p.start as usize - 2048) * bs, 512));
            }
        }
        let t0 = Instant::now();
        for _ in 0..300 {
            let n = 1 + rnd() % 8;
            let flips: Vec<(usize, u8)> = (0..n)
                .map(|_| {
                    let (off, len) = hot[(rnd() % hot.len() as u64) as usize];
                    (off + (rnd() % len as u64) as usize, 1u8 << (rnd() % 8))
                })
                .collect();
            let dev = FlipDisk { base: Arc::clone(&base), flips, bs: spec.sector_size };
            let disk = probe::scan_disk(0, Box::new(dev));
            for p in disk.candidates() {
                if let Ok(mut fs) = probe::open_fs(p) {
                    let _ = fs.lookup("/id.txt");
                }
            }
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "{name}: too slow: {:?}", t0.elapsed());
    }
}

/// Our disklabels (writer and reader) agree with util-linux's BSD label parser, which also
/// takes p_offset as absolute inside an MBR partition.
#[test]
fn disklabels_match_libfdisk() {
    for (name, nested) in [("netbsd-mbr", true), ("netbsd-bare", false)] {
        let img = build(&tdisk::spec(name).expect("recipe"));
        let theirs = tdisk::sfdisk_bsd(&img.path, nested).expect("sfdisk -d bsd");
        let disk = scan(&img);
        let ours: Vec<tdisk::BsdPart> = disk
            .partitions
            .iter()
            .filter_map(|p| {
                let PartType::Disklabel(t) = p.ptype else { return None };
                Some(tdisk::BsdPart {
                    slot: u32::from(p.letter? as u8 - b'a'),
                    start: p.start,
                    size: p.size,
                    fstype: t,
                })
            })
            .collect();
        assert!(!ours.is_empty());
        assert_eq!(ours, theirs, "{name}");
    }
}
