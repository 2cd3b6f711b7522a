//! Issue 18: scenarios with real NetBSD 7.99.4 XEN3_DOMU kernels (both builds: Xen ELF notes,
//! and only the legacy `__xen_guest` section), from `../shared/netbsd/` next to the project
//! root. When that directory or a kernel in it is missing, [`scenarios`] is empty and
//! [`skipped`] says so (printed by `cargo xtask e2e` with the summary).
//!
//! Each disk is made by the real tools (makefs, mkfs.fat + mcopy, sfdisk; the disklabel by
//! `testimages::disk::disklabel_bytes`) in the layouts NetBSD's installer and users produce.
//! Every FFS file system carries our init (`testimages/nbinit`) at `/sbin/init`, `/dev/console`
//! (character device 0,0, from an mtree spec) and `/rpvboot/{id,data,fnv1a}`, so the kernel
//! boots to a userland that reports which file system it got as root and powers off. Other
//! FFS file systems on the same disks ("decoys") carry the same init with another id: mounting
//! the wrong one shows in the init's line.
//!
//! Each scenario checks the kernel's own lines (`root on …`, `root file system type: ffs`),
//! the init's report (kern.root_device, the root partition's letter, statvfs's type, the id
//! and the checksum the host computed from the bytes it wrote) and the flag's effect.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, ensure, Context, Result};

use super::scenarios::{Disk, Scenario};
use crate::util::{e2e_dir, project_root};

/// Where the kernels are looked for, relative to the project root.
const SHARED: &str = "../shared/netbsd";
/// The build with Xen ELF notes.
const MODERN: &str = "netbsd-XEN3_DOMU.gz";
/// The build with only `__xen_guest`.
const LEGACY: &str = "netbsd-XEN3_DOMU-legacy.gz";

/// The directory holding the kernels.
fn shared_dir() -> PathBuf {
    project_root().join(SHARED)
}

/// Why the real-kernel scenarios are not run, or `None` when both kernels are there.
pub fn skipped() -> Option<String> {
    skipped_in(&shared_dir())
}

/// [`skipped`] for the kernels' directory `dir`.
fn skipped_in(dir: &Path) -> Option<String> {
    let missing: Vec<&str> = [MODERN, LEGACY].into_iter().filter(|k| !dir.join(k).is_file()).collect();
    if missing.is_empty() {
        return None;
    }
    Some(format!(
        "the {} real-NetBSD scenarios (nb-*) were SKIPPED: {} not found in {} (the project root's {SHARED})",
        SCENARIO_COUNT,
        missing.join(" and "),
        dir.display()
    ))
}

/// Which kernel build, and in which form it is put on the disk.
#[derive(Clone, Copy, Debug)]
enum Build {
    Modern,
    Legacy,
}

/// A file put into a file system.
#[derive(Clone, Debug)]
enum Content {
    Text(String),
    /// The kernel, gzipped as distributed or gunzipped.
    Kernel {
        build: Build,
        gz: bool,
    },
}

/// A file system kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fs {
    Ffs1,
    Ffs2,
    Fat,
}

/// One file system: its size, its id (`/rpvboot/id`) and extra files (path without the
/// leading `/`).
#[derive(Clone, Debug)]
struct Part {
    fs: Fs,
    mib: u64,
    id: &'static str,
    files: Vec<(&'static str, Content)>,
}

impl Part {
    fn new(fs: Fs, mib: u64, id: &'static str) -> Self {
        Part { fs, mib, id, files: Vec::new() }
    }
    fn file(mut self, path: &'static str, c: Content) -> Self {
        self.files.push((path, c));
        self
    }
    fn text(self, path: &'static str, t: &str) -> Self {
        self.file(path, Content::Text(t.to_string()))
    }
    fn kernel(self, path: &'static str, build: Build, gz: bool) -> Self {
        self.file(path, Content::Kernel { build, gz })
    }
}

/// GPT type GUIDs (the UEFI specification; NetBSD's sys/sys/disklabel_gpt.h).
const GPT_ESP: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
const GPT_NETBSD_FFS: &str = "49F48D5A-B10E-11DC-B99B-0019D1879648";

/// A disk layout.
#[derive(Clone, Debug)]
enum Map {
    /// The file system is the whole disk (no label at all).
    Bare(Part),
    /// A NetBSD disklabel at sector 1 of the disk; the partitions follow each other from
    /// sector 0 with the given letters (never `c`/`d`, which the label gives the whole disk).
    Label(Vec<(char, Part)>),
    /// One MBR partition of type 0xA9 at 1 MiB holding a disklabel as [`Map::Label`] does.
    MbrLabel(Vec<(char, Part)>),
    /// GPT: (entry number from 1, type GUID, file system); missing numbers are unused entries.
    Gpt(Vec<(u32, &'static str, Part)>),
}

/// Where decompressed kernels and the disks go.
fn out_dir() -> PathBuf {
    e2e_dir().join("images").join("netbsd")
}

/// The kernel file in the form asked for (gunzipped once into [`out_dir`]).
fn kernel_file(build: Build, gz: bool) -> Result<PathBuf> {
    let name = match build {
        Build::Modern => MODERN,
        Build::Legacy => LEGACY,
    };
    let src = shared_dir().join(name);
    if gz {
        return Ok(src);
    }
    let dst = out_dir().join(name.trim_end_matches(".gz"));
    let fresh = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    if dst.is_file() && fresh(&dst) >= fresh(&src) {
        return Ok(dst);
    }
    fs::create_dir_all(out_dir())?;
    let out =
        Command::new("gzip").arg("-dc").arg(&src).stderr(Stdio::inherit()).output().context("running gzip -dc")?;
    ensure!(out.status.success(), "gzip -dc {} failed: {}", src.display(), out.status);
    fs::write(&dst, out.stdout)?;
    Ok(dst)
}

/// The mtree spec that adds `/dev/console` (character device 0,0: NetBSD/amd64's `cons`) and
/// gives `/sbin/init` its mode; everything else comes from the directory tree.
const SPEC: &str = "/set type=dir uid=0 gid=0 mode=0755
.
./dev type=dir mode=0755
./dev/console type=char mode=0600 device=netbsd,0,0
..
./sbin type=dir mode=0755
./sbin/init type=file mode=0755
..
..
";

/// Makes the file system image of `p` at `img`.
fn make_fs(p: &Part, tag: &str, img: &Path) -> Result<()> {
    let tree = img.with_extension("tree");
    if tree.exists() {
        fs::remove_dir_all(&tree)?;
    }
    fs::create_dir_all(tree.join("rpvboot"))?;
    for (path, bytes) in testimages::nbinit::check_files(p.id) {
        fs::write(tree.join(path), bytes)?;
    }
    for (path, c) in &p.files {
        let dst = tree.join(path);
        if let Some(d) = dst.parent() {
            fs::create_dir_all(d)?;
        }
        match c {
            Content::Text(t) => fs::write(&dst, t)?,
            Content::Kernel { build, gz } => {
                fs::copy(kernel_file(*build, *gz)?, &dst)?;
            }
        }
    }
    let _ = fs::remove_file(img);
    match p.fs {
        Fs::Ffs1 | Fs::Ffs2 => {
            let init = testimages::nbinit::build(&out_dir()).map_err(anyhow::Error::msg)?;
            fs::create_dir_all(tree.join("sbin"))?;
            fs::create_dir_all(tree.join("dev"))?;
            fs::copy(init, tree.join("sbin/init"))?;
            let spec = out_dir().join(format!("{tag}.spec"));
            fs::write(&spec, SPEC)?;
            let v = if p.fs == Fs::Ffs1 { "version=1" } else { "version=2" };
            quiet(
                Command::new("makefs")
                    .args(["-t", "ffs", "-B", "le", "-o", v, "-s", &format!("{}m", p.mib), "-F"])
                    .arg(&spec)
                    .arg(img)
                    .arg(&tree),
            )?;
        }
        Fs::Fat => {
            quiet(Command::new("mkfs.fat").args(["-C", "-n", "EFI"]).arg(img).arg((p.mib * 1024).to_string()))?;
            let mut c = Command::new("mcopy");
            c.args(["-s", "-i"]).arg(img);
            for e in fs::read_dir(&tree)? {
                c.arg(e?.path());
            }
            quiet(c.arg("::/"))?;
        }
    }
    let _ = fs::remove_dir_all(&tree);
    Ok(())
}

/// Runs a tool, showing its output only when it fails.
fn quiet(cmd: &mut Command) -> Result<()> {
    let out = cmd.stdin(Stdio::null()).output().with_context(|| format!("cannot start {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Writes `data` into `disk` at sector `lba`.
fn put(disk: &Path, lba: u64, data: &[u8]) -> Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = fs::OpenOptions::new().write(true).open(disk)?;
    f.seek(SeekFrom::Start(lba * 512))?;
    f.write_all(data)?;
    Ok(())
}

/// Runs sfdisk with `script` on `disk`.
fn sfdisk(disk: &Path, script: &str) -> Result<()> {
    use std::io::Write;
    let mut child = Command::new("sfdisk")
        .args(["--quiet", "--no-reread", "--no-tell-kernel"])
        .arg(disk)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .context("running sfdisk")?;
    child.stdin.as_mut().context("sfdisk stdin")?.write_all(script.as_bytes())?;
    let st = child.wait()?;
    ensure!(st.success(), "sfdisk {} failed: {st}\n{script}", disk.display());
    Ok(())
}

/// Sectors of a file system of `mib` MiB.
fn secs(mib: u64) -> u64 {
    mib * 2048
}

/// Lays the partitions of a disklabel out from sector `base` and writes the label at
/// `base + 1` (LABELSECTOR on amd64); `total` is the disk's size in sectors. Offsets in a
/// NetBSD disklabel are absolute; `c` is the NetBSD part (from `base`), `d` the whole disk.
fn write_label(disk: &Path, base: u64, total: u64, parts: &[(char, Part)], tag: &str) -> Result<()> {
    let mut at = base;
    let mut entries: Vec<(usize, u32, u32, u8)> = Vec::new();
    for (i, (letter, p)) in parts.iter().enumerate() {
        ensure!(p.fs != Fs::Fat, "{tag}: only FFS in a disklabel here");
        ensure!(('a'..='p').contains(letter) && !matches!(letter, 'c' | 'd'), "{tag}: letter {letter}");
        let img = out_dir().join(format!("{tag}.{i}.fs"));
        make_fs(p, &format!("{tag}.{i}"), &img)?;
        put(disk, at, &fs::read(&img)?)?;
        let _ = fs::remove_file(&img);
        let slot = usize::from(*letter as u8 - b'a');
        entries.push((slot, u32::try_from(secs(p.mib))?, u32::try_from(at)?, testimages::disk::FS_BSDFFS));
        at += secs(p.mib);
    }
    entries.push((2, u32::try_from(total - base)?, u32::try_from(base)?, testimages::disk::FS_UNUSED));
    entries.push((3, u32::try_from(total)?, 0, testimages::disk::FS_UNUSED));
    let n = entries.iter().map(|e| e.0 + 1).max().unwrap_or(4);
    let label = testimages::disk::disklabel_bytes(512, u32::try_from(total)?, u16::try_from(n)?, &entries);
    put(disk, base + 1, &label)
}

/// Builds the disk `tag` with the layout `map` into [`out_dir`] and returns its path.
fn build(tag: &str, map: &Map) -> Result<PathBuf> {
    let dir = out_dir();
    fs::create_dir_all(&dir)?;
    let disk = dir.join(format!("{tag}.img"));
    let _ = fs::remove_file(&disk);
    let create = |sectors: u64| -> Result<()> {
        fs::File::create(&disk)?.set_len(sectors * 512)?;
        Ok(())
    };
    match map {
        Map::Bare(p) => make_fs(p, tag, &disk)?,
        Map::Label(parts) => {
            let total: u64 = parts.iter().map(|(_, p)| secs(p.mib)).sum();
            create(total)?;
            write_label(&disk, 0, total, parts, tag)?;
        }
        Map::MbrLabel(parts) => {
            let size: u64 = parts.iter().map(|(_, p)| secs(p.mib)).sum();
            let total = 2048 + size;
            create(total)?;
            sfdisk(&disk, &format!("label: dos\nlabel-id: 0x5250564e\nstart=2048, size={size}, type=a9, bootable\n"))?;
            write_label(&disk, 2048, total, parts, tag)?;
        }
        Map::Gpt(entries) => {
            let end: u64 = 2048 + entries.iter().map(|(_, _, p)| secs(p.mib)).sum::<u64>();
            create(end + 2048)?;
            let name = disk.file_name().and_then(|n| n.to_str()).context("disk name")?.to_string();
            let mut script =
                String::from("label: gpt\nlabel-id: 6A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D\nfirst-lba: 2048\n");
            let mut at = 2048;
            for (n, ty, p) in entries {
                let _ = writeln!(
                    script,
                    "{name}{n} : start={at}, size={}, type={ty}, uuid=6A1B2C3D-0000-4000-8000-0000000000{n:02}",
                    secs(p.mib)
                );
                at += secs(p.mib);
            }
            sfdisk(&disk, &script)?;
            let mut at = 2048;
            for (n, _, p) in entries {
                let img = dir.join(format!("{tag}.{n}.fs"));
                make_fs(p, &format!("{tag}.{n}"), &img)?;
                put(&disk, at, &fs::read(&img)?)?;
                let _ = fs::remove_file(&img);
                at += secs(p.mib);
            }
        }
    }
    Ok(disk)
}

/// A `boot.cfg` with one entry (`menu=` text as NetBSD's boot.cfg(5) writes it), no countdown.
fn boot_cfg(cmd: &str) -> String {
    format!("banner=rpvboot e2e\nmenu=NetBSD:{cmd}\ntimeout=0\n")
}

// The disks. `Disk::Recipe` takes plain fns, so each layout has one.

/// MBR 0xA9 + disklabel, root on `a` (sysinst's layout), FFSv2, boot.cfg `boot netbsd`,
/// the plain kernel with Xen notes.
fn disk_mbr_a() -> Result<PathBuf> {
    build(
        "nb-mbr-a",
        &Map::MbrLabel(vec![(
            'a',
            Part::new(Fs::Ffs2, 10, "nb-mbr-a")
                .kernel("netbsd", Build::Modern, false)
                .text("boot.cfg", &boot_cfg("boot netbsd")),
        )]),
    )
}

/// MBR 0xA9 + disklabel: `a` a decoy FFSv2 (its own init, no configuration), `e` the FFSv1
/// file system with the kernel and boot.cfg `boot netbsd -s`.
fn disk_mbr_e() -> Result<PathBuf> {
    build(
        "nb-mbr-e",
        &Map::MbrLabel(vec![
            ('a', Part::new(Fs::Ffs2, 4, "decoy-a")),
            (
                'e',
                Part::new(Fs::Ffs1, 10, "nb-mbr-e")
                    .kernel("netbsd", Build::Modern, false)
                    .text("boot.cfg", &boot_cfg("boot netbsd -s")),
            ),
        ]),
    )
}

/// A bare disklabel disk (no MBR), FFSv2, boot.cfg with two entries: `boot netbsd` (the
/// default) and `boot netbsd -d` (DDB at once).
fn disk_label() -> Result<PathBuf> {
    build(
        "nb-label",
        &Map::Label(vec![(
            'a',
            Part::new(Fs::Ffs2, 10, "nb-label")
                .kernel("netbsd", Build::Modern, false)
                .text("boot.cfg", "menu=NetBSD:boot netbsd\nmenu=NetBSD in DDB:boot netbsd -d\ntimeout=0\n"),
        )]),
    )
}

/// GPT: entry 1 an EFI system partition (FAT), entry 2 unused, entry 3 the NetBSD FFSv2 with
/// the kernel and boot.cfg `boot netbsd -v`, entry 4 a decoy FFSv2. NetBSD makes wedges for
/// the used entries in table order: dk0 (EFI), dk1 (entry 3), dk2 (entry 4).
fn disk_gpt() -> Result<PathBuf> {
    build(
        "nb-gpt",
        &Map::Gpt(vec![
            (1, GPT_ESP, Part::new(Fs::Fat, 4, "efi")),
            (
                3,
                GPT_NETBSD_FFS,
                Part::new(Fs::Ffs2, 10, "nb-gpt-ffs")
                    .kernel("netbsd", Build::Modern, false)
                    .text("boot.cfg", &boot_cfg("boot netbsd -v")),
            ),
            (4, GPT_NETBSD_FFS, Part::new(Fs::Ffs2, 4, "decoy-dk2")),
        ]),
    )
}

/// A disk without any label: FFSv1 holding only the legacy kernel as `/netbsd.gz` and
/// boot.cfg `boot -q` (the default kernel names, quiet).
fn disk_bare_quiet() -> Result<PathBuf> {
    build(
        "nb-bare",
        &Map::Bare(
            Part::new(Fs::Ffs1, 10, "nb-bare")
                .kernel("netbsd.gz", Build::Legacy, true)
                .text("boot.cfg", &boot_cfg("boot -q")),
        ),
    )
}

/// MBR 0xA9 + disklabel, FFSv1, `/grub/menu.lst` as NetBSD's Xen HowTo shows it
/// (`kernel /netbsd… root=xbd0a`), the gzipped kernel with Xen notes.
fn disk_menulst() -> Result<PathBuf> {
    build(
        "nb-menulst",
        &Map::MbrLabel(vec![(
            'a',
            Part::new(Fs::Ffs1, 10, "nb-menulst").kernel("netbsd.gz", Build::Modern, true).text(
                "grub/menu.lst",
                "default=0\ntimeout=0\ntitle NetBSD\n  root (hd0,0)\n  kernel /netbsd.gz root=xbd0a\n",
            ),
        )]),
    )
}

/// GPT: entry 1 the NetBSD FFSv2 with the plain legacy kernel and `/boot/grub/grub.cfg`
/// (`knetbsd /netbsd`), entry 2 a decoy FFSv2: the root is dk0.
fn disk_grubcfg() -> Result<PathBuf> {
    build(
        "nb-grubcfg",
        &Map::Gpt(vec![
            (
                1,
                GPT_NETBSD_FFS,
                Part::new(Fs::Ffs2, 10, "nb-grubcfg").kernel("netbsd", Build::Legacy, false).text(
                    "boot/grub/grub.cfg",
                    "set timeout=0\nset default=0\nmenuentry \"NetBSD\" {\n  knetbsd /netbsd\n}\n",
                ),
            ),
            (2, GPT_NETBSD_FFS, Part::new(Fs::Ffs2, 4, "decoy-dk1")),
        ]),
    )
}

/// First of two disks: GPT with only an EFI system partition (a wedge dk0 NetBSD would take
/// as root when no `bootdev=` names another device).
fn disk_two_first() -> Result<PathBuf> {
    build("nb-two-a", &Map::Gpt(vec![(1, GPT_ESP, Part::new(Fs::Fat, 4, "efi-xbd0"))]))
}

/// Second of two disks: no label, FFSv2 with `/netbsd.gz` and no configuration file at all.
fn disk_two_second() -> Result<PathBuf> {
    build("nb-two-b", &Map::Bare(Part::new(Fs::Ffs2, 10, "nb-two-xbd1").kernel("netbsd.gz", Build::Modern, true)))
}

/// The GRUB 2 configuration of the pvgrub2 comparison disks: one entry, `linux` (pvgrub2's
/// loader for any PV ELF kernel) with `args`.
fn pvgrub2_cfg(args: &str) -> String {
    format!("set timeout=0\nset default=0\nmenuentry \"NetBSD\" {{\n  linux /netbsd{args}\n}}\n")
}

/// For pvgrub2: the layout of [`disk_gpt`] with `/boot/grub/grub.cfg` (`linux /netbsd`).
fn disk_pg_gpt() -> Result<PathBuf> {
    build(
        "pg-gpt",
        &Map::Gpt(vec![
            (1, GPT_ESP, Part::new(Fs::Fat, 4, "efi")),
            (
                3,
                GPT_NETBSD_FFS,
                Part::new(Fs::Ffs2, 10, "pg-gpt-ffs")
                    .kernel("netbsd", Build::Modern, false)
                    .text("boot/grub/grub.cfg", &pvgrub2_cfg("")),
            ),
            (4, GPT_NETBSD_FFS, Part::new(Fs::Ffs2, 4, "decoy-dk2")),
        ]),
    )
}

/// For pvgrub2: a disk without a label, FFSv2, `linux /netbsd -d`.
fn disk_pg_ddb() -> Result<PathBuf> {
    build(
        "pg-ddb",
        &Map::Bare(
            Part::new(Fs::Ffs2, 10, "pg-ddb")
                .kernel("netbsd", Build::Modern, false)
                .text("boot/grub/grub.cfg", &pvgrub2_cfg(" -d")),
        ),
    )
}

/// For pvgrub2: a disk without a label, FFSv2, `linux /netbsd -s root=xbd0a` (the owner names
/// the root: pvgrub2 passes no bootdev=).
fn disk_pg_single() -> Result<PathBuf> {
    build(
        "pg-single",
        &Map::Bare(
            Part::new(Fs::Ffs2, 10, "pg-single")
                .kernel("netbsd", Build::Modern, false)
                .text("boot/grub/grub.cfg", &pvgrub2_cfg(" -s root=xbd0a")),
        ),
    )
}

/// pvgrub2 as `setup` builds the baseline (grub-mkimage with grub-xen-bin 2.06's x86_64-xen
/// modules and the same embedded configuration), plus the modules NetBSD disks need (`ufs1`,
/// `ufs2`, `part_bsd`), for the comparison scenarios.
fn pvgrub2_ffs() -> Result<PathBuf> {
    crate::setup::ensure_e2e()?;
    let out = out_dir().join("pvgrub2-ffs.xen");
    let embed = out_dir().join("pvgrub-embed.cfg");
    let cfg = include_str!("../../e2e/pvgrub-embed.cfg");
    if out.is_file() && fs::read_to_string(&embed).ok().as_deref() == Some(cfg) {
        return Ok(out);
    }
    fs::create_dir_all(out_dir())?;
    fs::write(&embed, cfg)?;
    quiet(
        Command::new("grub-mkimage")
            .args(["-O", "x86_64-xen", "-d"])
            .arg(e2e_dir().join("x/usr/lib/grub/x86_64-xen"))
            .arg("-c")
            .arg(&embed)
            .args(["-p", "/boot/grub", "-o"])
            .arg(&out)
            .args(["normal", "configfile", "linux", "echo", "test", "search", "search_fs_file", "ls", "cat"])
            .args(["ext2", "ufs1", "ufs2", "part_msdos", "part_gpt", "part_bsd", "gzio", "xzio"]),
    )?;
    Ok(out)
}

/// Issue 18's comparison: the same real kernel through Debian's pvgrub2 (opt-in: `--scenario`;
/// what it gets right and wrong is measured by these expectations, see the README).
pub fn pvgrub2_scenarios() -> Vec<Scenario> {
    if skipped().is_some() {
        return Vec::new();
    }
    let pg = |name: &str, disk: fn() -> Result<PathBuf>| Scenario {
        kernel: super::scenarios::Kernel::Recipe(pvgrub2_ffs),
        disks: vec![Disk::Recipe(disk)],
        memory_mib: 256,
        // pvgrub2 reads the 5 MB kernel from FFS in about a minute under TCG.
        timeout_secs: 180,
        default: false,
        ..Scenario::rpvboot(name, "")
    };
    vec![
        // GPT: no bootdev= from pvgrub2; NetBSD takes dk0, the EFI partition.
        Scenario { ends_by_timeout: true, ..pg("pg-nb-gpt", disk_pg_gpt) }
            .expect(r"^NetBSD 7\.99\.4 \(XEN3_DOMU\)")
            .expect(r"\[ Kernel symbol table invalid! \]")
            .expect(r"^root on dk0(?:\D|$)")
            .expect(r"^root file system type: msdos"),
        Scenario { ends_by_timeout: true, timeout_secs: 150, ..pg("pg-nb-ddb", disk_pg_ddb) }
            .expect(r"^Stopped in pid 0\.1 \(system\) at\s+ffffffff80134e8d:")
            .expect(r"^\?\(\) at ffffffff80134e8d\s*$"),
        pg("pg-nb-single", disk_pg_single)
            .expect(r"^root on xbd0a dumps on xbd0b")
            .expect(&Init { argv: "init,-s", root: "xbd0", part: Some('a'), id: "pg-single" }.regex())
            .expect(r"^RPVBOOT-NBINIT poweroff"),
    ]
}

/// What the init must print.
struct Init {
    /// Its argv, comma separated (`init` or `init,-s`).
    argv: &'static str,
    /// kern.root_device.
    root: &'static str,
    /// The root partition's letter (only for xbd roots; a wedge's is meaningless).
    part: Option<char>,
    /// The id of the file system that must be root.
    id: &'static str,
}

impl Init {
    /// The regex of the init's report line.
    fn regex(&self) -> String {
        let fnv = format!("{:016x}", testimages::nbinit::fnv1a(&testimages::nbinit::data_for(self.id)));
        let part = self.part.map_or_else(|| String::from(r"\S+"), |c| c.to_string());
        format!(
            r"^{} argv={} root={} part={part} fstype=ffs from=root_device id={} fnv1a={fnv} check=ok",
            testimages::nbinit::MARKER,
            regex::escape(self.argv),
            self.root,
            regex::escape(self.id)
        )
    }
}

/// A scenario booting a real NetBSD kernel through rpvboot: the kernel's banner, its root
/// line (`root`, a regex), FFS as root's type, the init's line and its poweroff.
fn nb(name: &str, disks: Vec<Disk>, root: &str, init: &Init) -> Scenario {
    Scenario { disks, memory_mib: 256, timeout_secs: 120, ..Scenario::rpvboot(name, "") }
        .expect(r"^NetBSD 7\.99\.4 \(XEN3_DOMU\)")
        // Not `\b`: NetBSD's console can run another driver's message into the root line
        // (`root on dk1xenbus: can't get state …`, seen once in CI); `\D` still rejects `dk10`.
        .expect(&format!(r"^root on {root}(?:\D|$)"))
        .expect(r"^root file system type: ffs")
        .expect(&init.regex())
        .expect(r"^RPVBOOT-NBINIT poweroff")
}

/// How many scenarios [`scenarios`] returns (for the skip note).
const SCENARIO_COUNT: usize = 9;

/// The real-kernel scenarios, or none when the kernels are absent (see [`skipped`]).
pub fn scenarios() -> Vec<Scenario> {
    if skipped().is_some() {
        return Vec::new();
    }
    let booting =
        |form: &str| format!(r#"^rpvboot: booting entry 0 "NetBSD": {form} kernel, \d+ bytes loaded, .*BSD symbols"#);
    let v = vec![
        nb(
            "nb-mbr-a",
            vec![Disk::Recipe(disk_mbr_a)],
            r"xbd0a dumps on xbd0b",
            &Init { argv: "init", root: "xbd0", part: Some('a'), id: "nb-mbr-a" },
        )
        .expect(&booting("elf64")),
        // Single user: the kernel passes `-s` to init.
        nb(
            "nb-mbr-e-single",
            vec![Disk::Recipe(disk_mbr_e)],
            r"xbd0e dumps on xbd0b",
            &Init { argv: "init,-s", root: "xbd0", part: Some('e'), id: "nb-mbr-e" },
        ),
        nb(
            "nb-label",
            vec![Disk::Recipe(disk_label)],
            r"xbd0a dumps on xbd0b",
            &Init { argv: "init", root: "xbd0", part: Some('a'), id: "nb-label" },
        ),
        // `-d` (entry 1 of the same disk): DDB stops at once and DDB_COMMANDONENTER prints a
        // trace with symbol names (the BSD symbol table rpvboot loaded). DDB cannot read the
        // console that early (`xenconscn_getc(): not console`), so the domain waits there
        // until dom0's timeout destroys it.
        Scenario {
            disks: vec![Disk::Recipe(disk_label)],
            memory_mib: 256,
            timeout_secs: 30,
            ends_by_timeout: true,
            ..Scenario::rpvboot("nb-label-ddb", "rpvboot.entry=1")
        }
        .expect(r#"^rpvboot: booting entry 1 "NetBSD in DDB": elf64 kernel, \d+ bytes loaded, .*BSD symbols"#)
        .expect(r"^Stopped in pid 0\.1 \(system\) at\s+netbsd:breakpoint\+0x5:")
        .expect(r"^breakpoint\(\) at netbsd:breakpoint\+0x5\s*$")
        .expect(r"^init_x86_64\(\) at netbsd:init_x86_64\+0x[0-9a-f]+\s*$"),
        // GPT wedges: the FFS is entry 3 after an unused entry 2, wedge dk1; `-v` verbose.
        nb(
            "nb-gpt-verbose",
            vec![Disk::Recipe(disk_gpt)],
            r"dk1",
            &Init { argv: "init", root: "dk1", part: None, id: "nb-gpt-ffs" },
        )
        .expect(r"^dk1 at xbd0: ")
        .expect(r"^xbd0: GPT GUID: "),
        // No label, the legacy kernel gzipped, `boot -q`: quiet, and found by the default names.
        Scenario { host_check: Some(quiet_check), ..quiet_scenario() }.expect(&booting(r"gzip\+elf64")),
        // NetBSD's Xen HowTo menu.lst: root=xbd0a given by the user.
        nb(
            "nb-menulst",
            vec![Disk::Recipe(disk_menulst)],
            r"xbd0a dumps on xbd0b",
            &Init { argv: "init", root: "xbd0", part: Some('a'), id: "nb-menulst" },
        )
        .expect(r#"^rpvboot: booting entry 0 "NetBSD": gzip\+elf64 kernel"#),
        nb(
            "nb-grubcfg",
            vec![Disk::Recipe(disk_grubcfg)],
            r"dk0",
            &Init { argv: "init", root: "dk0", part: None, id: "nb-grubcfg" },
        )
        .expect(r#"^rpvboot: booting entry 0 "NetBSD": elf64 kernel"#),
        // Two disks, no configuration anywhere: the kernel is on xbd1; xbd0's GPT makes a
        // wedge dk0 that NetBSD would take without bootdev=xbd1a. Holds whether the built-in
        // entry boots at once or after a countdown like NetBSD's boot(8) (it expects no menu
        // line, only the boot; the 120 s timeout leaves room).
        nb(
            "nb-two-disks-noconfig",
            vec![Disk::Recipe(disk_two_first), Disk::Recipe(disk_two_second)],
            r"xbd1a dumps on xbd1b",
            &Init { argv: "init", root: "xbd1", part: Some('a'), id: "nb-two-xbd1" },
        )
        .expect(r"^dk0 at xbd0: "),
    ];
    debug_assert_eq!(v.len(), SCENARIO_COUNT);
    v
}

/// `nb-bare-quiet`: with `-q` NetBSD prints no autoconfiguration lines and no root line, so
/// the init's line is the root check; [`quiet_check`] checks what is absent.
fn quiet_scenario() -> Scenario {
    let init = Init { argv: "init", root: "xbd0", part: Some('a'), id: "nb-bare" };
    Scenario {
        disks: vec![Disk::Recipe(disk_bare_quiet)],
        memory_mib: 256,
        timeout_secs: 120,
        ..Scenario::rpvboot("nb-bare-quiet", "")
    }
    .expect(r"^NetBSD 7\.99\.4 \(XEN3_DOMU\)")
    .expect(r"^Found mainbus0 \(root\)")
    .expect(r"Found xbd0 at xenbus0")
    .expect(&init.regex())
    .expect(r"^RPVBOOT-NBINIT poweroff")
}

/// [`super::scenarios::HostCheck`] of `nb-bare-quiet`: lines NetBSD prints in a normal boot
/// (as the other scenarios show) are absent with `-q` (`aprint_normal` is silenced; the
/// quiet `Found …` lines replace the attachment lines).
fn quiet_check(_: &Scenario, _: &[PathBuf], console: &str) -> Result<()> {
    for normal in
        ["xbd0 at xenbus0 id 51712: Xen Virtual Block Device Interface", "root on xbd0a", "root file system type"]
    {
        ensure!(!console.contains(normal), "`-q` did not quieten the kernel: {normal:?} printed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_regex_matches_the_line_the_init_prints() {
        let init = Init { argv: "init,-s", root: "xbd0", part: Some('e'), id: "x" };
        let fnv = format!("{:016x}", testimages::nbinit::fnv1a(&testimages::nbinit::data_for("x")));
        let line = format!(
            "RPVBOOT-NBINIT argv=init,-s root=xbd0 part=e fstype=ffs from=root_device id=x fnv1a={fnv} check=ok"
        );
        let re = super::super::report::compile(&init.regex()).unwrap_or_else(|e| panic!("{e}"));
        assert!(re.is_match(&line), "{}", init.regex());
        assert!(!re.is_match(&line.replace("part=e", "part=a")));
        assert!(!re.is_match(&line.replace("check=ok", "check=bad")));
    }

    #[test]
    fn absent_kernels_are_reported_as_skipped() {
        let dir = std::env::temp_dir().join(format!("nb-skip-{}", std::process::id()));
        let _ = fs::create_dir_all(&dir);
        let note = skipped_in(&dir).unwrap_or_default();
        assert!(note.contains("SKIPPED") && note.contains(MODERN) && note.contains(LEGACY), "{note}");
        let _ = fs::write(dir.join(MODERN), b"x");
        let note = skipped_in(&dir).unwrap_or_default();
        assert!(note.contains(LEGACY) && !note.contains(MODERN), "{note}");
        let _ = fs::write(dir.join(LEGACY), b"x");
        assert_eq!(skipped_in(&dir), None);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn scenario_names_are_unique() {
        if skipped().is_some() {
            return;
        }
        let v = scenarios();
        for s in &v {
            assert_eq!(v.iter().filter(|t| t.name == s.name).count(), 1, "{}", s.name);
        }
    }
}
