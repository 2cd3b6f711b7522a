//! XFS images made by `mkfs.xfs -p PROTOFILE` from the tree in [`crate::tree`]: v5 (the
//! default) and v4 (`-m crc=0`, what RHEL 7's mkfs.xfs made).
//!
//! A protofile names each file by whitespace-separated words, so names with spaces cannot go
//! in: the tree that goes into an XFS image is the common one without them (a copy, which is
//! then the oracle). mkfs.xfs refuses filesystems under 300 MiB unless it is told it runs under
//! the XFS test suite (`TEST_DIR`, `TEST_DEV` and `QA_CHECK_FS` set); the images are sparse files of that size.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ext::run;
use crate::tools::find_tool;
use crate::tree::{self, Kind, TreeSpec};

/// One XFS recipe.
#[derive(Clone, Debug)]
pub struct Recipe {
    /// Short name, also the image file name stem.
    pub name: &'static str,
    /// `-m crc=…`: true for v5.
    pub v5: bool,
    /// Block size.
    pub block_size: u32,
    /// The tree put into it (before names with spaces are dropped).
    pub spec: TreeSpec,
}

/// A built image and the tree it holds (the test oracle).
#[derive(Clone, Debug)]
pub struct Image {
    /// The recipe it came from.
    pub recipe: Recipe,
    /// The image file.
    pub path: PathBuf,
    /// The host tree that went into it.
    pub tree: PathBuf,
}

/// The UUID every image gets.
pub const UUID: &str = "3c0f3a52-6f1e-4b8e-9a1d-2b7c5e9d0a41";
/// Bumped when the recipes change.
const RECIPE_VERSION: u32 = 1;
/// Image size: mkfs.xfs's minimum for a real filesystem.
const SIZE_MIB: u64 = 320;

/// v5 and v4 with 4 KiB blocks.
pub fn recipes() -> Vec<Recipe> {
    let spec = TreeSpec { many_entries: 300, ..TreeSpec::unix(4096, 4096) };
    vec![
        Recipe { name: "xfs-v5", v5: true, block_size: 4096, spec: spec.clone() },
        Recipe { name: "xfs-v4", v5: false, block_size: 4096, spec },
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
    let tree = protofile_tree(out_dir, &recipe.spec)?;
    let fp = tree::fnv1a(format!("{RECIPE_VERSION}:{recipe:?}:{}", recipe.spec.fingerprint()).as_bytes());
    let path = tree::cached_image(out_dir, recipe.name, fp, |tmp| make(tmp, &tree, recipe))?;
    Ok(Image { recipe: recipe.clone(), path, tree })
}

/// The common tree without the names a protofile cannot hold (a cached copy).
fn protofile_tree(out_dir: &Path, spec: &TreeSpec) -> Result<PathBuf, String> {
    let src = tree::cached_tree(out_dir, spec).map_err(|e| format!("building the tree: {e}"))?;
    let dest = out_dir.join(format!("tree-{}-nospace", spec.fingerprint()));
    if dest.is_dir() {
        return Ok(dest);
    }
    let tmp = out_dir.join(format!(".tmp-nospace-{}", tree::unique_suffix()));
    run(Command::new("cp").arg("-a").arg(&src).arg(&tmp))?;
    for e in tree::walk(&tmp).map_err(|e| format!("walk: {e}"))? {
        if e.name().contains(char::is_whitespace) {
            fs::remove_file(&e.host).map_err(|err| format!("remove {}: {err}", e.host.display()))?;
        }
    }
    if fs::rename(&tmp, &dest).is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    Ok(dest)
}

/// The protofile for `root` (see mkfs.xfs(8), "-p"): a boot image line, a block/inode count
/// line, then the root directory and, nested, every entry, each directory closed by `$`.
pub fn protofile(root: &Path) -> Result<String, String> {
    let entries = tree::walk(root).map_err(|e| format!("walk {}: {e}", root.display()))?;
    let mut out = String::from("/dev/null\n0 0\nd--755 0 0\n");
    let mut open: Vec<String> = vec![String::from("/")];
    for e in entries.iter().skip(1) {
        let parent = match e.path.rfind('/') {
            Some(0) | None => String::from("/"),
            Some(i) => e.path[..i].to_string(),
        };
        while open.last().is_some_and(|d| *d != parent) {
            open.pop();
            out.push_str(&format!("{}$\n", " ".repeat(open.len())));
        }
        let indent = " ".repeat(open.len());
        let name = e.name();
        if name.contains(char::is_whitespace) {
            return Err(format!("{}: a protofile cannot hold a name with spaces", e.path));
        }
        match &e.kind {
            Kind::Dir => {
                out.push_str(&format!("{indent}{name} d--755 0 0\n"));
                open.push(e.path.clone());
            }
            Kind::File => {
                let host = e.host.to_str().ok_or("non-UTF-8 host path")?;
                out.push_str(&format!("{indent}{name} ---644 0 0 {host}\n"));
            }
            Kind::Symlink(target) => out.push_str(&format!("{indent}{name} l--777 0 0 {target}\n")),
        }
    }
    while open.pop().is_some() {
        out.push_str(&format!("{}$\n", " ".repeat(open.len())));
    }
    Ok(out)
}

fn make(img: &Path, tree: &Path, r: &Recipe) -> Result<(), String> {
    let proto = img.with_extension("proto");
    fs::write(&proto, protofile(tree)?).map_err(|e| format!("write {}: {e}", proto.display()))?;
    let file = fs::File::create(img).map_err(|e| format!("create {}: {e}", img.display()))?;
    file.set_len(SIZE_MIB << 20).map_err(|e| format!("size {}: {e}", img.display()))?;
    drop(file);
    let mut cmd = Command::new(find_tool("mkfs.xfs")?);
    let crc = if r.v5 { "crc=1" } else { "crc=0" };
    cmd.env("TEST_DIR", "/tmp")
        .args(["-q", "-f", "-b", &format!("size={}", r.block_size), "-L", r.name])
        .args(["-m", &format!("{crc},uuid={UUID}")])
        .arg("-p")
        .arg(&proto)
        .arg(img);
    let result = run(&mut cmd);
    let _ = fs::remove_file(&proto);
    result
}
