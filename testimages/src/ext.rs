//! ext2/3/4 images with `mke2fs -d`, made from the tree in [`crate::tree`].
//!
//! Deterministic: pinned UUID and htree hash seed, `root_owner=0:0`, `E2FSPROGS_FAKE_TIME`, and
//! a tree whose contents and mtimes are fixed. Images are cached by a fingerprint of the recipe
//! and the tree spec in their file name, so a changed recipe builds a new image.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::tree::{self, TreeSpec};

/// One ext image recipe.
#[derive(Clone, Debug)]
pub struct Recipe {
    /// Short name, also the image file name stem ("ext2-1k").
    pub name: &'static str,
    /// `mke2fs -t` type.
    pub fs_type: &'static str,
    /// Block size in bytes.
    pub block_size: u32,
    /// Image size in MiB.
    pub size_mib: u64,
    /// Extra `-O` feature edits ("" for the defaults).
    pub features: &'static str,
    /// Extra `-r` revision (`None`: the default, 1).
    pub revision: Option<u32>,
    /// The tree put into it.
    pub spec: TreeSpec,
    /// Whether rpvboot (through ext4-view) is expected to read it.
    pub readable: bool,
}

/// A built image and the tree it holds (the test oracle).
#[derive(Clone, Debug)]
pub struct Image {
    /// The recipe it came from.
    pub recipe: Recipe,
    /// The image file.
    pub path: PathBuf,
    /// The host tree that was copied into it.
    pub tree: PathBuf,
}

/// The UUID every image gets (`-U`), and the htree hash seed.
pub const UUID: &str = "5f1b6d0c-3a7e-4c21-9d55-8e2f4a6b7c90";

/// Bumped when the recipes change.
const RECIPE_VERSION: u32 = 3;

/// Every ext recipe: ext2 with 1 KiB (triple indirect) and 4 KiB blocks, ext3, ext4, and
/// small images of what ext4-view refuses (revision 0, no filetype, inline data).
pub fn recipes() -> Vec<Recipe> {
    let small = TreeSpec { many_entries: 10, deep_levels: 3, indirect_sizes: false, ..TreeSpec::unix(1024, 1024) };
    vec![
        Recipe {
            name: "ext2-1k",
            fs_type: "ext2",
            block_size: 1024,
            size_mib: 112,
            features: "",
            revision: None,
            spec: TreeSpec { triple_indirect: true, ..TreeSpec::unix(1024, 1024) },
            readable: true,
        },
        Recipe {
            name: "ext2-4k",
            fs_type: "ext2",
            block_size: 4096,
            size_mib: 64,
            features: "",
            revision: None,
            spec: TreeSpec::unix(4096, 4096),
            readable: true,
        },
        Recipe {
            name: "ext3-4k",
            fs_type: "ext3",
            block_size: 4096,
            size_mib: 64,
            features: "",
            revision: None,
            spec: TreeSpec::unix(4096, 4096),
            readable: true,
        },
        Recipe {
            name: "ext4-4k",
            fs_type: "ext4",
            block_size: 4096,
            size_mib: 64,
            features: "",
            revision: None,
            spec: TreeSpec::unix(4096, 4096),
            readable: true,
        },
        Recipe {
            name: "ext4-1k",
            fs_type: "ext4",
            block_size: 1024,
            size_mib: 48,
            features: "",
            revision: None,
            spec: TreeSpec::unix(1024, 1024),
            readable: true,
        },
        Recipe {
            name: "ext2-small",
            fs_type: "ext2",
            block_size: 1024,
            size_mib: 4,
            features: "",
            revision: None,
            spec: small.clone(),
            readable: true,
        },
        Recipe {
            name: "ext4-small",
            fs_type: "ext4",
            block_size: 1024,
            size_mib: 4,
            features: "",
            revision: None,
            spec: small.clone(),
            readable: true,
        },
        Recipe {
            name: "ext2-rev0",
            fs_type: "ext2",
            block_size: 1024,
            size_mib: 4,
            features: "",
            revision: Some(0),
            spec: small.clone(),
            readable: false,
        },
        Recipe {
            name: "ext2-nofiletype",
            fs_type: "ext2",
            block_size: 1024,
            size_mib: 4,
            features: "^filetype",
            revision: None,
            spec: small.clone(),
            readable: false,
        },
        Recipe {
            name: "ext4-inline",
            fs_type: "ext4",
            block_size: 1024,
            size_mib: 4,
            features: "inline_data",
            revision: None,
            spec: small,
            readable: false,
        },
    ]
}

/// The recipe called `name`.
pub fn recipe(name: &str) -> Option<Recipe> {
    recipes().into_iter().find(|r| r.name == name)
}

/// Builds (or reuses) the image for `recipe` under `out_dir`.
///
/// # Errors
/// A tool is missing or fails; the message says which and why.
pub fn build(out_dir: &Path, recipe: &Recipe) -> Result<Image, String> {
    let tree = tree::cached_tree(out_dir, &recipe.spec).map_err(|e| format!("building the tree: {e}"))?;
    let fp = tree::fnv1a(format!("{RECIPE_VERSION}:{recipe:?}:{}", recipe.spec.fingerprint()).as_bytes());
    let path = tree::cached_image(out_dir, recipe.name, fp, |tmp| make(tmp, &tree, recipe))?;
    Ok(Image { recipe: recipe.clone(), path, tree })
}

/// Builds every recipe; returns the image paths.
///
/// # Errors
/// As [`build`].
pub fn build_all(out_dir: &Path) -> Result<Vec<PathBuf>, String> {
    recipes().iter().map(|r| build(out_dir, r).map(|i| i.path)).collect()
}

fn make(img: &Path, tree: &Path, r: &Recipe) -> Result<(), String> {
    let file = fs::File::create(img).map_err(|e| format!("create {}: {e}", img.display()))?;
    file.set_len(r.size_mib << 20).map_err(|e| format!("size {}: {e}", img.display()))?;
    drop(file);
    let mut cmd = Command::new(find_tool("mke2fs")?);
    cmd.env("E2FSPROGS_FAKE_TIME", tree::FIXED_MTIME.to_string())
        .env("MKE2FS_CONFIG", "/etc/mke2fs.conf")
        .args(["-q", "-F", "-t", r.fs_type, "-b", &r.block_size.to_string(), "-U", UUID, "-L", r.name])
        .args(["-E", &format!("root_owner=0:0,hash_seed={UUID}")]);
    if let Some(rev) = r.revision {
        cmd.args(["-r", &rev.to_string()]);
    }
    if !r.features.is_empty() {
        cmd.args(["-O", r.features]);
    }
    cmd.arg("-d").arg(tree).arg(img);
    run(&mut cmd)?;
    pin_times(img, tree)
}

/// `mke2fs -d` copies ctime and atime (and symlinks' mtime) from the host (the time the tree was
/// built); set them to [`tree::FIXED_MTIME`] with debugfs so images are byte-identical.
fn pin_times(img: &Path, tree: &Path) -> Result<(), String> {
    let entries = tree::walk(tree).map_err(|e| format!("walk {}: {e}", tree.display()))?;
    let mut script = String::new();
    for e in &entries {
        for field in ["ctime", "atime", "mtime"] {
            script.push_str(&format!("sif \"{}\" {field} @{}\n", e.path, tree::FIXED_MTIME));
        }
    }
    let script_path = img.with_extension("debugfs");
    fs::write(&script_path, script).map_err(|e| format!("write {}: {e}", script_path.display()))?;
    let mut cmd = Command::new(find_tool("debugfs")?);
    cmd.env("E2FSPROGS_FAKE_TIME", tree::FIXED_MTIME.to_string()).arg("-w").arg("-f").arg(&script_path).arg(img);
    let result = run(&mut cmd);
    let _ = fs::remove_file(&script_path);
    result
}

/// Runs a tool and turns a failure into a message with its stderr.
pub(crate) fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{cmd:?} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(())
}

pub(crate) use crate::tools::find_tool;
