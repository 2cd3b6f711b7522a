//! XFS (v5, v4) and btrfs images made by mkfs.xfs, mkfs.btrfs and (for subvolumes and
//! compression) Linux, read back through [`fs::xfs::Xfs`] and [`fs::btrfs::Btrfs`] and
//! compared with the host tree that went in; and found by `probe`.

use std::path::Path;

use fs::block::FileDisk;
use fs::btrfs::Btrfs;
use fs::vfs::read_to_vec;
use fs::xfs::Xfs;
use fs::{Error, FileType, Filesystem};
use testimages::tree::{self, Kind};

use crate::ext::{check_tree, Expect, BUILD_LOCK};

fn disk(path: &Path) -> Box<FileDisk> {
    Box::new(FileDisk::open(path).expect("open image"))
}

const EXPECT: Expect = Expect { symlinks: true, case_insensitive: false, unreadable: &[], extra_in_root: &[] };

fn xfs_image(name: &str) -> testimages::xfs::Image {
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let recipe = testimages::xfs::recipe(name).unwrap_or_else(|| panic!("no recipe {name}"));
    testimages::xfs::build(&tree::images_dir(), &recipe).unwrap_or_else(|e| panic!("building {name}: {e}"))
}

fn check_xfs(name: &str, version: &str) {
    let img = xfs_image(name);
    let mut fs = Xfs::open(disk(&img.path)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let info = fs.info();
    assert_eq!((info.kind.as_str(), info.version.as_str()), ("xfs", version));
    assert_eq!(info.uuid.as_deref(), Some(testimages::xfs::UUID));
    assert_eq!(info.label.as_deref(), Some(name));
    assert_eq!(info.block_size, 4096);
    check_tree(&mut fs, &img.tree, EXPECT);
}

#[test]
fn xfs_v5_reads_back_the_tree() {
    check_xfs("xfs-v5", "v5");
}

#[test]
fn xfs_v4_reads_back_the_tree() {
    check_xfs("xfs-v4", "v4");
}

#[test]
fn btrfs_rootdir_reads_back_the_tree() {
    let img = {
        let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        testimages::btrfs::build_rootdir(&tree::images_dir()).expect("mkfs.btrfs --rootdir")
    };
    let mut fs = Btrfs::open(disk(&img.path)).expect("open");
    let info = fs.info();
    assert_eq!(info.kind, "btrfs");
    assert_eq!(info.uuid.as_deref(), Some(testimages::btrfs::UUID));
    assert_eq!(info.label.as_deref(), Some("btrfs-rootdir"));
    check_tree(&mut fs, &img.tree, EXPECT);
    let inline = dump_tree_count(&img.path, "(inline)");
    assert!(inline > 10, "mkfs.btrfs made {inline} inline extents");
}

/// How often `needle` appears in `btrfs inspect-internal dump-tree` of the image (btrfs-progs'
/// own reading, so the test knows the image holds what it is meant to test).
fn dump_tree_count(img: &Path, needle: &str) -> usize {
    let out = std::process::Command::new(testimages::tools::find_tool("btrfs").expect("btrfs"))
        .args(["inspect-internal", "dump-tree", "-t", "fs"])
        .arg(img)
        .output()
        .expect("dump-tree");
    let all = std::process::Command::new(testimages::tools::find_tool("btrfs").expect("btrfs"))
        .args(["inspect-internal", "dump-tree"])
        .arg(img)
        .output()
        .expect("dump-tree");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&all.stdout);
    text.matches(needle).count()
}

/// The layout image, or `None` (with a note) where loop mounts are not possible.
fn layout() -> Option<testimages::btrfs::Image> {
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    match testimages::btrfs::build_layout(&tree::images_dir()) {
        Ok(img) => Some(img),
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIPPED btrfs layout image: {e}");
            None
        }
        Err(e) => panic!("btrfs layout image: {e}"),
    }
}

#[test]
fn btrfs_layout_subvolumes_and_compression() {
    let Some(img) = layout() else { return };
    let mut fs = Btrfs::open(disk(&img.path)).expect("open");
    // Every file of the host tree, from the top level (GRUB's view): `/@/boot/…`.
    let mut files = 0;
    for e in tree::walk(&img.tree).expect("walk") {
        match &e.kind {
            Kind::File => {
                let ours = read_to_vec(&mut fs, &e.path, 64 << 20).unwrap_or_else(|err| panic!("{}: {err}", e.path));
                assert!(ours == e.bytes().expect("host"), "{} differs", e.path);
                files += 1;
            }
            Kind::Dir => {
                let m = fs.lookup(&e.path).unwrap_or_else(|err| panic!("{}: {err}", e.path));
                assert_eq!(m.file_type, FileType::Directory, "{}", e.path);
            }
            Kind::Symlink(target) => {
                let m = fs.lookup_nofollow(&e.path).expect("lstat");
                assert_eq!(&fs.read_link(m.id).expect("read_link"), target);
            }
        }
    }
    assert!(files >= 20, "{files} files");
    // The default subvolume (@) does not change where paths start, as in GRUB.
    assert_eq!(fs.lookup("/boot/vmlinuz"), Err(Error::NotFound));
    let via_link = read_to_vec(&mut fs, "/@/boot/vmlinuz", 1 << 20).expect("link");
    assert_eq!(via_link, read_to_vec(&mut fs, "/@/boot/vmlinuz-6.1.0-test", 1 << 20).expect("file"));
    // An absolute link inside @ resolves from the top level too.
    assert_eq!(fs.lookup("/@/grub-abs/grub.cfg").expect("abs").file_type, FileType::File);
    // The subvolumes are listed as directories of the top level.
    let root = fs.lookup("/").expect("root");
    let mut names: Vec<String> = fs.read_dir(root.id).expect("ls /").into_iter().map(|d| d.name).collect();
    names.sort();
    assert_eq!(names, ["@", "@home", "lzo", "zlib"]);
    // What the kernel wrote is what the test means to read (btrfs-progs' view).
    for algo in ["compression 1", "compression 2", "compression 3"] {
        assert!(dump_tree_count(&img.path, algo) >= 3, "no extents with {algo} (zlib 1, lzo 2, zstd 3)");
    }
}

#[test]
fn probe_finds_xfs_and_btrfs() {
    for (path, kind) in [
        (xfs_image("xfs-v5").path, "xfs"),
        (xfs_image("xfs-v4").path, "xfs"),
        (
            {
                let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
                testimages::btrfs::build_rootdir(&tree::images_dir()).expect("btrfs").path
            },
            "btrfs",
        ),
    ] {
        let dev = fs::probe::PartitionDevice::new(
            std::rc::Rc::new(std::cell::RefCell::new(disk(&path) as Box<dyn fs::BlockDevice>)),
            0,
            u64::MAX,
        );
        let fs = fs::probe::open_fs_on(&dev).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(fs.info().kind, kind);
    }
}

/// Physical (offset, length) of the metadata and system chunks of a btrfs image, from
/// btrfs-progs' chunk tree dump.
fn btrfs_metadata_regions(img: &Path) -> Vec<(usize, usize)> {
    let out = std::process::Command::new(testimages::tools::find_tool("btrfs").expect("btrfs"))
        .args(["inspect-internal", "dump-tree", "-t", "chunk"])
        .arg(img)
        .output()
        .expect("dump-tree");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut regions = Vec::new();
    let mut len = 0usize;
    let mut meta = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with("length ") {
            let w: Vec<&str> = line.split_whitespace().collect();
            len = w.get(1).and_then(|v| v.parse().ok()).unwrap_or(0);
            meta = line.contains("METADATA") || line.contains("SYSTEM");
        } else if meta && line.starts_with("stripe ") {
            let w: Vec<&str> = line.split_whitespace().collect();
            if let Some(off) = w.iter().position(|x| *x == "offset").and_then(|i| w.get(i + 1)) {
                regions.push((off.parse().expect("offset"), len.min(8 << 20)));
            }
        }
    }
    assert!(!regions.is_empty(), "no metadata chunks in:\n{text}");
    regions
}

fn open_xfs(dev: Box<dyn fs::BlockDevice>) -> Result<Box<dyn Filesystem>, Error> {
    Ok(Box::new(Xfs::open(dev)?))
}

fn open_btrfs(dev: Box<dyn fs::BlockDevice>) -> Result<Box<dyn Filesystem>, Error> {
    Ok(Box::new(Btrfs::open(dev)?))
}

/// Flipped bytes in the metadata of each image: only errors, never a panic or a hang.
#[test]
fn corrupted_xfs_only_fails_cleanly() {
    let img = xfs_image("xfs-v4").path;
    let bytes = std::fs::read(&img).expect("read");
    // The superblock, AG headers and the first inode chunks and directories of AG 0.
    crate::ext::corruption_run(&bytes, &[(0, 1 << 20)], 16, open_xfs);
}

#[test]
fn corrupted_btrfs_only_fails_cleanly() {
    let img = {
        let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        testimages::btrfs::build_rootdir(&tree::images_dir()).expect("btrfs").path
    };
    let regions = btrfs_metadata_regions(&img);
    let bytes = std::fs::read(&img).expect("read");
    crate::ext::corruption_run(&bytes, &regions, 8, open_btrfs);
}

/// Whether GRUB 2.06's own filesystem code (`grub-fstest IMAGE cmp PATH HOSTFILE`) reads the
/// file at `path` of `img` as the host file `host`.
fn grub_reads(img: &Path, path: &str, host: &Path) -> bool {
    let tool = testimages::tools::find_tool("grub-fstest").expect("grub-fstest (grub-common)");
    std::process::Command::new(tool)
        .arg(img)
        .arg("cmp")
        .arg(path)
        .arg(host)
        .output()
        .map(|o| o.status.success() && o.stdout.is_empty())
        .unwrap_or(false)
}

/// Side by side with GRUB 2.06 on the same images: a sample of the files of each tree (every
/// 7th, and every file of the layout image) read by GRUB's code and by ours, compared with the
/// host file. Ours must read every one, and everything GRUB reads. Prints the table the README
/// quotes.
#[test]
fn side_by_side_with_grub_fstest() {
    let mut images: Vec<(String, std::path::PathBuf, std::path::PathBuf, usize)> = Vec::new();
    for name in ["xfs-v5", "xfs-v4"] {
        let img = xfs_image(name);
        images.push((name.to_string(), img.path, img.tree, 7));
    }
    {
        let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let img = testimages::btrfs::build_rootdir(&tree::images_dir()).expect("btrfs");
        images.push(("btrfs-rootdir".into(), img.path, img.tree, 7));
    }
    if let Some(img) = layout() {
        images.push(("btrfs-layout (zstd, zlib, lzo)".into(), img.path, img.tree, 1));
    }
    let mut table =
        String::from("| image | files | read correctly by rpvboot | by GRUB 2.06 (grub-fstest) |\n|---|---|---|---|\n");
    for (name, img, root, every) in &images {
        let open: Result<Box<dyn Filesystem>, Error> = if name.starts_with("xfs") {
            Xfs::open(disk(img)).map(|f| Box::new(f) as _)
        } else {
            Btrfs::open(disk(img)).map(|f| Box::new(f) as _)
        };
        let mut fs = open.expect("open");
        let files: Vec<_> =
            tree::walk(root).expect("walk").into_iter().filter(|e| e.kind == Kind::File).step_by(*every).collect();
        let (mut ours, mut grub) = (0, 0);
        for e in &files {
            let ok_ours = read_to_vec(&mut *fs, &e.path, 64 << 20).ok() == e.bytes().ok();
            let ok_grub = grub_reads(img, &e.path, &e.host);
            assert!(ok_ours, "{name}: we misread {}", e.path);
            ours += usize::from(ok_ours);
            grub += usize::from(ok_grub);
        }
        table.push_str(&format!("| {name} | {} | {ours} | {grub} |\n", files.len()));
    }
    eprintln!("{table}");
    // GRUB's btrfs paths start at the top level, whatever the default subvolume: so do ours.
    if let Some((_, img, root, _)) = images.iter().find(|i| i.0.starts_with("btrfs-layout")) {
        let cfg = root.join("@/boot/grub/grub.cfg");
        assert!(grub_reads(img, "/@/boot/grub/grub.cfg", &cfg));
        assert!(!grub_reads(img, "/boot/grub/grub.cfg", &cfg));
        let mut fs = Btrfs::open(disk(img)).expect("open");
        assert!(fs.lookup("/@/boot/grub/grub.cfg").is_ok());
        assert_eq!(fs.lookup("/boot/grub/grub.cfg"), Err(Error::NotFound));
    }
}
