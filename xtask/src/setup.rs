//! `cargo xtask setup`: installs what the build and the tests need, idempotently.
//!
//! Host side: apt packages (image tools, kmod/cpio for the dom0 image, grub-common 2.06 to match
//! grub-xen-bin, QEMU from bookworm-backports) and the `x86_64-unknown-none` Rust target.
//! Xen side: Debian's Xen 4.17, Linux kernel, busybox-static and grub-xen-bin debs are
//! `apt-get download`ed into `target/e2e/debs` and extracted into `target/e2e/x` (never installed
//! on the host), then the dom0 initramfs, Xen, the dom0/domU kernels, a Linux domU initrd and a
//! pvgrub2 image are built into `target/e2e/out`. Each step is skipped when its stamp says its
//! inputs have not changed. What the recipe relies on is in docs/e2e.md.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::util::{self, copy, e2e_dir, have, mkdirp, output, run, shq, write_file};

/// `cargo xtask setup`.
#[derive(clap::Args)]
pub struct Setup {
    /// Only host packages and the Rust target: skip the Xen/QEMU harness artefacts.
    #[arg(long)]
    pub no_e2e: bool,
}

impl Setup {
    pub fn run(self) -> Result<()> {
        let t = Instant::now();
        ensure_host()?;
        if !self.no_e2e {
            let a = ensure_e2e()?;
            println!("setup: e2e artefacts in {}", a.out.display());
            let q = ensure_qemu_bookworm()?;
            println!("setup: bookworm's QEMU 7.2 (Linux PVH scenarios) in {}", q.bin.display());
        }
        println!("setup: OK ({:.1} s)", t.elapsed().as_secs_f64());
        Ok(())
    }
}

/// Host packages the project needs (besides QEMU and grub-common, handled separately).
const HOST_PACKAGES: &[&str] = &[
    "makefs",
    "e2fsprogs",
    "dosfstools",
    "mtools",
    "fdisk",
    "kmod",
    "cpio",
    "xz-utils",
    "gzip",
    "file",
    "gcc",
    "binutils",
    // reference tools the image and menu tests compare against
    "zstd",
    "lz4",
    "openssl",
    "util-linux",
    // `cargo xtask dist`: dpkg-shlibdeps for the package's Depends; `man -l` in its check
    "dpkg-dev",
    "man-db",
    // XFS and btrfs test images (mkfs.xfs -p, mkfs.btrfs --rootdir, btrfs subvolume)
    "xfsprogs",
    "btrfs-progs",
];

/// Debian packages downloaded (not installed) for the Xen-in-QEMU harness; the kernel is added.
const GUEST_DEBS: &[&str] = &[
    "xen-hypervisor-4.17-amd64",
    "xen-utils-4.17",
    "xen-utils-common",
    "xenstore-utils",
    "libxencall1",
    "libxenevtchn1",
    "libxenforeignmemory1",
    "libxengnttab1",
    "libxenmisc4.17",
    "libxenstore4",
    "libxentoollog1",
    "libxendevicemodel1",
    "libxentoolcore1",
    "libxenhypfs1",
    "libyajl2",
    "busybox-static",
    "grub-xen-bin",
];

/// Fallback kernel ABI when `linux-image-amd64` cannot be resolved.
const DEFAULT_KVER: &str = "6.1.0-56-amd64";

/// Bump when the recipe in [`build_outputs`] changes in a way the stamp cannot see.
const RECIPE_VERSION: &str = "e2e-recipe-3";

const DOMU_INIT: &str = include_str!("../e2e/domu-init.sh");
const BLOCK_LITE: &str = include_str!("../e2e/block-lite");
const PVGRUB_EMBED: &str = include_str!("../e2e/pvgrub-embed.cfg");

/// Where the harness artefacts live once [`ensure_e2e`] has run.
#[derive(Clone, Debug)]
pub struct E2eArtifacts {
    /// `target/e2e/out`.
    pub out: PathBuf,
    /// Xen 4.17, uncompressed (ELF32 multiboot) for QEMU `-kernel`.
    pub xen: PathBuf,
    /// The Debian kernel as an uncompressed ELF: dom0 boots ~6 s faster than from the bzImage.
    pub vmlinux_dom0: PathBuf,
    /// The Debian kernel bzImage (a Linux PV domU kernel).
    pub vmlinuz: PathBuf,
    /// dom0's root filesystem without /init and /guest (each run appends those).
    pub dom0_initrd: PathBuf,
    /// A Linux domU initrd that prints `DOMU-BOOTED-OK` (and reads xvda's hello.txt).
    pub domu_initrd: PathBuf,
    /// Standalone pvgrub2 (grub-xen-bin 2.06) reading /boot/grub/grub.cfg from a disk.
    pub pvgrub2: PathBuf,
    /// Kernel ABI of `vmlinuz` (e.g. `6.1.0-56-amd64`).
    pub kver: String,
}

impl E2eArtifacts {
    fn at(out: PathBuf, kver: String) -> Self {
        Self {
            xen: out.join("xen"),
            vmlinux_dom0: out.join("vmlinux-dom0"),
            vmlinuz: out.join("vmlinuz"),
            dom0_initrd: out.join("dom0-initrd.gz"),
            domu_initrd: out.join("domu-initrd.gz"),
            pvgrub2: out.join("pvgrub2-x86_64.xen"),
            out,
            kver,
        }
    }
}

/// `apt-get` runner that refreshes the package lists at most once per process.
struct Apt {
    updated: bool,
}

impl Apt {
    fn cmd() -> Command {
        let mut c = Command::new("apt-get");
        // A fresh machine may still run apt in the background: wait for its lock.
        c.args(["-o", "DPkg::Lock::Timeout=600"]).env("DEBIAN_FRONTEND", "noninteractive").stdin(Stdio::null());
        c
    }

    /// `apt-get update`, tolerated to fail: third-party sources on some machines are
    /// unreachable, and a real problem shows up in the install/download that follows.
    fn update(&mut self) {
        if self.updated {
            return;
        }
        self.updated = true;
        let mut c = Self::cmd();
        c.arg("update");
        if let Err(e) = run(&mut c) {
            eprintln!("setup: warning: {e:#} (continuing; some sources may be unreachable)");
        }
    }

    fn install(&mut self, args: &[&str]) -> Result<()> {
        self.update();
        let mut c = Self::cmd();
        c.args(["install", "-y", "--no-install-recommends", "--allow-downgrades"]);
        c.args(args);
        run(&mut c)
    }
}

fn dpkg_version(pkg: &str) -> Option<String> {
    let out =
        Command::new("dpkg-query").args(["-W", "-f=${Status}|${Version}", pkg]).stderr(Stdio::null()).output().ok()?;
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    let (status, version) = s.split_once('|')?;
    (out.status.success() && status.ends_with(" installed")).then(|| version.to_string())
}

fn lists_have(pattern: &str) -> bool {
    fs::read_dir("/var/lib/apt/lists")
        .map(|rd| rd.flatten().any(|e| e.file_name().to_string_lossy().contains(pattern)))
        .unwrap_or(false)
}

/// Adds a bookworm-backports source that copies the mirror and key of the machine's own
/// bookworm entry (docs/e2e.md §3). Returns whether the file was created.
fn ensure_backports_source() -> Result<bool> {
    let target = Path::new("/etc/apt/sources.list.d/backports.sources");
    let legacy = Path::new("/etc/apt/sources.list.d/backports.list");
    if target.exists() || legacy.exists() {
        return Ok(false);
    }
    let deb822 = Path::new("/etc/apt/sources.list.d/debian.sources");
    let entry = fs::read_to_string(deb822).ok().and_then(|text| {
        text.split("\n\n")
            .find(|para| {
                para.lines().any(|l| l.starts_with("Suites:") && l.split_whitespace().any(|w| w == "bookworm"))
                    && !para.contains("security")
            })
            .map(|para| {
                para.lines()
                    .map(|l| {
                        if l.starts_with("Suites:") {
                            "Suites: bookworm-backports".to_string()
                        } else {
                            l.to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
                    + "\n"
            })
    });
    match entry {
        Some(e) => {
            println!("setup: adding {} (bookworm-backports, for QEMU)", target.display());
            fs::write(target, e).with_context(|| format!("writing {}", target.display()))?;
        }
        None => {
            println!("setup: adding {} (bookworm-backports, for QEMU)", legacy.display());
            fs::write(legacy, "deb http://deb.debian.org/debian bookworm-backports main\n")
                .with_context(|| format!("writing {}", legacy.display()))?;
        }
    }
    Ok(true)
}

static HOST_READY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static E2E_READY: std::sync::OnceLock<E2eArtifacts> = std::sync::OnceLock::new();

/// Host packages, QEMU from bookworm-backports and the Rust target (checked once per process).
pub fn ensure_host() -> Result<()> {
    use std::sync::atomic::Ordering;
    if HOST_READY.load(Ordering::Relaxed) {
        return Ok(());
    }
    ensure_host_once()?;
    HOST_READY.store(true, Ordering::Relaxed);
    Ok(())
}

fn ensure_host_once() -> Result<()> {
    let mut apt = Apt { updated: false };
    if !lists_have("_dists_bookworm_InRelease") {
        apt.update();
    }
    let mut need: Vec<&str> = HOST_PACKAGES.iter().copied().filter(|p| dpkg_version(p).is_none()).collect();
    // grub-mkimage must match grub-xen-bin (2.06, bookworm), not backports' 2.12.
    if !dpkg_version("grub-common").is_some_and(|v| v.starts_with("2.06-")) {
        need.push("grub-common/bookworm");
    }
    // The GRUB oracle test (inspect/tests/grub_oracle.rs): grub-emu 2.06 runs the same GRUB as
    // pvgrub2; grub2-common has grub-set-default and grub-reboot.
    for (pkg, want) in [("grub-emu", "grub-emu/bookworm"), ("grub2-common", "grub2-common/bookworm")] {
        if !dpkg_version(pkg).is_some_and(|v| v.starts_with("2.06-")) {
            need.push(want);
        }
    }
    if need.is_empty() {
        println!("setup: host packages present");
    } else {
        println!("setup: installing {}", need.join(" "));
        apt.install(&need)?;
    }
    if have("qemu-system-x86_64") {
        println!("setup: qemu-system-x86_64 present");
    } else {
        let added = ensure_backports_source()?;
        if added || !lists_have("bookworm-backports_InRelease") {
            apt.updated = false;
        }
        println!("setup: installing qemu-system-x86 from bookworm-backports");
        apt.install(&["-t", "bookworm-backports", "qemu-system-x86"])?;
    }
    let targets = output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if targets.lines().any(|l| l.trim() == "x86_64-unknown-none") {
        println!("setup: rust target x86_64-unknown-none present");
    } else {
        run(Command::new("rustup").args(["target", "add", "x86_64-unknown-none"]))?;
    }
    Ok(())
}

/// Installs those of `pkgs` (apt package names) that are missing, the way [`ensure_host`]
/// installs the host packages; for tools that need more than the test path does (the bench's
/// C-library baseline needs the compression libraries' -dev packages).
pub fn ensure_packages(pkgs: &[&str]) -> Result<()> {
    let need: Vec<&str> = pkgs.iter().copied().filter(|p| dpkg_version(p).is_none()).collect();
    if need.is_empty() {
        return Ok(());
    }
    println!("setup: installing {}", need.join(" "));
    Apt { updated: false }.install(&need)
}

/// The kernel ABI to use: `KVER` from the environment, else the one already extracted
/// (unless `fresh`), else what `linux-image-amd64` points to.
fn kernel_abi(x: &Path, fresh: bool) -> String {
    if let Ok(k) = std::env::var("KVER") {
        if !k.is_empty() {
            return k;
        }
    }
    if let Ok(s) =
        fs::read_to_string(x.join(".stamp")).map_err(|_| ()).and_then(|s| if fresh { Err(()) } else { Ok(s) })
    {
        if let Some(k) = s.lines().next().filter(|k| !k.is_empty()) {
            return k.to_string();
        }
    }
    let deps = output(Command::new("apt-cache").args(["depends", "linux-image-amd64"])).unwrap_or_default();
    deps.lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: linux-image-"))
        .find(|k| k.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_string)
        .unwrap_or_else(|| DEFAULT_KVER.to_string())
}

/// The newest downloaded `.deb` of `pkg` in `debs`.
fn deb_of(debs: &Path, pkg: &str) -> Option<PathBuf> {
    let prefix = format!("{pkg}_");
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = fs::read_dir(debs)
        .ok()?
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with(&prefix) && n.ends_with(".deb")
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p)
}

/// Downloads, extracts and builds everything `cargo xtask e2e` boots (once per process).
pub fn ensure_e2e() -> Result<E2eArtifacts> {
    if let Some(a) = E2E_READY.get() {
        return Ok(a.clone());
    }
    let a = ensure_e2e_once()?;
    Ok(E2E_READY.get_or_init(|| a).clone())
}

fn ensure_e2e_once() -> Result<E2eArtifacts> {
    let dir = e2e_dir();
    let debs = dir.join("debs");
    let x = dir.join("x");
    let out = dir.join("out");
    mkdirp(&debs)?;
    let mut kver = kernel_abi(&x, false);
    let pkgs_for = |kver: &str| -> Vec<String> {
        let mut p: Vec<String> = GUEST_DEBS.iter().map(|s| s.to_string()).collect();
        p.push(format!("linux-image-{kver}"));
        p
    };
    let mut pkgs = pkgs_for(&kver);
    let missing: Vec<String> = pkgs.iter().filter(|p| deb_of(&debs, p).is_none()).cloned().collect();
    if !missing.is_empty() {
        println!("setup: downloading {} debs into {}", missing.len(), debs.display());
        let mut dl = Apt::cmd();
        dl.current_dir(&debs).arg("download").args(&missing);
        if run(&mut dl).is_err() {
            // Stale package lists (e.g. the kernel ABI moved on): refresh once, re-resolve, retry.
            Apt { updated: false }.update();
            kver = kernel_abi(&x, true);
            pkgs = pkgs_for(&kver);
            let missing: Vec<&String> = pkgs.iter().filter(|p| deb_of(&debs, p).is_none()).collect();
            let mut dl = Apt::cmd();
            dl.current_dir(&debs).arg("download").args(&missing);
            run(&mut dl)?;
        }
    }
    let mut files = Vec::new();
    for p in &pkgs {
        let f = deb_of(&debs, p).with_context(|| format!("{p}: no .deb in {}", debs.display()))?;
        files.push(f);
    }
    let names: Vec<String> =
        files.iter().map(|f| f.file_name().unwrap_or_default().to_string_lossy().into_owned()).collect();

    let x_stamp = format!("{kver}\n{}\n", names.join("\n"));
    if util::stamp_ok(&x.join(".stamp"), &x_stamp) {
        println!("setup: debs already extracted in {}", x.display());
    } else {
        println!("setup: extracting {} debs into {}", files.len(), x.display());
        if x.exists() {
            fs::remove_dir_all(&x).with_context(|| format!("removing {}", x.display()))?;
        }
        mkdirp(&x)?;
        for f in &files {
            run(Command::new("dpkg-deb").arg("-x").arg(f).arg(&x))?;
        }
        run(Command::new("depmod").arg("-b").arg(&x).arg(&kver))?;
        util::write_stamp(&x.join(".stamp"), &x_stamp)?;
    }
    util::write_stamp(&dir.join("PACKAGES.txt"), &(names.join("\n") + "\n"))?;

    let recipe =
        util::fnv64(&[RECIPE_VERSION.as_bytes(), DOMU_INIT.as_bytes(), BLOCK_LITE.as_bytes(), PVGRUB_EMBED.as_bytes()]);
    let out_stamp = format!("{x_stamp}recipe {recipe:016x}\n");
    let art = E2eArtifacts::at(out.clone(), kver.clone());
    let complete = [&art.xen, &art.vmlinux_dom0, &art.vmlinuz, &art.dom0_initrd, &art.domu_initrd, &art.pvgrub2]
        .iter()
        .all(|p| p.is_file());
    if complete && util::stamp_ok(&out.join(".stamp"), &out_stamp) {
        println!("setup: harness images up to date in {}", out.display());
        return Ok(art);
    }
    let t = Instant::now();
    println!("setup: building harness images into {}", out.display());
    build_outputs(&art, &x, &dir.join("work"))?;
    util::write_stamp(&out.join(".stamp"), &out_stamp)?;
    println!("setup: harness images built ({:.1} s)", t.elapsed().as_secs_f64());
    Ok(art)
}

fn build_outputs(art: &E2eArtifacts, x: &Path, work: &Path) -> Result<()> {
    let out = &art.out;
    let kver = &art.kver;
    for d in [out, work] {
        if d.exists() {
            fs::remove_dir_all(d).with_context(|| format!("removing {}", d.display()))?;
        }
        mkdirp(d)?;
    }

    // Xen: QEMU's multiboot loader needs the uncompressed ELF32 image.
    let xen_gz = x.join("boot/xen-4.17-amd64.gz");
    let raw = Command::new("zcat")
        .arg(&xen_gz)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("zcat {}", xen_gz.display()))?;
    if !raw.status.success() || raw.stdout.get(..4) != Some(b"\x7fELF") {
        bail!("{}: not a gzip'd ELF Xen image", xen_gz.display());
    }
    fs::write(&art.xen, &raw.stdout).with_context(|| format!("writing {}", art.xen.display()))?;

    let vmlinuz_src = x.join(format!("boot/vmlinuz-{kver}"));
    copy(&vmlinuz_src, &art.vmlinuz)?;
    extract_vmlinux(&art.vmlinuz, &art.vmlinux_dom0)?;

    let modules = Modules { x, kver };
    // Linux domU initrd: busybox, blkfront, ext4, /init printing markers.
    let d = work.join("domuroot");
    for sub in ["bin", "sbin", "proc", "sys", "dev", "mnt", "tmp"] {
        mkdirp(&d.join(sub))?;
    }
    copy(&x.join("bin/busybox"), &d.join("bin/busybox"))?;
    modules.add(&d, &["xen-blkfront", "ext4", "crc32c_generic"])?;
    write_file(&d.join("init"), DOMU_INIT, 0o755)?;
    util::mkcpio(&d, &art.domu_initrd, false, 6)?;

    // pvgrub2: grub-mkimage (grub-common 2.06) + grub-xen-bin 2.06's x86_64-xen modules.
    let embed = work.join("pvgrub-embed.cfg");
    fs::write(&embed, PVGRUB_EMBED)?;
    run(Command::new("grub-mkimage")
        .args(["-O", "x86_64-xen", "-d"])
        .arg(x.join("usr/lib/grub/x86_64-xen"))
        .arg("-c")
        .arg(&embed)
        .args(["-p", "/boot/grub", "-o"])
        .arg(&art.pvgrub2)
        .args([
            "normal",
            "configfile",
            "linux",
            "echo",
            "test",
            "search",
            "search_fs_file",
            "ls",
            "cat",
            "ext2",
            "part_msdos",
            "part_gpt",
            "xzio",
            "gzio",
            "lzopio",
        ]))?;

    build_dom0_root(x, &modules, &work.join("dom0root"))?;
    util::mkcpio(&work.join("dom0root"), &art.dom0_initrd, false, 6)?;
    Ok(())
}

/// The uncompressed ELF vmlinux is the xz payload of the Debian bzImage.
fn extract_vmlinux(vmlinuz: &Path, to: &Path) -> Result<()> {
    let img = fs::read(vmlinuz).with_context(|| format!("reading {}", vmlinuz.display()))?;
    let magic = b"\xfd7zXZ\x00";
    let off = img
        .windows(magic.len())
        .position(|w| w == magic)
        .with_context(|| format!("{}: no xz payload", vmlinuz.display()))?;
    // xz stops reading after the first stream (the bzImage has bytes after it).
    let payload = img.get(off..).unwrap_or_default();
    let elf = util::pipe_through("xz", &["-dc", "--single-stream"], payload)?;
    if elf.get(..5) != Some(b"\x7fELF\x02") {
        bail!("{}: xz payload is not an ELF64 vmlinux", vmlinuz.display());
    }
    fs::write(to, &elf).with_context(|| format!("writing {}", to.display()))
}

/// Copies kernel modules (with their dependencies) from the extracted tree into a root.
struct Modules<'a> {
    x: &'a Path,
    kver: &'a str,
}

impl Modules<'_> {
    fn add(&self, root: &Path, mods: &[&str]) -> Result<()> {
        let mut files = BTreeSet::new();
        for m in mods {
            let deps =
                output(Command::new("modprobe").args(["-S", self.kver, "-d"]).arg(self.x).args(["--show-depends", m]))?;
            for l in deps.lines() {
                let mut w = l.split_whitespace();
                if w.next() == Some("insmod") {
                    if let Some(f) = w.next() {
                        files.insert(PathBuf::from(f));
                    }
                }
            }
        }
        for f in files {
            let rel = f
                .strip_prefix(self.x)
                .with_context(|| format!("module {} outside {}", f.display(), self.x.display()))?;
            copy(&f, &root.join(rel))?;
        }
        let moddir = format!("lib/modules/{}", self.kver);
        for extra in ["modules.order", "modules.builtin", "modules.builtin.modinfo"] {
            copy(&self.x.join(&moddir).join(extra), &root.join(&moddir).join(extra))?;
        }
        run(Command::new("depmod").arg("-b").arg(root).arg(self.kver))
    }
}

/// Copies ELF binaries' shared libraries (resolved with ldd, extracted tree first) into `root`.
fn add_libs(root: &Path, x: &Path, bins: &[PathBuf]) -> Result<()> {
    let ldpath = format!(
        "{}:{}",
        x.join("usr/lib/x86_64-linux-gnu").display(),
        x.join("usr/lib/xen-4.17/lib/x86_64-linux-gnu").display()
    );
    let mut libs = BTreeSet::new();
    for b in bins {
        let out = output(Command::new("ldd").arg(b).env("LD_LIBRARY_PATH", &ldpath))
            .with_context(|| format!("ldd {}", b.display()))?;
        for l in out.lines() {
            let w: Vec<&str> = l.split_whitespace().collect();
            // "libfoo.so => /path (0x..)" and the loader "/lib64/ld-linux-x86-64.so.2 (0x..)"
            if let (Some(&"=>"), Some(p)) = (w.get(1), w.get(2)) {
                if p.starts_with('/') {
                    libs.insert(PathBuf::from(p));
                }
            } else if let Some(p) = w.first().filter(|p| p.starts_with("/lib64/")) {
                libs.insert(PathBuf::from(p));
            }
        }
    }
    for lib in libs {
        let dst = match lib.strip_prefix(x) {
            Ok(rel) => root.join(rel),
            Err(_) => root.join(lib.strip_prefix("/").unwrap_or(&lib)),
        };
        if !dst.exists() {
            copy(&lib, &dst)?;
        }
    }
    Ok(())
}

/// dom0's root filesystem: busybox, bash + flock (hotplug scripts), the Xen tools and
/// libraries, the backend modules. /init and /guest come with each run's appended cpio.
fn build_dom0_root(x: &Path, modules: &Modules, r: &Path) -> Result<()> {
    for sub in [
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "usr/lib/x86_64-linux-gnu",
        "lib/x86_64-linux-gnu",
        "proc",
        "sys",
        "dev",
        "tmp",
        "run",
        "root",
        "guest",
        "etc",
        "var/lib/xen",
        "var/log/xen/console",
        "var/lock",
    ] {
        mkdirp(&r.join(sub))?;
    }
    std::os::unix::fs::symlink("../run", r.join("var/run")).context("symlink var/run")?;
    copy(&x.join("bin/busybox"), &r.join("bin/busybox"))?;
    // The Xen hotplug scripts are bash scripts; locking.sh needs flock (not in busybox-static).
    copy(Path::new("/bin/bash"), &r.join("bin/bash"))?;
    copy(Path::new("/usr/bin/flock"), &r.join("bin/flock"))?;
    util::sh(&format!(
        "cp -a {xen} {r}/usr/lib/ && rm -rf {r}/usr/lib/xen-4.17/lib/python {r}/usr/lib/xen-4.17/boot \
         && cp -a {x}/usr/lib/x86_64-linux-gnu/libxen* {x}/usr/lib/x86_64-linux-gnu/libyajl* {r}/usr/lib/x86_64-linux-gnu/ \
         && cp -a {x}/usr/bin/xenstore* {r}/usr/bin/ && cp -a {x}/etc/xen {r}/etc/",
        xen = shq(x.join("usr/lib/xen-4.17")),
        x = shq(x),
        r = shq(r),
    ))?;
    // dom0 has a fixed dom0_mem: never balloon it.
    fs::write(r.join("etc/xen/xl.conf"), "autoballoon=\"off\"\n")?;
    write_file(&r.join("etc/xen/scripts/block-lite"), BLOCK_LITE, 0o755)?;
    fs::write(r.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")?;
    fs::write(r.join("etc/group"), "root:x:0:\n")?;
    // glibc dlopen()s libgcc_s for pthread_cancel: xl aborts without it; ldd can't see it.
    copy(Path::new("/lib/x86_64-linux-gnu/libgcc_s.so.1"), &r.join("lib/x86_64-linux-gnu/libgcc_s.so.1"))?;
    let xbin = r.join("usr/lib/xen-4.17/bin");
    let mut bins = vec![PathBuf::from("/bin/bash"), PathBuf::from("/usr/bin/flock"), r.join("usr/bin/xenstore")];
    for b in ["xl", "xenstored", "xenconsoled", "xenconsole", "xen-init-dom0", "libxl-save-helper", "xenstore-control"]
    {
        bins.push(xbin.join(b));
    }
    add_libs(r, x, &bins)?;
    modules.add(r, &["xen-evtchn", "xen-gntdev", "xen-gntalloc", "xen-privcmd", "xenfs", "xen-blkback", "loop"])
}

/// bookworm's QEMU 7.2, unpacked next to the host's 10.0 (docs/pvh-linux.md).
pub struct QemuBookworm {
    /// `qemu-system-x86_64`.
    pub bin: PathBuf,
    /// Its loadable modules (the TCG accelerator is one): `QEMU_MODULE_DIR`.
    pub module_dir: PathBuf,
}

/// The two debs of bookworm's QEMU that a TCG boot needs: the binary, and the modules.
const QEMU_BOOKWORM_DEBS: &[&str] = &["qemu-system-x86", "qemu-system-common"];

/// Downloads bookworm's QEMU 7.2 (`apt-get download PKG/bookworm`) into
/// `target/e2e/debs-qemu-bookworm` and unpacks it into `target/e2e/qemu-bookworm` (never
/// installed: the host keeps backports' 10.0). Only Linux PVH scenarios need it; `cargo xtask
/// setup` fetches it (CI's `e2e-pvh-linux` step boots it), and so does their first run.
pub fn ensure_qemu_bookworm() -> Result<QemuBookworm> {
    let dir = e2e_dir();
    let debs = dir.join("debs-qemu-bookworm");
    let x = dir.join("qemu-bookworm");
    mkdirp(&debs)?;
    let missing: Vec<String> =
        QEMU_BOOKWORM_DEBS.iter().filter(|p| deb_of(&debs, p).is_none()).map(|p| format!("{p}/bookworm")).collect();
    if !missing.is_empty() {
        println!("setup: downloading bookworm's QEMU ({}) into {}", missing.join(" "), debs.display());
        let mut dl = Apt::cmd();
        dl.current_dir(&debs).arg("download").args(&missing);
        if run(&mut dl).is_err() {
            Apt { updated: false }.update();
            let mut dl = Apt::cmd();
            dl.current_dir(&debs).arg("download").args(&missing);
            run(&mut dl)?;
        }
    }
    let mut files = Vec::new();
    for p in QEMU_BOOKWORM_DEBS {
        files.push(deb_of(&debs, p).with_context(|| format!("{p}: no .deb in {}", debs.display()))?);
    }
    let stamp: String =
        files.iter().map(|f| format!("{}\n", f.file_name().unwrap_or_default().to_string_lossy())).collect();
    if !util::stamp_ok(&x.join(".stamp"), &stamp) {
        println!("setup: unpacking bookworm's QEMU into {}", x.display());
        if x.exists() {
            fs::remove_dir_all(&x).with_context(|| format!("removing {}", x.display()))?;
        }
        mkdirp(&x)?;
        for f in &files {
            run(Command::new("dpkg-deb").arg("-x").arg(f).arg(&x))?;
        }
        util::write_stamp(&x.join(".stamp"), &stamp)?;
    }
    let q =
        QemuBookworm { bin: x.join("usr/bin/qemu-system-x86_64"), module_dir: x.join("usr/lib/x86_64-linux-gnu/qemu") };
    if !q.bin.is_file() || !q.module_dir.join("accel-tcg-x86_64.so").is_file() {
        bail!("{}: no qemu-system-x86_64 or TCG module after unpacking {}", x.display(), debs.display());
    }
    Ok(q)
}
