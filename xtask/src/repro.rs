//! `cargo xtask repro`: the reproducibility check of the rpvboot images. Builds them as
//! `cargo xtask build` does, then again from a copy of the source tree in another directory
//! (`target/repro/elsewhere/src`, with its own cargo target directory), and requires the
//! three files (`rpvboot`, `.gz`, `.xz`) to be byte for byte the same. It also requires that
//! no image holds a path of this machine (the workspace, the cargo target directory or
//! `$CARGO_HOME`), which a second build on the same machine could not reveal.
//! docs/reproducible.md has the rules.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::build::{build_images, build_rpvboot, cargo_homes, target_dir};
use crate::util::{mkdirp, output, project_root};

/// The three image files `build_images` writes.
pub const IMAGES: [&str; 3] = ["rpvboot", "rpvboot.gz", "rpvboot.xz"];

/// `cargo xtask repro`.
#[derive(clap::Args)]
pub struct Repro {}

impl Repro {
    pub fn run(self) -> Result<()> {
        let here = build_rpvboot()?;
        let here = here.parent().context("image directory")?.to_path_buf();
        let work = target_dir().join("repro").join("elsewhere");
        let src = work.join("src");
        copy_tree(&project_root(), &src)?;
        let there = work.join("out");
        build_images(&src, &work.join("target"), false, &there)?;
        let mut bad = Vec::new();
        for name in IMAGES {
            let (a, b) = (read(&here.join(name))?, read(&there.join(name))?);
            let same = if a == b { "same" } else { "DIFFERENT" };
            println!("repro: {name}: {} bytes here, {} bytes from {}: {same}", a.len(), b.len(), src.display());
            if a != b {
                bad.push(name.to_string());
            }
            bad.extend(
                foreign_paths(&a, &[project_root(), src.clone()]).into_iter().map(|p| format!("{name} holds {p}")),
            );
        }
        if !bad.is_empty() {
            bail!("the images are not reproducible: {}", bad.join("; "));
        }
        println!("repro: OK, the images do not depend on the build directory");
        Ok(())
    }
}

fn read(p: &Path) -> Result<Vec<u8>> {
    fs::read(p).with_context(|| format!("reading {}", p.display()))
}

/// The paths of this machine found in `bytes`: `roots` (the source trees built), the cargo
/// target directory and `$CARGO_HOME`.
pub fn foreign_paths(bytes: &[u8], roots: &[PathBuf]) -> Vec<String> {
    let mut paths: Vec<PathBuf> = roots.to_vec();
    paths.push(target_dir());
    paths.extend(cargo_homes());
    paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| p.len() > 1 && bytes.windows(p.len()).any(|w| w == p.as_bytes()))
        .collect()
}

/// Copies the files git knows in `root` (tracked, and untracked ones not ignored, as they are
/// in the working tree; not `fuzz/`) to `dst`. A file whose bytes are already there is left alone, so its
/// mtime stays and cargo's second build is incremental.
fn copy_tree(root: &Path, dst: &Path) -> Result<()> {
    let list = output(Command::new("git").arg("-C").arg(root).args([
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
    ]))
    .context("listing the source files (the check needs a git checkout)")?;
    let mut n = 0;
    // `fuzz/` is outside the workspace (and mostly corpus files): not part of the build.
    for rel in list.split('\0').filter(|r| !r.is_empty() && !r.starts_with("fuzz/")) {
        let from = root.join(rel);
        // A tracked file deleted in the working tree is not part of this build either.
        let Ok(bytes) = fs::read(&from) else { continue };
        let to = dst.join(rel);
        if fs::read(&to).ok().as_deref() != Some(&bytes[..]) {
            if let Some(parent) = to.parent() {
                mkdirp(parent)?;
            }
            fs::write(&to, &bytes).with_context(|| format!("writing {}", to.display()))?;
            let mode = fs::metadata(&from)?.permissions();
            fs::set_permissions(&to, mode)?;
        }
        n += 1;
    }
    println!("repro: {n} source files in {}", dst.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the check exists for: a dependency's panic location under `$CARGO_HOME`, as the
    /// images held before the remap, is found; the remapped form is not.
    #[test]
    fn foreign_paths_finds_cargo_home_and_the_workspace() {
        let home = cargo_homes()[0].display().to_string();
        let before = format!("\0{home}/registry/src/index.crates.io-1949cf8c6b5b557f/ext4-view-1.0.0/src/lib.rs\0");
        assert_eq!(foreign_paths(before.as_bytes(), &[]), [home]);
        let after = b"\0/cargo/registry/src/index.crates.io-1949cf8c6b5b557f/ext4-view-1.0.0/src/lib.rs\0";
        assert!(foreign_paths(after, &[project_root()]).is_empty());
        let root = project_root().display().to_string();
        let local = format!("x{root}/fs/src/lib.rs");
        assert!(foreign_paths(local.as_bytes(), &[project_root()]).contains(&root));
    }
}
