//! `cargo xtask dist`: the Debian package a provider installs in dom0, and SHA-256 sums.
//!
//! Writes to `target/dist/`: `rpvboot_<version>_amd64.deb` (built with `dpkg-deb --build`
//! from a staged tree, owners root, modes fixed, timestamps clamped to the commit time), the
//! three images as they are in the package, and `SHA256SUMS` over all four. `--check` then
//! tests the package ([`check`]). The package's file list is [`CONTENTS`]; the man pages and
//! the example xl config are kept in `docs/man/` and `docs/examples/`.

mod check;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::build::{build_rpvboot, reproducible, source_rev, target_dir};
use crate::repro::IMAGES;
use crate::util::{mkdirp, output, project_root, run, write_file};

/// `cargo xtask dist`.
#[derive(clap::Args)]
pub struct Dist {
    /// Then test the package: contents, a second packing, `dpkg -x` into a scratch root,
    /// the installed `rpvboot-inspect --version`, `man -l` of both pages, lintian if present.
    #[arg(long)]
    check: bool,
}

impl Dist {
    pub fn run(self) -> Result<()> {
        let deb = package()?;
        if self.check {
            check::check(&deb)?;
        }
        Ok(())
    }
}

/// The package name.
const PACKAGE: &str = "rpvboot";
/// Where the images go: Xen's directory for boot images (Debian's pv-grub went there as
/// `/usr/lib/xen/boot/pv-grub-x86_64.gz`); `kernel =` in an xl config names a file in it.
pub const IMAGE_DIR: &str = "usr/lib/xen/boot";
/// Debian revision of the package: the packaging of one upstream version.
const DEB_REVISION: &str = "1";
/// The package's architecture, and the Rust host triple `rpvboot-inspect` is built for.
const ARCH: &str = "amd64";
const HOST_TRIPLE: &str = "x86_64-unknown-linux-gnu";

/// What the package installs: (path, mode). Directories are 0755 and implied.
pub const CONTENTS: &[(&str, u32)] = &[
    ("usr/bin/rpvboot-inspect", 0o755),
    ("usr/lib/xen/boot/rpvboot", 0o644),
    ("usr/lib/xen/boot/rpvboot.gz", 0o644),
    ("usr/lib/xen/boot/rpvboot.xz", 0o644),
    ("usr/share/doc/rpvboot/changelog.Debian.gz", 0o644),
    ("usr/share/doc/rpvboot/copyright", 0o644),
    ("usr/share/doc/rpvboot/examples/domu.cfg", 0o644),
    ("usr/share/lintian/overrides/rpvboot", 0o644),
    ("usr/share/man/man1/rpvboot-inspect.1.gz", 0o644),
    ("usr/share/man/man7/rpvboot.7.gz", 0o644),
];

/// What lintian reports that is so by design (`usr/share/lintian/overrides/rpvboot`).
const LINTIAN_OVERRIDES: &str = "\
# A Xen PV kernel image, not a host program: a domU has no dynamic loader.
rpvboot: statically-linked-binary [usr/lib/xen/boot/rpvboot]
# The ELF xz'd inside a Linux boot-protocol header (a bzImage), which Xen's loader unpacks.
rpvboot: broken-xz [usr/lib/xen/boot/rpvboot.xz]
# Packaged by the project, not uploaded to Debian: there is no ITP bug to close.
rpvboot: initial-upload-closes-no-bugs [usr/share/doc/rpvboot/changelog.Debian.gz:1]
";

/// The package version: the workspace version plus [`DEB_REVISION`].
pub fn deb_version() -> String {
    format!("{}-{DEB_REVISION}", env!("CARGO_PKG_VERSION"))
}

/// `target/dist/`.
pub fn dist_dir() -> PathBuf {
    target_dir().join("dist")
}

/// Builds everything, writes the package, the images and `SHA256SUMS` to `target/dist/`, and
/// returns the package's path.
pub fn package() -> Result<PathBuf> {
    let epoch = source_date_epoch()?;
    let images = build_rpvboot()?.parent().context("image directory")?.to_path_buf();
    let inspect = build_inspect()?;
    let dir = dist_dir();
    mkdirp(&dir)?;
    let deb = dir.join(format!("{PACKAGE}_{}_{ARCH}.deb", deb_version()));
    pack(&dir.join("stage"), &images, &inspect, epoch, &deb)?;
    for name in IMAGES {
        crate::util::copy(&images.join(name), &dir.join(name))?;
    }
    let deb_name = deb.file_name().context("deb name")?.to_string_lossy().into_owned();
    let sums = output(Command::new("sha256sum").current_dir(&dir).arg(&deb_name).args(IMAGES))?;
    fs::write(dir.join("SHA256SUMS"), &sums)?;
    print!("{sums}");
    println!("dist: {} ({} bytes), SHA256SUMS in {}", deb.display(), fs::metadata(&deb)?.len(), dir.display());
    Ok(deb)
}

/// [`package`], unpacked with `dpkg -x` into `target/dist/root/` (emptied first): the
/// package as a provider's dom0 has it, for tests.
pub fn installed_root() -> Result<PathBuf> {
    unpack(&package()?)
}

/// `dpkg -x DEB target/dist/root/` into an emptied directory; returns the root.
fn unpack(deb: &Path) -> Result<PathBuf> {
    let root = dist_dir().join("root");
    if root.exists() {
        fs::remove_dir_all(&root).with_context(|| format!("removing {}", root.display()))?;
    }
    run(Command::new("dpkg").arg("-x").arg(deb).arg(&root))?;
    Ok(root)
}

/// `usr/lib/xen/boot/rpvboot.gz` from the unpacked package: what the `dist-demo` e2e scenario
/// and `cargo xtask demo --installed` boot.
pub fn installed_rpvboot_gz() -> Result<PathBuf> {
    Ok(installed_root()?.join(IMAGE_DIR).join("rpvboot.gz"))
}

/// `$SOURCE_DATE_EPOCH` (the reproducible-builds convention), else the commit time of HEAD:
/// the changelog's date and the newest timestamp in the package.
fn source_date_epoch() -> Result<u64> {
    let text = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) if !s.is_empty() => s,
        _ => output(Command::new("git").arg("-C").arg(project_root()).args(["log", "-1", "--format=%ct", "HEAD"]))
            .context("no SOURCE_DATE_EPOCH and no git commit to take the time from")?,
    };
    text.trim().parse().with_context(|| format!("SOURCE_DATE_EPOCH {text:?} is not a number"))
}

/// Builds `rpvboot-inspect` (release, symbols stripped as Debian policy wants, explicit
/// host target so the flags of [`reproducible`] stay off build scripts and the artefacts
/// apart from a plain `cargo build --release`) and returns its path.
fn build_inspect() -> Result<PathBuf> {
    let host = output(Command::new("dpkg").arg("--print-architecture"))?;
    if host.trim() != ARCH {
        bail!("the package is {ARCH}; this machine is {}", host.trim());
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run(reproducible(Command::new(cargo).current_dir(project_root())).args([
        "build",
        "--release",
        "--config",
        "profile.release.strip=\"symbols\"",
        "--package",
        "rpvboot-inspect",
        "--bin",
        "rpvboot-inspect",
        "--target",
        HOST_TRIPLE,
    ]))?;
    Ok(target_dir().join(HOST_TRIPLE).join("release").join("rpvboot-inspect"))
}

/// Stages the package tree in `stage` (emptied first) and builds `deb` from it.
pub fn pack(stage: &Path, images: &Path, inspect: &Path, epoch: u64, deb: &Path) -> Result<()> {
    if stage.exists() {
        fs::remove_dir_all(stage).with_context(|| format!("removing {}", stage.display()))?;
    }
    stage_files(stage, images, inspect, epoch)?;
    for (path, mode) in CONTENTS {
        let p = stage.join(path);
        anyhow::ensure!(p.is_file(), "staged tree lacks {path}");
        fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(*mode))?;
    }
    let control = control(stage, inspect)?;
    write_file(&stage.join("DEBIAN/control"), control, 0o644)?;
    write_file(&stage.join("DEBIAN/md5sums"), md5sums(stage)?, 0o644)?;
    fix_dir_modes(stage)?;
    run(Command::new("dpkg-deb")
        .env("SOURCE_DATE_EPOCH", epoch.to_string())
        .args(["--root-owner-group", "-Zxz", "-z9", "--threads-max=1", "--build"])
        .arg(stage)
        .arg(deb))
}

/// Writes every file of [`CONTENTS`] under `stage`.
fn stage_files(stage: &Path, images: &Path, inspect: &Path, epoch: u64) -> Result<()> {
    let root = project_root();
    for name in IMAGES {
        crate::util::copy(&images.join(name), &stage.join(IMAGE_DIR).join(name))?;
    }
    crate::util::copy(inspect, &stage.join("usr/bin/rpvboot-inspect"))?;
    let doc = stage.join("usr/share/doc").join(PACKAGE);
    crate::util::copy(&root.join("docs/examples/domu.cfg"), &doc.join("examples/domu.cfg"))?;
    write_file(&doc.join("copyright"), copyright()?, 0o644)?;
    write_file(&stage.join("usr/share/lintian/overrides").join(PACKAGE), LINTIAN_OVERRIDES, 0o644)?;
    write_file(&doc.join("changelog.Debian.gz"), gzip(changelog(epoch)?.as_bytes())?, 0o644)?;
    let man = stage.join("usr/share/man");
    for (src, dst) in [("rpvboot.7", "man7/rpvboot.7.gz"), ("rpvboot-inspect.1", "man1/rpvboot-inspect.1.gz")] {
        let page = fs::read_to_string(root.join("docs/man").join(src)).with_context(|| format!("docs/man/{src}"))?;
        write_file(&man.join(dst), gzip(man_page(&page, epoch)?.as_bytes())?, 0o644)?;
    }
    Ok(())
}

/// A man page source from `docs/man/` with its placeholders filled: `@VERSION@`,
/// `@REVISION@` and `@DATE@` (the commit's day, so the page does not change with the day
/// it is built).
fn man_page(src: &str, epoch: u64) -> Result<String> {
    let date = output(Command::new("date").args(["-u", "+%Y-%m-%d", "-d"]).arg(format!("@{epoch}")))?;
    Ok(src
        .replace("@VERSION@", env!("CARGO_PKG_VERSION"))
        .replace("@REVISION@", source_rev())
        .replace("@DATE@", date.trim()))
}

/// `gzip -9n`: no name, no timestamp in the header (Debian policy for man pages and docs).
fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    crate::util::pipe_through("gzip", &["-9n", "-c"], data)
}

/// Directories 0755, whatever the umask made them.
fn fix_dir_modes(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))?;
    for e in fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            fix_dir_modes(&e.path())?;
        }
    }
    Ok(())
}

/// `DEBIAN/control`. `Depends` comes from `dpkg-shlibdeps` on `rpvboot-inspect` (the images
/// are not host programs and need nothing in dom0 but Xen's loader).
fn control(stage: &Path, inspect: &Path) -> Result<String> {
    let size_kib: u64 = CONTENTS
        .iter()
        .map(|(p, _)| fs::metadata(stage.join(p)).map(|m| m.len().div_ceil(1024)))
        .sum::<std::io::Result<u64>>()?;
    Ok(format!(
        "Package: {PACKAGE}\n\
         Version: {}\n\
         Architecture: {ARCH}\n\
         Maintainer: {}\n\
         Installed-Size: {size_kib}\n\
         Depends: {}\n\
         Section: admin\n\
         Priority: optional\n\
         Description: memory-safe Xen PV bootloader (successor of pvgrub)\n \
         rpvboot is named as the kernel of a Xen PV domU. Inside the domU it\n \
         connects the domU's own disks, reads the owner's boot menu (GRUB legacy\n \
         menu.lst, GRUB 2 grub.cfg, NetBSD boot.cfg) from FFS, ext2/3/4 or FAT,\n \
         shows it on the PV console and boots the chosen NetBSD or Linux PV kernel.\n \
         dom0 never parses a guest's disk.\n \
         .\n \
         This package holds the images in /usr/lib/xen/boot/ (rpvboot, rpvboot.gz,\n \
         rpvboot.xz) and rpvboot-inspect, which runs the same disk, configuration\n \
         and kernel checks on a disk image or block device in dom0.\n",
        deb_version(),
        maintainer()?,
        shlib_depends(inspect)?,
    ))
}

/// The maintainer: `$DEBFULLNAME <$DEBEMAIL>` when set (Debian's convention), else the
/// author of the commit being packaged.
fn maintainer() -> Result<String> {
    if let (Ok(n), Ok(e)) = (std::env::var("DEBFULLNAME"), std::env::var("DEBEMAIL")) {
        if !n.is_empty() && !e.is_empty() {
            return Ok(format!("{n} <{e}>"));
        }
    }
    let who = output(Command::new("git").arg("-C").arg(project_root()).args(["log", "-1", "--format=%an <%ae>"]))
        .context("no DEBFULLNAME/DEBEMAIL and no git commit to name the maintainer")?;
    Ok(who.trim().to_string())
}

/// `dpkg-shlibdeps` on the binary: the libraries it links, as package dependencies. It wants
/// to run in a source tree, so it gets a one-package `debian/control` in a scratch directory.
fn shlib_depends(bin: &Path) -> Result<String> {
    let dir = dist_dir().join("shlibdeps");
    write_file(
        &dir.join("debian/control"),
        format!("Source: {PACKAGE}\n\nPackage: {PACKAGE}\nArchitecture: {ARCH}\n"),
        0o644,
    )?;
    let bin = fs::canonicalize(bin)?;
    let out = output(Command::new("dpkg-shlibdeps").current_dir(&dir).arg("-O").arg(format!("-e{}", bin.display())))
        .context("dpkg-shlibdeps (package dpkg-dev; `cargo xtask setup` installs it)")?;
    let deps =
        out.lines().find_map(|l| l.strip_prefix("shlibs:Depends=")).context("dpkg-shlibdeps printed no Depends")?;
    Ok(deps.trim().to_string())
}

/// `DEBIAN/md5sums`: `md5sum` over every file of [`CONTENTS`], paths relative to the root.
fn md5sums(stage: &Path) -> Result<String> {
    output(Command::new("md5sum").current_dir(stage).args(CONTENTS.iter().map(|(p, _)| p)))
}

/// `changelog.Debian`: one entry for this version, dated at the commit, naming the source
/// revision the images report in their banner.
fn changelog(epoch: u64) -> Result<String> {
    let date = output(Command::new("date").args(["-u", "-R", "-d"]).arg(format!("@{epoch}")))?;
    Ok(format!(
        "{PACKAGE} ({}) unstable; urgency=medium\n\n  \
         * rpvboot {} from source revision {}.\n  \
         * See /usr/share/man/man7/rpvboot.7.gz for what it reads and boots.\n\n \
         -- {}  {}\n",
        deb_version(),
        env!("CARGO_PKG_VERSION"),
        source_rev(),
        maintainer()?,
        date.trim()
    ))
}

/// `copyright` in Debian's machine-readable format: the workspace licence (Cargo.toml's
/// `license`, "MIT OR Apache-2.0"), the MIT text in full and Apache-2.0 by reference to
/// `/usr/share/common-licenses` (as Debian policy asks), and the crates.io crates linked
/// into the two binaries with their declared licences (from `cargo tree`, so it follows
/// Cargo.lock).
fn copyright() -> Result<String> {
    let mut crates = linked_crates("rpvboot", crate::build::PV_TARGET)?;
    crates.extend(linked_crates("rpvboot-inspect", HOST_TRIPLE)?);
    crates.sort();
    crates.dedup();
    let list: String = crates.iter().map(|c| format!(" {c}\n")).collect();
    let mit = fs::read_to_string(project_root().join("LICENSE-MIT")).context("LICENSE-MIT")?;
    let mit: String = mit.lines().map(|l| if l.is_empty() { " .\n".into() } else { format!(" {l}\n") }).collect();
    Ok(format!(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
         Upstream-Name: rpvboot\n\
         Comment: rpvboot and rpvboot-inspect are statically linked with these Rust\n \
         crates (name, version: licence as the crate declares it):\n \
         .\n{list}\n\
         Files: *\n\
         Copyright: 2026 the rpvboot authors\n\
         License: MIT or Apache-2.0\n\n\
         License: MIT\n{mit}\n\
         License: Apache-2.0\n \
         On Debian systems, the complete text of the Apache License, Version 2.0,\n \
         can be found in \"/usr/share/common-licenses/Apache-2.0\".\n"
    ))
}

/// The crates.io crates `package` links for `target`: `name version: licence`.
fn linked_crates(package: &str, target: &str) -> Result<Vec<String>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let tree = output(Command::new(cargo).current_dir(project_root()).args([
        "tree",
        "--quiet",
        "--package",
        package,
        "--edges",
        "normal",
        "--target",
        target,
        "--prefix",
        "none",
        "--format",
        "{p}|{l}",
    ]))?;
    Ok(tree
        .lines()
        .filter_map(|l| l.trim_end_matches(" (*)").split_once('|'))
        .filter_map(|(p, l)| third_party(p).map(|name| format!("{name}: {l}")))
        .collect())
}

/// `name version` for a crate written elsewhere: a crates.io crate, or one vendored (copied
/// with changes) under `vendor/`; `None` for the workspace's own crates. Path dependencies are
/// printed by `cargo tree` with their directory, which must not reach the package.
fn third_party(p: &str) -> Option<String> {
    match p.split_once(" (") {
        None => Some(p.replacen(" v", " ", 1)),
        Some((name, dir)) if dir.contains("/vendor/") => {
            let doc = if name.starts_with("xz4rust ") {
                "docs/xz.md"
            } else if name.starts_with("zstd-rs ") {
                "docs/zstd.md"
            } else {
                "docs/fs-xfs-btrfs.md"
            };
            Some(format!("{} (vendored with changes, see {doc})", name.replacen(" v", " ", 1)))
        }
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::third_party;

    /// `cargo tree --format {p}` lines: crates.io crates as `name vX`, path crates with their
    /// directory (the workspace's own are left out, vendored ones named without the path).
    #[test]
    fn third_party_crates_from_cargo_tree_lines() {
        assert_eq!(third_party("lamxfs v0.1.3").as_deref(), Some("lamxfs 0.1.3"));
        assert_eq!(third_party("fs v0.1.0 (/work/x/fs)"), None);
        let v = third_party("lambutter v0.5.0+rpvboot.1 (/work/x/vendor/lambutter)").unwrap_or_default();
        assert!(v.starts_with("lambutter 0.5.0+rpvboot.1 (vendored") && !v.contains("/work"), "{v}");
        let v = third_party("xz4rust v0.2.3+rpvboot.1 (/work/x/vendor/xz4rust)").unwrap_or_default();
        assert_eq!(v, "xz4rust 0.2.3+rpvboot.1 (vendored with changes, see docs/xz.md)");
        let v = third_party("zstd-rs v0.1.0+rpvboot.1 (/work/x/vendor/zstd-rs)").unwrap_or_default();
        assert_eq!(v, "zstd-rs 0.1.0+rpvboot.1 (vendored with changes, see docs/zstd.md)");
    }
}
