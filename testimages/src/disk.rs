//! Partitioned disks: MBR with logical partitions and GPT (sfdisk; fdisk `-b 4096` for a
//! 4Kn GPT), NetBSD disklabels (written here, see [`disklabel_bytes`]), and bare filesystems,
//! each partition holding a small filesystem made by the real tools (mkfs.fat + mcopy,
//! mke2fs -d, makefs) from a tree of known files ([`part_files`]).
//!
//! The oracles for tests are what the tools were told ([`DiskSpec`]), `sfdisk --json` on the
//! result ([`sfdisk_json`]) and the files put in. Images are cached under
//! `target/testimages/disks/` by a fingerprint of their recipe.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// Bumped when a recipe, the file tree or the label writer changes.
const RECIPE_VERSION: u32 = 3;

/// Fixed time for the tools (seconds since the epoch: 2024-01-01).
const FIXED_TIME: u64 = 1_704_067_200;

/// The filesystem put into a partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsKind {
    /// mkfs.fat (FAT16 unless the size forces FAT12) + mcopy.
    Fat,
    /// mke2fs -t ext2 -b 1024.
    Ext2,
    /// mke2fs -t ext2 -b 4096.
    Ext2k4,
    /// makefs -t ffs -o version=1 (le).
    Ffs1,
    /// makefs -t ffs -o version=2 (le).
    Ffs2,
    /// makefs -t ffs -o version=2 -B be.
    Ffs2Be,
    /// Nothing (swap, containers).
    None,
}

impl FsKind {
    /// Whether the tree gets a symbolic link (not on FAT).
    pub fn has_symlinks(self) -> bool {
        !matches!(self, Self::Fat | Self::None)
    }
    /// The `FsInfo::kind` prefix rpvboot should report.
    pub fn kind_prefix(self) -> &'static str {
        match self {
            Self::Fat => "fat",
            Self::Ext2 | Self::Ext2k4 => "ext",
            Self::Ffs1 | Self::Ffs2 | Self::Ffs2Be => "ffs",
            Self::None => "",
        }
    }
}

/// The map a disk is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    /// No map: one filesystem on the whole disk.
    None,
    /// sfdisk `label: dos`.
    Mbr,
    /// sfdisk `label: gpt` (512) or fdisk -b 4096 (4096).
    Gpt,
    /// A NetBSD disklabel at sector 1 of the bare disk.
    Disklabel,
    /// An MBR (sfdisk) with a NetBSD 0xA9 partition holding a disklabel at its sector 1.
    MbrDisklabel,
}

/// One partition of a recipe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartSpec {
    /// The GRUB-legacy name rpvboot must give it, e.g. `(hd0,4)`, `(hd0,0,e)`.
    pub grub: &'static str,
    /// First sector (device sectors; absolute).
    pub start: u64,
    /// Sectors.
    pub size: u64,
    /// MBR type byte (MBR partitions).
    pub mbr_type: Option<u8>,
    /// GPT type GUID (GPT partitions).
    pub gpt_type: Option<&'static str>,
    /// GPT unique GUID (pinned).
    pub gpt_uuid: Option<&'static str>,
    /// GPT name.
    pub gpt_name: Option<&'static str>,
    /// Disklabel p_fstype (label partitions).
    pub fstype: Option<u8>,
    /// The filesystem in it.
    pub fs: FsKind,
    /// Tag written into its files (`/id.txt`), unique per disk.
    pub tag: &'static str,
}

/// A disk recipe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskSpec {
    /// File stem.
    pub name: &'static str,
    /// Sector size (512 or 4096).
    pub sector_size: u32,
    /// Size in sectors.
    pub sectors: u64,
    /// Its map.
    pub map: MapKind,
    /// Partitions (MBR ones with their start as sfdisk will place it), in rpvboot's discovery
    /// order. Extended containers and raw label partitions are listed with [`FsKind::None`].
    pub parts: Vec<PartSpec>,
    /// The primary GPT header is damaged after writing (the backup must be used).
    pub corrupt_primary_gpt: bool,
    /// d_npartitions for a disklabel.
    pub label_npartitions: u16,
}

/// A built disk.
#[derive(Clone, Debug)]
pub struct DiskImage {
    /// Its recipe.
    pub spec: DiskSpec,
    /// The image file.
    pub path: PathBuf,
}

const P: PartSpec = PartSpec {
    grub: "",
    start: 0,
    size: 0,
    mbr_type: None,
    gpt_type: None,
    gpt_uuid: None,
    gpt_name: None,
    fstype: None,
    fs: FsKind::None,
    tag: "",
};

/// GPT type: EFI system partition.
pub const GUID_ESP: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
/// GPT type: Linux filesystem.
pub const GUID_LINUX: &str = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
/// GPT type: NetBSD FFS (NetBSD sys/sys/disklabel_gpt.h).
pub const GUID_NETBSD_FFS: &str = "49F48D5A-B10E-11DC-B99B-0019D1879648";
/// The pinned GPT disk GUID.
pub const GPT_DISK_GUID: &str = "6A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D";

/// Disklabel p_fstype values (NetBSD sys/sys/disklabel.h FSTYPE_DEFN).
pub const FS_UNUSED: u8 = 0;
/// FS_SWAP.
pub const FS_SWAP: u8 = 1;
/// FS_BSDFFS.
pub const FS_BSDFFS: u8 = 7;
/// FS_EX2FS.
pub const FS_EX2FS: u8 = 17;

/// Every disk recipe.
pub fn specs() -> Vec<DiskSpec> {
    let gpt_parts = |k4: bool| {
        let m = if k4 { 8 } else { 1 };
        vec![
            PartSpec {
                grub: "(hd0,0)",
                start: 2048 / m,
                size: 16384 / m,
                gpt_type: Some(GUID_ESP),
                gpt_uuid: Some("11111111-2222-4333-8444-555555555501"),
                gpt_name: Some("EFI system"),
                fs: FsKind::Fat,
                tag: "gpt-0-fat",
                ..P
            },
            PartSpec {
                grub: "(hd0,1)",
                start: 18432 / m,
                size: 16384 / m,
                gpt_type: Some(GUID_LINUX),
                gpt_uuid: Some("11111111-2222-4333-8444-555555555502"),
                gpt_name: Some("linux root"),
                fs: if k4 { FsKind::Ext2k4 } else { FsKind::Ext2 },
                tag: "gpt-1-ext2",
                ..P
            },
            PartSpec {
                grub: "(hd0,2)",
                start: 34816 / m,
                size: 32768 / m,
                gpt_type: Some(GUID_NETBSD_FFS),
                gpt_uuid: Some("11111111-2222-4333-8444-555555555503"),
                gpt_name: Some("netbsd root"),
                fs: FsKind::Ffs2,
                tag: "gpt-2-ffs2",
                ..P
            },
        ]
    };
    vec![
        DiskSpec {
            name: "mbr-logical",
            sector_size: 512,
            sectors: 98304,
            map: MapKind::Mbr,
            parts: vec![
                PartSpec {
                    grub: "(hd0,0)",
                    start: 2048,
                    size: 16384,
                    mbr_type: Some(0x0C),
                    fs: FsKind::Fat,
                    tag: "mbr-0-fat",
                    ..P
                },
                PartSpec {
                    grub: "(hd0,1)",
                    start: 18432,
                    size: 16384,
                    mbr_type: Some(0x83),
                    fs: FsKind::Ext2,
                    tag: "mbr-1-ext2",
                    ..P
                },
                PartSpec { grub: "(hd0,2)", start: 34816, size: 63488, mbr_type: Some(0x05), ..P },
                PartSpec {
                    grub: "(hd0,4)",
                    start: 36864,
                    size: 16384,
                    mbr_type: Some(0x83),
                    fs: FsKind::Ffs1,
                    tag: "mbr-4-ffs1",
                    ..P
                },
                PartSpec {
                    grub: "(hd0,5)",
                    start: 55296,
                    size: 16384,
                    mbr_type: Some(0x0C),
                    fs: FsKind::Fat,
                    tag: "mbr-5-fat",
                    ..P
                },
                PartSpec {
                    grub: "(hd0,6)",
                    start: 73728,
                    size: 16384,
                    mbr_type: Some(0x83),
                    fs: FsKind::Ext2,
                    tag: "mbr-6-ext2",
                    ..P
                },
            ],
            corrupt_primary_gpt: false,
            label_npartitions: 0,
        },
        DiskSpec {
            name: "gpt",
            sector_size: 512,
            sectors: 98304,
            map: MapKind::Gpt,
            parts: gpt_parts(false),
            corrupt_primary_gpt: false,
            label_npartitions: 0,
        },
        DiskSpec {
            name: "gpt-bad-primary",
            sector_size: 512,
            sectors: 98304,
            map: MapKind::Gpt,
            parts: gpt_parts(false),
            corrupt_primary_gpt: true,
            label_npartitions: 0,
        },
        DiskSpec {
            name: "gpt-4k",
            sector_size: 4096,
            sectors: 98304 / 8,
            map: MapKind::Gpt,
            parts: gpt_parts(true),
            corrupt_primary_gpt: false,
            label_npartitions: 0,
        },
        DiskSpec {
            name: "netbsd-mbr",
            sector_size: 512,
            sectors: 98304,
            map: MapKind::MbrDisklabel,
            parts: vec![
                PartSpec {
                    grub: "(hd0,0)",
                    start: 2048,
                    size: 16384,
                    mbr_type: Some(0x0C),
                    fs: FsKind::Fat,
                    tag: "nbm-0-fat",
                    ..P
                },
                PartSpec { grub: "(hd0,1)", start: 18432, size: 79872, mbr_type: Some(0xA9), ..P },
                PartSpec {
                    grub: "(hd0,1,a)",
                    start: 18432,
                    size: 32768,
                    fstype: Some(FS_BSDFFS),
                    fs: FsKind::Ffs1,
                    tag: "nbm-a-ffs1",
                    ..P
                },
                PartSpec { grub: "(hd0,1,b)", start: 51200, size: 4096, fstype: Some(FS_SWAP), ..P },
                PartSpec { grub: "(hd0,1,c)", start: 18432, size: 79872, fstype: Some(FS_UNUSED), ..P },
                PartSpec { grub: "(hd0,1,d)", start: 0, size: 98304, fstype: Some(FS_UNUSED), ..P },
                PartSpec {
                    grub: "(hd0,1,e)",
                    start: 55296,
                    size: 32768,
                    fstype: Some(FS_BSDFFS),
                    fs: FsKind::Ffs2,
                    tag: "nbm-e-ffs2",
                    ..P
                },
            ],
            corrupt_primary_gpt: false,
            label_npartitions: 16,
        },
        DiskSpec {
            name: "netbsd-bare",
            sector_size: 512,
            sectors: 98304,
            map: MapKind::Disklabel,
            parts: vec![
                PartSpec {
                    grub: "(hd0,a)",
                    start: 0,
                    size: 32768,
                    fstype: Some(FS_BSDFFS),
                    fs: FsKind::Ffs2,
                    tag: "nbb-a-ffs2",
                    ..P
                },
                PartSpec { grub: "(hd0,b)", start: 32768, size: 4096, fstype: Some(FS_SWAP), ..P },
                PartSpec { grub: "(hd0,c)", start: 0, size: 98304, fstype: Some(FS_UNUSED), ..P },
                PartSpec { grub: "(hd0,d)", start: 0, size: 98304, fstype: Some(FS_UNUSED), ..P },
                PartSpec {
                    grub: "(hd0,e)",
                    start: 36864,
                    size: 32768,
                    fstype: Some(FS_BSDFFS),
                    fs: FsKind::Ffs1,
                    tag: "nbb-e-ffs1",
                    ..P
                },
                PartSpec {
                    grub: "(hd0,f)",
                    start: 69632,
                    size: 16384,
                    fstype: Some(FS_EX2FS),
                    fs: FsKind::Ext2,
                    tag: "nbb-f-ext2",
                    ..P
                },
                PartSpec {
                    grub: "(hd0,g)",
                    start: 86016,
                    size: 12288,
                    fstype: Some(FS_BSDFFS),
                    fs: FsKind::Ffs2Be,
                    tag: "nbb-g-ffs2be",
                    ..P
                },
            ],
            corrupt_primary_gpt: false,
            label_npartitions: 7,
        },
        DiskSpec {
            name: "bare-ext2",
            sector_size: 512,
            sectors: 16384,
            map: MapKind::None,
            parts: vec![PartSpec { grub: "(hd0)", start: 0, size: 16384, fs: FsKind::Ext2, tag: "bare-ext2", ..P }],
            corrupt_primary_gpt: false,
            label_npartitions: 0,
        },
        DiskSpec {
            name: "bare-fat",
            sector_size: 512,
            sectors: 16384,
            map: MapKind::None,
            parts: vec![PartSpec { grub: "(hd0)", start: 0, size: 16384, fs: FsKind::Fat, tag: "bare-fat", ..P }],
            corrupt_primary_gpt: false,
            label_npartitions: 0,
        },
    ]
}

/// The recipe called `name`.
pub fn spec(name: &str) -> Option<DiskSpec> {
    specs().into_iter().find(|s| s.name == name)
}

/// Deterministic bytes for a file: xorshift seeded by the tag and path.
fn pattern(tag: &str, path: &str, len: usize) -> Vec<u8> {
    let mut s: u64 = 0xcbf2_9ce4_8422_2325;
    for b in tag.bytes().chain(path.bytes()) {
        s = (s ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        out.extend_from_slice(&s.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The files put into a partition with this tag: (absolute path, contents). Directories are
/// implied. On filesystems with symlinks, `/link` (→ `boot/netbsd`) and `/dir/up`
/// (→ `../id.txt`) are added; reading them must give their targets' bytes.
pub fn part_files(tag: &str, fs: FsKind) -> Vec<(String, Vec<u8>)> {
    let mut v = vec![
        ("/id.txt".to_string(), format!("rpvboot test partition {tag}\n").into_bytes()),
        ("/boot/netbsd".to_string(), pattern(tag, "/boot/netbsd", 70_001)),
        ("/dir/sub/deep.txt".to_string(), format!("deep in {tag}\n").into_bytes()),
        ("/big.bin".to_string(), pattern(tag, "/big.bin", 300 * 1024 + 17)),
        ("/empty".to_string(), Vec::new()),
        (format!("/only-{tag}"), tag.as_bytes().to_vec()),
    ];
    if fs.has_symlinks() {
        let netbsd = v[1].1.clone();
        let id = v[0].1.clone();
        v.push(("/link".to_string(), netbsd));
        v.push(("/dir/up".to_string(), id));
    }
    v
}

/// Symbolic links of [`part_files`]: (path, target).
fn part_symlinks(fs: FsKind) -> Vec<(&'static str, &'static str)> {
    if fs.has_symlinks() {
        vec![("/link", "boot/netbsd"), ("/dir/up", "../id.txt")]
    } else {
        Vec::new()
    }
}

fn write_tree(dir: &Path, tag: &str, fs: FsKind) -> Result<(), String> {
    let _ = fs::remove_dir_all(dir);
    let links = part_symlinks(fs);
    for (path, data) in part_files(tag, fs) {
        if links.iter().any(|(l, _)| *l == path) {
            continue;
        }
        let p = dir.join(path.trim_start_matches('/'));
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("mkdir {}: {e}", parent.display()))?;
        }
        fs::write(&p, data).map_err(|e| format!("write {}: {e}", p.display()))?;
    }
    for (path, target) in links {
        let p = dir.join(path.trim_start_matches('/'));
        std::os::unix::fs::symlink(target, &p).map_err(|e| format!("symlink {}: {e}", p.display()))?;
    }
    Ok(())
}

use crate::tools::find_tool as tool;

fn run(cmd: &mut Command, stdin: Option<&str>) -> Result<String, String> {
    let what = format!("{cmd:?}");
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("{what}: {e}"))?;
    if let (Some(input), Some(mut si)) = (stdin, child.stdin.take()) {
        si.write_all(input.as_bytes()).map_err(|e| format!("{what}: stdin: {e}"))?;
    }
    let out = child.wait_with_output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{what} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Makes a filesystem image of `bytes` bytes holding the tree for `tag`.
fn make_fs(work: &Path, tag: &str, kind: FsKind, bytes: u64, sector: u32) -> Result<PathBuf, String> {
    let tree = work.join(format!("tree-{tag}"));
    write_tree(&tree, tag, kind)?;
    let img = work.join(format!("{tag}.fs"));
    let _ = fs::remove_file(&img);
    let label: String = tag.chars().filter(|c| c.is_ascii_alphanumeric()).take(11).collect::<String>().to_uppercase();
    match kind {
        FsKind::Fat => {
            run(
                Command::new(tool("mkfs.fat")?)
                    .args(["-C", "-S", &sector.to_string(), "-i", "1234abcd", "-n", &label])
                    .arg(&img)
                    .arg((bytes / 1024).to_string()),
                None,
            )?;
            let mut entries: Vec<PathBuf> = fs::read_dir(&tree)
                .map_err(|e| format!("{}: {e}", tree.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            run(
                Command::new(tool("mcopy")?)
                    .env("MTOOLS_SKIP_CHECK", "1")
                    .arg("-s")
                    .arg("-i")
                    .arg(&img)
                    .args(&entries)
                    .arg("::/"),
                None,
            )?;
        }
        FsKind::Ext2 | FsKind::Ext2k4 => {
            let bs = if kind == FsKind::Ext2 { "1024" } else { "4096" };
            run(
                Command::new(tool("mke2fs")?)
                    .env("E2FSPROGS_FAKE_TIME", FIXED_TIME.to_string())
                    .env("MKE2FS_CONFIG", "/etc/mke2fs.conf")
                    .args(["-q", "-F", "-t", "ext2", "-b", bs, "-U", "0b3c5d7e-1f2a-4b4c-9d6e-7f8091a2b3c4", "-L", tag])
                    .args(["-E", "root_owner=0:0", "-d"])
                    .arg(&tree)
                    .arg(&img)
                    .arg(format!("{}k", bytes / 1024)),
                None,
            )?;
        }
        FsKind::Ffs1 | FsKind::Ffs2 | FsKind::Ffs2Be => {
            let (version, order) = match kind {
                FsKind::Ffs1 => ("1", "le"),
                FsKind::Ffs2 => ("2", "le"),
                _ => ("2", "be"),
            };
            let opts = if sector == 4096 {
                format!("version={version},bsize=32768,fsize=4096")
            } else {
                format!("version={version},bsize=16384,fsize=2048")
            };
            run(
                Command::new(tool("makefs")?)
                    .args(["-t", "ffs", "-B", order, "-o", &opts, "-s", &bytes.to_string()])
                    .args(["-T", &FIXED_TIME.to_string()])
                    .arg(&img)
                    .arg(&tree),
                None,
            )?;
        }
        FsKind::None => return Err("no filesystem".into()),
    }
    let _ = fs::remove_dir_all(&tree);
    Ok(img)
}

/// Copies `src` into `disk` at byte `offset`.
fn put_file(disk: &mut fs::File, offset: u64, src: &Path) -> Result<(), String> {
    let mut data = Vec::new();
    fs::File::open(src).and_then(|mut f| f.read_to_end(&mut data)).map_err(|e| format!("{}: {e}", src.display()))?;
    put_bytes(disk, offset, &data)
}

fn put_bytes(disk: &mut fs::File, offset: u64, data: &[u8]) -> Result<(), String> {
    disk.seek(SeekFrom::Start(offset)).and_then(|_| disk.write_all(data)).map_err(|e| format!("write at {offset}: {e}"))
}

/// A NetBSD disklabel (`struct disklabel`, sys/sys/disklabel.h), little-endian as amd64
/// writes it: magic at 0 and 132, d_secsize at 40, d_secperunit at 60, d_npartitions at 138,
/// partitions from 148 (16 bytes: p_size, p_offset, p_fsize, p_fstype, p_frag, p_cpg), and
/// d_checksum at 136 chosen so that the XOR of all 16-bit words of the 148 + 16·N bytes is 0.
/// `parts`: (slot, p_size, p_offset, p_fstype), offsets absolute.
pub fn disklabel_bytes(secsize: u32, secperunit: u32, npartitions: u16, parts: &[(usize, u32, u32, u8)]) -> Vec<u8> {
    const MAGIC: u32 = 0x8256_4557;
    let n = usize::from(npartitions);
    let mut b = vec![0u8; 148 + 16 * n];
    b[0..4].copy_from_slice(&MAGIC.to_le_bytes());
    b[8..16].copy_from_slice(b"rpvtest\0");
    b[24..32].copy_from_slice(b"testdisk");
    b[40..44].copy_from_slice(&secsize.to_le_bytes());
    b[44..48].copy_from_slice(&32u32.to_le_bytes()); // d_nsectors
    b[48..52].copy_from_slice(&64u32.to_le_bytes()); // d_ntracks
    b[52..56].copy_from_slice(&(secperunit / 2048).to_le_bytes()); // d_ncylinders
    b[56..60].copy_from_slice(&2048u32.to_le_bytes()); // d_secpercyl
    b[60..64].copy_from_slice(&secperunit.to_le_bytes());
    b[72..74].copy_from_slice(&3600u16.to_le_bytes()); // d_rpm
    b[74..76].copy_from_slice(&1u16.to_le_bytes()); // d_interleave
    b[132..136].copy_from_slice(&MAGIC.to_le_bytes());
    b[138..140].copy_from_slice(&npartitions.to_le_bytes());
    b[140..144].copy_from_slice(&8192u32.to_le_bytes()); // d_bbsize
    b[144..148].copy_from_slice(&8192u32.to_le_bytes()); // d_sbsize
    for &(slot, size, offset, fstype) in parts {
        if slot >= n {
            continue;
        }
        let o = 148 + 16 * slot;
        b[o..o + 4].copy_from_slice(&size.to_le_bytes());
        b[o + 4..o + 8].copy_from_slice(&offset.to_le_bytes());
        if fstype == FS_BSDFFS {
            b[o + 8..o + 12].copy_from_slice(&2048u32.to_le_bytes()); // p_fsize
            b[o + 13] = 8; // p_frag
        }
        b[o + 12] = fstype;
    }
    let sum = b.chunks_exact(2).fold(0u16, |a, w| a ^ u16::from_le_bytes([w[0], w[1]]));
    b[136..138].copy_from_slice(&sum.to_le_bytes());
    b
}

fn letter_slot(grub: &str) -> Option<usize> {
    let c = grub.trim_end_matches(')').chars().last()?;
    c.is_ascii_lowercase().then(|| usize::from(c as u8 - b'a'))
}

fn build_disk(work: &Path, out: &Path, spec: &DiskSpec) -> Result<(), String> {
    let bs = u64::from(spec.sector_size);
    {
        let f = fs::File::create(out).map_err(|e| format!("create {}: {e}", out.display()))?;
        f.set_len(spec.sectors * bs).map_err(|e| format!("size {}: {e}", out.display()))?;
    }
    // 1. The map.
    match spec.map {
        MapKind::Mbr | MapKind::MbrDisklabel => {
            let mut script = String::from("label: dos\nlabel-id: 0x5eed1234\nunit: sectors\n");
            for p in spec.parts.iter().filter(|p| p.mbr_type.is_some()) {
                let t = p.mbr_type.unwrap_or(0);
                let idx: u32 = p
                    .grub
                    .trim_matches(|c| c == '(' || c == ')')
                    .rsplit(',')
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                if idx >= 4 {
                    script.push_str(&format!("size={}, type={t:x}\n", p.size));
                } else {
                    script.push_str(&format!("start={}, size={}, type={t:x}\n", p.start, p.size));
                }
            }
            run(Command::new(tool("sfdisk")?).args(["-q", "--no-reread", "--no-tell-kernel"]).arg(out), Some(&script))?;
        }
        MapKind::Gpt if spec.sector_size == 512 => {
            let mut script = format!("label: gpt\nlabel-id: {GPT_DISK_GUID}\nunit: sectors\n");
            for p in &spec.parts {
                script.push_str(&format!(
                    "start={}, size={}, type={}, uuid={}, name=\"{}\"\n",
                    p.start,
                    p.size,
                    p.gpt_type.unwrap_or(GUID_LINUX),
                    p.gpt_uuid.unwrap_or(""),
                    p.gpt_name.unwrap_or("")
                ));
            }
            run(Command::new(tool("sfdisk")?).args(["-q", "--no-reread", "--no-tell-kernel"]).arg(out), Some(&script))?;
        }
        MapKind::Gpt => {
            // sfdisk (util-linux 2.38) has no sector-size option; fdisk -b 4096 writes a 4Kn GPT.
            let mut script = String::from("g\n");
            for (i, p) in spec.parts.iter().enumerate() {
                script.push_str(&format!("n\n{}\n{}\n{}\n", i + 1, p.start, p.start + p.size - 1));
            }
            for (i, p) in spec.parts.iter().enumerate() {
                script.push_str(&format!("t\n{}\n{}\n", i + 1, p.gpt_type.unwrap_or(GUID_LINUX)));
            }
            script.push_str("w\n");
            run(Command::new(tool("fdisk")?).args(["-b", &spec.sector_size.to_string()]).arg(out), Some(&script))?;
        }
        MapKind::Disklabel | MapKind::None => {}
    }
    if spec.sector_size == 512 && spec.map != MapKind::Disklabel && spec.map != MapKind::None {
        check_placement(out, spec)?;
    }
    let mut disk = fs::OpenOptions::new().write(true).open(out).map_err(|e| format!("{}: {e}", out.display()))?;
    // 2. The filesystems.
    for p in spec.parts.iter().filter(|p| p.fs != FsKind::None) {
        let img = make_fs(work, p.tag, p.fs, p.size * bs, spec.sector_size)?;
        put_file(&mut disk, p.start * bs, &img)?;
        let _ = fs::remove_file(&img);
    }
    // 3. The disklabel, after the filesystems (it lives in FFS's boot area at sector 1).
    if matches!(spec.map, MapKind::Disklabel | MapKind::MbrDisklabel) {
        let parts: Vec<(usize, u32, u32, u8)> = spec
            .parts
            .iter()
            .filter_map(|p| {
                let slot = letter_slot(p.grub)?;
                Some((slot, p.size as u32, p.start as u32, p.fstype.unwrap_or(0)))
            })
            .collect();
        let label = disklabel_bytes(spec.sector_size, spec.sectors as u32, spec.label_npartitions, &parts);
        let base = if spec.map == MapKind::MbrDisklabel {
            spec.parts.iter().find(|p| p.mbr_type == Some(0xA9)).map_or(0, |p| p.start)
        } else {
            0
        };
        put_bytes(&mut disk, (base + 1) * bs, &label)?;
    }
    // 4. Damage: flip a byte of the primary GPT header's disk GUID (its CRC no longer matches).
    if spec.corrupt_primary_gpt {
        let mut b = [0u8; 1];
        let mut f = fs::File::open(out).map_err(|e| e.to_string())?;
        f.seek(SeekFrom::Start(bs + 60)).and_then(|_| f.read_exact(&mut b)).map_err(|e| e.to_string())?;
        put_bytes(&mut disk, bs + 60, &[b[0] ^ 0x5A])?;
    }
    disk.sync_all().map_err(|e| e.to_string())?;
    Ok(())
}

/// The MBR/GPT partitions of a recipe: (Linux partition number, start, size).
pub fn map_parts(spec: &DiskSpec) -> Vec<(u32, u64, u64)> {
    spec.parts
        .iter()
        .filter(|p| p.mbr_type.is_some() || p.gpt_type.is_some())
        .filter_map(|p| {
            let idx: u32 = p.grub.trim_matches(|c| c == '(' || c == ')').split(',').nth(1)?.parse().ok()?;
            Some((idx + 1, p.start, p.size))
        })
        .collect()
}

/// sfdisk placed the partitions where the recipe says (logical starts are sfdisk's choice).
fn check_placement(out: &Path, spec: &DiskSpec) -> Result<(), String> {
    let (_, parts) = sfdisk_json(out)?;
    let got: Vec<(u32, u64, u64)> = parts.iter().map(|p| (p.number, p.start, p.size)).collect();
    let want = map_parts(spec);
    if got != want {
        return Err(format!("sfdisk placed {got:?}, the recipe expects {want:?}"));
    }
    Ok(())
}

static LOCK: Mutex<()> = Mutex::new(());

/// Builds (or reuses) one disk under `out_dir/disks/`.
///
/// # Errors
/// A tool is missing or fails; the message names the command.
pub fn build(out_dir: &Path, spec: &DiskSpec) -> Result<DiskImage, String> {
    let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let dir = out_dir.join("disks");
    fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    let fp = crate::tree::fnv1a(format!("{RECIPE_VERSION}:{spec:?}").as_bytes());
    let path = crate::tree::cached_image(&dir, spec.name, fp, |tmp| {
        let work = dir.join(format!(".work-{}-{}", spec.name, crate::tree::unique_suffix()));
        fs::create_dir_all(&work).map_err(|e| format!("mkdir {}: {e}", work.display()))?;
        let result = build_disk(&work, tmp, spec);
        let _ = fs::remove_dir_all(&work);
        result.map_err(|e| format!("disk image {}: {e}", spec.name))
    })?;
    Ok(DiskImage { spec: spec.clone(), path })
}

/// Builds every disk; returns their paths (for `cargo xtask images`).
///
/// # Errors
/// As [`build`].
pub fn build_all(out_dir: &Path) -> Result<Vec<PathBuf>, String> {
    specs().iter().map(|s| build(out_dir, s).map(|d| d.path)).collect()
}

/// One partition as `sfdisk --json` reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SfdiskPart {
    /// Linux partition number (1–4 primaries, 5+ logicals).
    pub number: u32,
    /// First sector.
    pub start: u64,
    /// Sectors.
    pub size: u64,
    /// Type: hex byte for dos, GUID for gpt.
    pub ptype: String,
    /// GPT unique GUID.
    pub uuid: Option<String>,
    /// GPT name.
    pub name: Option<String>,
}

/// `sfdisk --json IMG`: the label type and partitions, as util-linux sees them (512-byte
/// sectors only).
///
/// # Errors
/// sfdisk fails or prints something unexpected.
pub fn sfdisk_json(img: &Path) -> Result<(String, Vec<SfdiskPart>), String> {
    let out = run(Command::new(tool("sfdisk")?).arg("--json").arg(img), None)?;
    let field = |s: &str, key: &str| -> Option<String> {
        let at = s.find(&format!("\"{key}\":"))? + key.len() + 3;
        let rest = s[at..].trim_start();
        if let Some(r) = rest.strip_prefix('"') {
            Some(r[..r.find('"')?].to_string())
        } else {
            let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            Some(rest[..end].to_string())
        }
    };
    let label = field(&out, "label").ok_or("sfdisk --json: no label")?;
    let mut parts = Vec::new();
    for chunk in out.split("\"node\":").skip(1) {
        let node = chunk.trim_start().trim_start_matches('"');
        let node = &node[..node.find('"').unwrap_or(0)];
        let digits: String =
            node.chars().rev().take_while(char::is_ascii_digit).collect::<Vec<_>>().into_iter().rev().collect();
        parts.push(SfdiskPart {
            number: digits.parse().map_err(|_| format!("sfdisk --json: node {node}"))?,
            start: field(chunk, "start").and_then(|s| s.parse().ok()).ok_or("sfdisk --json: start")?,
            size: field(chunk, "size").and_then(|s| s.parse().ok()).ok_or("sfdisk --json: size")?,
            ptype: field(chunk, "type").unwrap_or_default(),
            uuid: field(chunk, "uuid"),
            name: field(chunk, "name"),
        });
    }
    Ok((label, parts))
}

/// One disklabel partition as util-linux's libfdisk reads it (`sfdisk -d --label bsd` or
/// `--label-nested bsd`): an independent parser of our label writer's output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BsdPart {
    /// Slot, 0 = `a`.
    pub slot: u32,
    /// p_offset (absolute sectors).
    pub start: u64,
    /// p_size.
    pub size: u64,
    /// p_fstype.
    pub fstype: u8,
}

/// `sfdisk -d` with the BSD label: `nested` for a label inside an MBR partition.
///
/// # Errors
/// sfdisk fails or prints something unexpected.
pub fn sfdisk_bsd(img: &Path, nested: bool) -> Result<Vec<BsdPart>, String> {
    let opt = if nested { "--label-nested" } else { "--label" };
    let out = run(Command::new(tool("sfdisk")?).args(["-d", opt, "bsd"]).arg(img), None)?;
    let mut v = Vec::new();
    for line in out.lines() {
        let Some((node, rest)) = line.split_once(" : ") else { continue };
        let num: String =
            node.trim().chars().rev().take_while(char::is_ascii_digit).collect::<Vec<_>>().into_iter().rev().collect();
        let get = |k: &str| -> Option<u64> {
            let at = rest.find(&format!("{k}="))? + k.len() + 1;
            rest[at..].trim_start().split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
        };
        v.push(BsdPart {
            slot: num.parse::<u32>().map_err(|_| format!("sfdisk -d: {line}"))?.checked_sub(1).ok_or("slot 0")?,
            start: get("start").ok_or_else(|| format!("sfdisk -d: {line}"))?,
            size: get("size").ok_or_else(|| format!("sfdisk -d: {line}"))?,
            // sfdisk prints the type in hex.
            fstype: rest
                .split_once("type=")
                .and_then(|(_, t)| {
                    u8::from_str_radix(t.trim().split(|c: char| !c.is_ascii_hexdigit()).next()?, 16).ok()
                })
                .ok_or_else(|| format!("sfdisk -d: {line}"))?,
        });
    }
    Ok(v)
}
