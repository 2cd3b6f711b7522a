//! `cargo xtask dist --check`: the package tested with Debian's own tools as the oracle.
//!
//! - `dpkg-deb --field` / `--contents`: name, version, architecture, dependencies, exactly
//!   [`CONTENTS`] with their modes, everything owned by root;
//! - packing the same inputs again from another directory gives the same bytes;
//! - `dpkg -x` into a scratch root; `md5sum -c` of the package's md5sums there; the installed
//!   images are the built ones, and `sha256sum -c SHA256SUMS` passes;
//! - the installed `rpvboot-inspect --version` names this version and source revision;
//! - `man -l` renders both pages without a groff warning, rpvboot(7) names every user option
//!   of README's `extra=` table, rpvboot-inspect(1) every subcommand and option the
//!   installed tool's help names;
//! - no installed binary holds a path of this machine;
//! - `lintian`, when installed (not a setup package: the checks above do not need it).
//!
//! The e2e scenario `dist-demo` boots the installed `rpvboot.gz` (crate::demo).

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};

use super::{deb_version, dist_dir, pack, ARCH, CONTENTS, IMAGE_DIR, PACKAGE};
use crate::build::source_rev;
use crate::repro::{foreign_paths, IMAGES};
use crate::util::{have, output, project_root, run};

/// Runs every check on `deb` (just built by [`super::package`]).
pub fn check(deb: &Path) -> Result<()> {
    fields(deb)?;
    contents(deb)?;
    repacks_identically(deb)?;
    let root = super::unpack(deb)?;
    installed_files(deb, &root)?;
    inspect_version(&root)?;
    man_pages(&root)?;
    lintian(deb)?;
    println!("dist: check OK ({})", deb.display());
    Ok(())
}

fn field(deb: &Path, name: &str) -> Result<String> {
    Ok(output(Command::new("dpkg-deb").arg("--field").arg(deb).arg(name))?.trim().to_string())
}

fn fields(deb: &Path) -> Result<()> {
    for (name, want) in [("Package", PACKAGE.to_string()), ("Version", deb_version()), ("Architecture", ARCH.into())] {
        let got = field(deb, name)?;
        ensure!(got == want, "{name}: {got:?}, expected {want:?}");
    }
    let depends = field(deb, "Depends")?;
    ensure!(depends.contains("libc6"), "Depends {depends:?} lacks libc6 (rpvboot-inspect links it)");
    println!("dist: fields OK ({PACKAGE} {} {ARCH}, Depends: {depends})", deb_version());
    Ok(())
}

/// `dpkg-deb --contents` lists exactly [`CONTENTS`] and their directories, modes as listed,
/// owner root/root.
fn contents(deb: &Path) -> Result<()> {
    let listing = output(Command::new("dpkg-deb").arg("--contents").arg(deb))?;
    let mut files = Vec::new();
    for line in listing.lines() {
        // drwxr-xr-x root/root         0 2026-12-07 09:30 ./usr/
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (Some(mode), Some(owner), Some(path)) = (cols.first(), cols.get(1), cols.last()) else {
            bail!("unexpected dpkg-deb --contents line {line:?}");
        };
        ensure!(*owner == "root/root", "{path} is owned by {owner}");
        let path = path.trim_start_matches("./");
        if mode.starts_with('d') {
            ensure!(*mode == "drwxr-xr-x", "directory {path} has mode {mode}");
            continue;
        }
        files.push((path.to_string(), mode.to_string()));
    }
    let want: Vec<(String, String)> = CONTENTS.iter().map(|(p, m)| (p.to_string(), ls_mode(*m))).collect();
    ensure!(files == want, "package files {files:?}\nexpected {want:?}");
    println!("dist: contents OK ({} files, root/root)", files.len());
    Ok(())
}

/// `0o644` as `ls -l` shows a regular file: `-rw-r--r--`.
fn ls_mode(mode: u32) -> String {
    let mut s = String::from("-");
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

/// Packs the same inputs from another staging directory, with other file timestamps; the
/// bytes must not change (dpkg-deb sorts, clamps times to SOURCE_DATE_EPOCH, root owners).
fn repacks_identically(deb: &Path) -> Result<()> {
    let images = crate::build::target_dir().join("rpvboot");
    let inspect = built_inspect()?;
    let again = dist_dir().join("again").join("rpvboot-again.deb");
    crate::util::mkdirp(again.parent().context("parent")?)?;
    let epoch = super::source_date_epoch()?;
    pack(&dist_dir().join("again").join("other-stage"), &images, &inspect, epoch, &again)?;
    let (a, b) = (fs::read(deb)?, fs::read(&again)?);
    ensure!(a == b, "packing again in another directory gave other bytes: {} vs {}", deb.display(), again.display());
    println!("dist: packing again from another directory: same {} bytes", a.len());
    Ok(())
}

/// The inspect binary the package was built from.
fn built_inspect() -> Result<std::path::PathBuf> {
    let p = crate::build::target_dir().join(super::HOST_TRIPLE).join("release").join("rpvboot-inspect");
    ensure!(p.is_file(), "{} missing", p.display());
    Ok(p)
}

/// After `dpkg -x`: the package's own md5sums hold, the images are the ones `cargo xtask
/// build` wrote, SHA256SUMS matches, and no binary holds a path of this machine.
fn installed_files(deb: &Path, root: &Path) -> Result<()> {
    let control = dist_dir().join("control");
    if control.exists() {
        fs::remove_dir_all(&control)?;
    }
    run(Command::new("dpkg-deb").arg("--control").arg(deb).arg(&control))?;
    run(Command::new("md5sum").current_dir(root).args(["--quiet", "-c"]).arg(control.join("md5sums")))?;
    let built = crate::build::target_dir().join("rpvboot");
    for name in IMAGES {
        let inst = fs::read(root.join(IMAGE_DIR).join(name))?;
        ensure!(inst == fs::read(built.join(name))?, "installed {name} differs from target/rpvboot/{name}");
    }
    run(Command::new("sha256sum").current_dir(dist_dir()).args(["--quiet", "-c", "SHA256SUMS"]))?;
    for (path, _) in CONTENTS.iter().filter(|(p, _)| p.starts_with(IMAGE_DIR) || p.starts_with("usr/bin")) {
        let found = foreign_paths(&fs::read(root.join(path))?, &[project_root()]);
        ensure!(found.is_empty(), "{path} holds build paths: {found:?}");
    }
    println!("dist: installed files OK (md5sums, SHA256SUMS, images = target/rpvboot, no build paths)");
    Ok(())
}

/// The installed `rpvboot-inspect --version` prints `rpvboot-inspect VERSION (REV)`: the
/// revision this tree was built from (`git rev-parse`, the oracle), as the banner does.
fn inspect_version(root: &Path) -> Result<()> {
    let tool = root.join("usr/bin/rpvboot-inspect");
    let out = Command::new(&tool).arg("--version").output().with_context(|| format!("running {}", tool.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let want = format!("rpvboot-inspect {} ({})", env!("CARGO_PKG_VERSION"), source_rev());
    ensure!(out.status.success() && text.trim() == want, "--version printed {text:?}, expected {want:?}");
    println!("dist: installed `rpvboot-inspect --version`: {want}");
    Ok(())
}

/// `man -l` renders both installed pages without warnings and they cover what they must.
fn man_pages(root: &Path) -> Result<()> {
    let seven = render(&root.join("usr/share/man/man7/rpvboot.7.gz"))?;
    let missing: Vec<String> = readme_options()?.into_iter().filter(|o| !seven.contains(o.as_str())).collect();
    ensure!(missing.is_empty(), "rpvboot(7) lacks the extra= options {missing:?} of README's table");
    for must in ["/usr/lib/xen/boot/rpvboot.gz", "/boot/grub/menu.lst", "/boot.cfg", "rpvboot-inspect"] {
        ensure!(seven.contains(must), "rpvboot(7) does not mention {must}");
    }
    let one = render(&root.join("usr/share/man/man1/rpvboot-inspect.1.gz"))?;
    let tool = root.join("usr/bin/rpvboot-inspect");
    let mut words = Vec::new();
    for sub in ["probe", "ls", "cat", "menu", "boot"] {
        ensure!(one.contains(&format!("rpvboot-inspect {sub}")), "rpvboot-inspect(1) lacks the subcommand {sub}");
        let help = Command::new(&tool).args([sub, "--help"]).output()?;
        let text = format!("{}{}", String::from_utf8_lossy(&help.stdout), String::from_utf8_lossy(&help.stderr));
        words.extend(long_options(&text));
    }
    words.sort();
    words.dedup();
    let missing: Vec<&String> = words.iter().filter(|w| !one.contains(w.as_str())).collect();
    ensure!(missing.is_empty(), "rpvboot-inspect(1) lacks the options {missing:?} the tool's help names");
    println!(
        "dist: man -l OK (rpvboot.7: {} options; rpvboot-inspect.1: {} options)",
        readme_options()?.len(),
        words.len()
    );
    Ok(())
}

/// `man -l PAGE` as plain text; a groff warning (`man --warnings`) fails.
fn render(page: &Path) -> Result<String> {
    let out = Command::new("man")
        .args(["--warnings", "-l"])
        .arg(page)
        .env("MANWIDTH", "100")
        .env("MAN_KEEP_FORMATTING", "0")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .context("running man (package man-db; `cargo xtask setup` installs it)")?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.success() && err.trim().is_empty(), "man -l {}: {}{err}", page.display(), out.status);
    // Undo overstriking (bold `X\bX`, underline `_\bX`) when man formats for a terminal.
    let mut text = String::new();
    for c in String::from_utf8_lossy(&out.stdout).chars() {
        if c == '\u{8}' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    // Words hyphenated or justified across lines would hide them: join the lines' words.
    Ok(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// `--word` options in a help text, without `--help`/`--version`.
fn long_options(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.starts_with("--") && w.len() > 2 && *w != "--help" && *w != "--version")
        .map(String::from)
        .collect()
}

/// The `rpvboot.…` options of README's user table under "Boot configuration" (the rows
/// between the `| option | meaning |` header and the blank line after the table).
fn readme_options() -> Result<Vec<String>> {
    let readme = fs::read_to_string(project_root().join("README.md"))?;
    let table = readme.split("| option | meaning |").nth(1).context("README has no `| option | meaning |` table")?;
    let mut opts = Vec::new();
    for row in table.lines().skip(2).take_while(|l| l.starts_with('|')) {
        let cell = row.split('`').nth(1).context("option cell without backquotes")?;
        let name = cell.split(['=', ' ']).next().unwrap_or(cell);
        opts.push(name.to_string());
    }
    ensure!(!opts.is_empty(), "README's option table is empty");
    Ok(opts)
}

/// `lintian` on the package when it is installed: no errors, no warnings.
fn lintian(deb: &Path) -> Result<()> {
    if !have("lintian") {
        println!("dist: lintian not installed: skipped (apt-get install lintian to run it)");
        return Ok(());
    }
    run(Command::new("lintian").args(["--fail-on", "error,warning", "--info"]).arg(deb))?;
    println!("dist: lintian OK");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ls -l`'s rendering of modes (the form `dpkg-deb --contents` prints).
    #[test]
    fn ls_modes() {
        assert_eq!(ls_mode(0o644), "-rw-r--r--");
        assert_eq!(ls_mode(0o755), "-rwxr-xr-x");
    }

    /// Options are taken from help texts of both shapes: the old `usage:` line and a clap
    /// option list.
    #[test]
    fn long_options_from_help() {
        let old = "unknown option --help\nusage: rpvboot-inspect menu [--extra \"...\"] [--json] [--sector-size 512|4096] IMG";
        assert_eq!(long_options(old), ["--extra", "--json", "--sector-size"]);
        let clap = "Options:\n      --memory <MIB>  domain memory\n  -h, --help      Print help\n  -V, --version";
        assert_eq!(long_options(clap), ["--memory"]);
    }

    /// README's table holds the user options the `extra=` parser (bootconfig::extra) knows;
    /// this is the list rpvboot(7) is checked against.
    #[test]
    fn readme_options_are_the_user_table() {
        let opts = readme_options().unwrap();
        for o in ["rpvboot.config", "rpvboot.kernel", "rpvboot.entry", "rpvboot.timeout", "rpvboot.verbose"] {
            assert!(opts.iter().any(|x| x == o), "{o} not in {opts:?}");
        }
        assert!(!opts.iter().any(|x| x.starts_with("rpvboot.test")), "developer table read too: {opts:?}");
    }
}
