//! `probe`, `ls` and `cat`: partitions, filesystems and files of disk images, through the same
//! `fs::probe` discovery and GRUB-legacy naming the PV loader uses over blkfront.
//!
//! Images are disks `hd0`, `hd1`, ... in argument order. The sector size is 512 unless
//! `--sector-size 4096` is given or the image is a 4Kn GPT disk (protective MBR and the GPT
//! header at byte 4096 rather than 512).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use fs::block::FileDisk;
use fs::probe::{self, Disk, PartType, Partition, Role};
use fs::vfs::FileType;
use fs::{Filesystem, FsInfo};

/// `probe`'s arguments.
#[derive(clap::Args)]
pub struct ProbeArgs {
    /// Print one JSON object (`disks`: image, disk, map, sector_size, sectors, block_device,
    /// notes, partitions with their fs or fs_error).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    disk: crate::DiskOpts,
    /// Disk images or block devices: (hd0), (hd1), … in this order.
    #[arg(value_name = "IMG", required = true)]
    images: Vec<String>,
}

/// `ls` and `cat`'s arguments.
#[derive(clap::Args)]
pub struct PathArgs {
    #[command(flatten)]
    disk: crate::DiskOpts,
    /// Disk images or block devices: (hd0), (hd1), … in this order.
    #[arg(value_name = "IMG", required = true)]
    images: Vec<String>,
    /// `(hdN,M)/path`, or `/path` on the first partition that has it (rpvboot's search).
    #[arg(value_name = "PATH")]
    path: String,
}

/// 4096 when the image is a 4Kn GPT disk, else 512.
fn guess_sector_size(path: &Path) -> u32 {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else { return 512 };
    let mut at = |off: u64| -> Option<[u8; 8]> {
        let mut b = [0u8; 8];
        f.seek(SeekFrom::Start(off)).ok()?;
        f.read_exact(&mut b).ok()?;
        Some(b)
    };
    let sig = Some(*b"EFI PART");
    if at(512) != sig && at(4096) == sig {
        4096
    } else {
        512
    }
}

/// Opens the images (files or block devices, read-only) as disks `hd0`, `hd1`, … and scans
/// their partitions.
pub(crate) fn open_disks(images: &[String], sector_size: Option<u32>) -> Result<Vec<Disk>, String> {
    Ok(open_disks_kinds(images, sector_size)?.into_iter().map(|(d, _)| d).collect())
}

/// [`open_disks`], each disk with whether it is a block device.
fn open_disks_kinds(images: &[String], sector_size: Option<u32>) -> Result<Vec<(Disk, bool)>, String> {
    images
        .iter()
        .enumerate()
        .map(|(i, img)| {
            let path = Path::new(img);
            let bs = sector_size.unwrap_or_else(|| guess_sector_size(path));
            let dev = FileDisk::open_with_block_size(path, bs).map_err(|e| format!("{img}: {e}"))?;
            let block_device = dev.is_block_device();
            let index = u32::try_from(i).map_err(|_| "too many images".to_string())?;
            Ok((probe::scan_disk(index, Box::new(dev)), block_device))
        })
        .collect()
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Data => "data",
        Role::Container => "container",
        Role::Raw => "raw",
    }
}

fn type_code(t: &PartType) -> String {
    match t {
        PartType::Whole => String::new(),
        PartType::Mbr(b) => format!("{b:#04x}"),
        PartType::Gpt { type_guid, .. } => type_guid.to_string(),
        PartType::Disklabel(f) => f.to_string(),
    }
}

/// The filesystem found on a partition, or why none.
fn fs_of(p: &Partition) -> Result<FsInfo, String> {
    if p.role != Role::Data {
        return Err(format!("not probed ({})", role_name(p.role)));
    }
    probe::open_fs(p).map(|fs| fs.info()).map_err(|e| match e {
        fs::Error::NotRecognized => "no filesystem recognized".to_string(),
        e => e.to_string(),
    })
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_opt(s: Option<&str>) -> String {
    s.map_or_else(|| "null".to_string(), json_str)
}

/// `rpvboot-inspect probe [--json] [--sector-size N] IMG...`
pub fn probe(o: &ProbeArgs) -> Result<(), String> {
    let disks = open_disks_kinds(&o.images, o.disk.sector_size)?;
    let mut out = String::new();
    if o.json {
        out.push_str("{\"disks\":[");
        for (di, ((disk, block_device), img)) in disks.iter().zip(&o.images).enumerate() {
            if di > 0 {
                out.push(',');
            }
            let notes: Vec<String> = disk.notes.iter().map(|n| json_str(n)).collect();
            let _ = write!(
                out,
                "{{\"image\":{},\"disk\":\"(hd{})\",\"map\":\"{}\",\"sector_size\":{},\"sectors\":{},\"block_device\":{block_device},\"notes\":[{}],\"partitions\":[",
                json_str(img),
                disk.index,
                disk.map.name(),
                disk.block_size,
                disk.num_blocks,
                notes.join(",")
            );
            for (pi, p) in disk.partitions.iter().enumerate() {
                if pi > 0 {
                    out.push(',');
                }
                let name = match &p.ptype {
                    PartType::Gpt { name, .. } => Some(name.as_str()),
                    _ => None,
                };
                let _ = write!(
                    out,
                    "{{\"name\":{},\"map\":\"{}\",\"index\":{},\"letter\":{},\"start\":{},\"size\":{},\"type\":{},\"type_name\":{},\"part_name\":{},\"role\":\"{}\",",
                    json_str(&p.grub_name()),
                    p.map.name(),
                    p.index.map_or_else(|| "null".into(), |i| i.to_string()),
                    json_opt(p.letter.map(String::from).as_deref()),
                    p.start,
                    p.size,
                    json_str(&type_code(&p.ptype)),
                    json_str(&p.ptype.to_string()),
                    json_opt(name),
                    role_name(p.role)
                );
                match fs_of(p) {
                    Ok(i) => {
                        let _ = write!(
                            out,
                            "\"fs\":{{\"kind\":{},\"version\":{},\"block_size\":{},\"fragment_size\":{},\"label\":{},\"uuid\":{}}},\"fs_error\":null}}",
                            json_str(&i.kind),
                            json_str(&i.version),
                            i.block_size,
                            i.fragment_size,
                            json_opt(i.label.as_deref()),
                            json_opt(i.uuid.as_deref())
                        );
                    }
                    Err(e) => {
                        let _ = write!(out, "\"fs\":null,\"fs_error\":{}}}", json_str(&e));
                    }
                }
            }
            out.push_str("]}");
        }
        out.push_str("]}\n");
    } else {
        for ((disk, block_device), img) in disks.iter().zip(&o.images) {
            let _ = writeln!(
                out,
                "disk (hd{}) {img}: {} sectors of {} bytes, map {}{}",
                disk.index,
                disk.num_blocks,
                disk.block_size,
                disk.map.name(),
                if *block_device { ", block device (read-only)" } else { "" }
            );
            for n in &disk.notes {
                let _ = writeln!(out, "  note: {n}");
            }
            for p in &disk.partitions {
                let idx = p.index.map_or_else(|| "-".to_string(), |i| i.to_string());
                let _ = writeln!(
                    out,
                    "  {:<11} {:<9} index {:<3} start {:<10} size {:<10} type {}",
                    p.grub_name(),
                    p.map.name(),
                    idx,
                    p.start,
                    p.size,
                    p.ptype
                );
                match fs_of(p) {
                    Ok(i) => {
                        let _ = write!(out, "      {} ({}), block {}", i.kind, i.version, i.block_size);
                        if i.fragment_size != 0 {
                            let _ = write!(out, ", fragment {}", i.fragment_size);
                        }
                        if let Some(l) = &i.label {
                            let _ = write!(out, ", label \"{l}\"");
                        }
                        if let Some(u) = &i.uuid {
                            let _ = write!(out, ", uuid {u}");
                        }
                        out.push('\n');
                    }
                    Err(e) => {
                        let _ = writeln!(out, "      {e}");
                    }
                }
            }
        }
    }
    crate::print_out(&out)
}

fn type_char(t: FileType) -> char {
    match t {
        FileType::File => '-',
        FileType::Directory => 'd',
        FileType::Symlink => 'l',
        FileType::Other => '?',
    }
}

/// `rpvboot-inspect ls IMG PATH`: one entry per line, `TYPE SIZE NAME` (`-> TARGET` for links).
pub fn ls(o: &PathArgs) -> Result<(), String> {
    let (disks, path) = (open_disks(&o.images, o.disk.sector_size)?, &o.path);
    let mut r = probe::resolve(&disks, path).map_err(|e| format!("{path}: {e}"))?;
    let fs: &mut dyn Filesystem = r.fs.as_mut();
    let mut out = String::new();
    if r.meta.file_type != FileType::Directory {
        let name = r.path.rsplit('/').next().unwrap_or(&r.path);
        let _ = writeln!(out, "{} {:>12} {name}", type_char(r.meta.file_type), r.meta.size);
    } else {
        // The first MAX_DIR_LIST entries, whatever the directory's size on disk says.
        let max = fs::vfs::MAX_DIR_LIST;
        let mut entries = fs.read_dir_limit(r.meta.id, max.saturating_add(1)).map_err(|e| format!("{path}: {e}"))?;
        if entries.len() > max {
            entries.truncate(max);
            eprintln!("rpvboot-inspect: {path}: more than {max} entries, only the first {max} listed");
        }
        entries.retain(|e| e.name != "." && e.name != "..");
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        for e in entries {
            let meta = fs.metadata(e.id);
            let size = meta.as_ref().map_or(0, |m| m.size);
            let _ = write!(out, "{} {size:>12} {}", type_char(e.file_type), e.name);
            if e.file_type == FileType::Symlink {
                if let Ok(t) = fs.read_link(e.id) {
                    let _ = write!(out, " -> {t}");
                }
            }
            out.push('\n');
        }
    }
    crate::print_out(&out)
}

/// `rpvboot-inspect cat IMG PATH`: the file's bytes to stdout.
pub fn cat(o: &PathArgs) -> Result<(), String> {
    let (disks, path) = (open_disks(&o.images, o.disk.sector_size)?, &o.path);
    let mut r = probe::resolve(&disks, path).map_err(|e| format!("{path}: {e}"))?;
    if r.meta.file_type == FileType::Directory {
        return Err(format!("{path}: is a directory"));
    }
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0u64;
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    while off < r.meta.size {
        let n = r.fs.read_at(r.meta.id, off, &mut buf).map_err(|e| format!("{path}: at offset {off}: {e}"))?;
        if n == 0 {
            return Err(format!("{path}: file ends at {off}, its size says {}", r.meta.size));
        }
        lock.write_all(buf.get(..n).unwrap_or_default()).map_err(|e| format!("stdout: {e}"))?;
        off += n as u64;
    }
    lock.flush().map_err(|e| format!("stdout: {e}"))
}
