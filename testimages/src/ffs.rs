//! FFSv1/FFSv2 images with NetBSD `makefs -t ffs`, made from the tree in [`crate::tree`].
//!
//! One recipe per (version, block size, fragment size, byte order) the tests cover. Images are
//! cached by a fingerprint of the recipe and its tree spec in the file name, like the ext
//! images, so a changed recipe builds a new image and `cargo test` reuses an old one.
//!
//! `makefs` writes every block of a file (it keeps no holes), and its size estimate is short
//! for some large block sizes ("No space left on device"), so every image gets free space
//! (`-b`) and a failed build is retried once with more.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ext::{find_tool, run};
use crate::tree::{self, TreeSpec};

/// One FFS image recipe.
#[derive(Clone, Debug)]
pub struct Recipe {
    /// Short name, also the image file name stem ("ffs1-4k-512-le").
    pub name: &'static str,
    /// `makefs -o version=`: 1 (UFS1) or 2 (UFS2).
    pub version: u32,
    /// Block size in bytes (4096 to 65536).
    pub bsize: u32,
    /// Fragment size in bytes (bsize / 1, 2, 4 or 8).
    pub fsize: u32,
    /// `makefs -B be` instead of `-B le`.
    pub big_endian: bool,
    /// Extra free inodes (`makefs -f`): a big inode table for superblock relocation tests.
    pub free_inodes: u32,
    /// The tree put into it.
    pub spec: TreeSpec,
}

impl Recipe {
    /// A recipe with the standard tree for its block and fragment size (pointer width from
    /// the version: 4 bytes for UFS1, 8 for UFS2).
    ///
    /// Where the double-indirect range starts beyond [`MAX_DOUBLE_START`] (large blocks), the
    /// tree's indirect edges (and its file with a hole over the whole single-indirect range,
    /// which makefs writes out in full) are replaced by the single-indirect edges alone.
    pub fn new(name: &'static str, version: u32, bsize: u32, fsize: u32, big_endian: bool) -> Self {
        let mut spec = TreeSpec { ptr_bytes: if version == 1 { 4 } else { 8 }, ..TreeSpec::unix(bsize, fsize) };
        let [single, double, _] = spec.indirect_starts();
        if double > MAX_DOUBLE_START {
            let bs = u64::from(bsize);
            spec.indirect_sizes = false;
            spec.extra_sizes = vec![single - 1, single, single + 1, single + bs + 1];
        }
        Self { name, version, bsize, fsize, big_endian, free_inodes: 0, spec }
    }
}

impl Recipe {
    fn with_size_cap(mut self, cap: u64) -> Self {
        self.spec.size_cap = cap;
        self
    }
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

/// Largest double-indirect start whose edge files go into a standard image.
pub const MAX_DOUBLE_START: u64 = 80 << 20;

/// Bumped when the recipes change.
const RECIPE_VERSION: u32 = 1;

/// The standard FFS images: both versions, both byte orders, block sizes 4 KiB to 64 KiB
/// with fragments of 1/8, 1/4, 1/2 and a whole block.
pub fn recipes() -> Vec<Recipe> {
    let small = |mut r: Recipe| {
        r.spec.many_entries = 20;
        r.spec.deep_levels = 3;
        r.spec.size_cap = 1 << 20;
        r
    };
    vec![
        Recipe::new("ffs1-4k-512-le", 1, 4096, 512, false),
        Recipe::new("ffs1-8k-1k-be", 1, 8192, 1024, true),
        Recipe::new("ffs1-16k-2k-le", 1, 16384, 2048, false),
        Recipe::new("ffs1-64k-8k-be", 1, 65536, 8192, true),
        Recipe::new("ffs2-4k-512-be", 2, 4096, 512, true),
        Recipe::new("ffs2-8k-1k-le", 2, 8192, 1024, false),
        Recipe::new("ffs2-16k-2k-be", 2, 16384, 2048, true),
        Recipe::new("ffs2-32k-4k-le", 2, 32768, 4096, false),
        Recipe::new("ffs2-64k-8k-le", 2, 65536, 8192, false),
        small(Recipe::new("ffs1-32k-32k-le", 1, 32768, 32768, false)),
        small(Recipe::new("ffs2-8k-8k-be", 2, 8192, 8192, true)),
        // Two and four fragments per block, and the extremes 4 KiB/4 KiB and 64 KiB/64 KiB.
        small(Recipe::new("ffs1-4k-1k-le", 1, 4096, 1024, false)),
        small(Recipe::new("ffs2-16k-4k-be", 2, 16384, 4096, true)),
        small(Recipe::new("ffs1-32k-16k-be", 1, 32768, 16384, true)),
        small(Recipe::new("ffs2-4k-2k-le", 2, 4096, 2048, false)),
        small(Recipe::new("ffs2-4k-4k-be", 2, 4096, 4096, true)),
        small(Recipe::new("ffs1-64k-64k-le", 1, 65536, 65536, false)),
        // Many free inodes: the inode table covers 64 KiB and 256 KiB, where the tests put
        // copies of the superblock to exercise the other search locations.
        // Their files reach the double-indirect range: the corruption tests use them.
        Recipe { free_inodes: 4000, ..small(Recipe::new("ffs2-4k-512-le-inodes", 2, 4096, 512, false)) }
            .with_size_cap(5 << 20),
        Recipe { free_inodes: 4000, ..small(Recipe::new("ffs1-4k-512-be-inodes", 1, 4096, 512, true)) }
            .with_size_cap(5 << 20),
    ]
}

/// FFSv2 with 4 KiB blocks and a sparse > 1 GiB file that reaches the triple-indirect
/// blocks. Not in [`build_all`]: the image is over 1 GiB, so its test builds it into a
/// temporary file and removes it.
pub fn triple_recipe() -> Recipe {
    let mut r = Recipe::new("ffs2-4k-triple", 2, 4096, 512, false);
    r.spec.triple_indirect = true;
    r.spec.triple_sparse = true;
    r.spec.many_entries = 5;
    r.spec.deep_levels = 3; // the tree needs d03 for its to-root link
    r.spec.size_cap = 1 << 20;
    r
}

/// The recipe called `name` (standard or triple).
pub fn recipe(name: &str) -> Option<Recipe> {
    recipes().into_iter().chain([triple_recipe()]).find(|r| r.name == name)
}

/// Builds (or reuses) the image for `recipe` under `out_dir`.
///
/// # Errors
/// `makefs` is missing or fails; the message says which and why.
pub fn build(out_dir: &Path, recipe: &Recipe) -> Result<Image, String> {
    let tree = tree::cached_tree(out_dir, &recipe.spec).map_err(|e| format!("building the tree: {e}"))?;
    let fp = tree::fnv1a(format!("{RECIPE_VERSION}:{recipe:?}:{}", recipe.spec.fingerprint()).as_bytes());
    let path = tree::cached_image(out_dir, recipe.name, fp, |tmp| make(tmp, &tree, recipe))?;
    Ok(Image { recipe: recipe.clone(), path, tree })
}

/// Builds an image for `recipe` at exactly `img` (no caching): for the big image that a test
/// removes afterwards. The tree is still cached under `out_dir` (it is sparse on the host).
///
/// # Errors
/// As [`build`].
pub fn build_uncached(out_dir: &Path, recipe: &Recipe, img: &Path) -> Result<Image, String> {
    let tree = tree::cached_tree(out_dir, &recipe.spec).map_err(|e| format!("building the tree: {e}"))?;
    make(img, &tree, recipe)?;
    Ok(Image { recipe: recipe.clone(), path: img.to_path_buf(), tree })
}

/// Builds every standard recipe; returns the image paths.
///
/// # Errors
/// As [`build`].
pub fn build_all(out_dir: &Path) -> Result<Vec<PathBuf>, String> {
    recipes().iter().map(|r| build(out_dir, r).map(|i| i.path)).collect()
}

/// Runs makefs into `img`, retrying once with more free space; removes `img` on failure.
fn make(img: &Path, tree: &Path, r: &Recipe) -> Result<(), String> {
    let makefs = find_tool("makefs")?;
    let mut last = String::new();
    for free in ["10%", "40%"] {
        let _ = fs::remove_file(img);
        let mut cmd = Command::new(&makefs);
        cmd.args(["-t", "ffs", "-B", if r.big_endian { "be" } else { "le" }, "-b", free])
            .args(["-o", &format!("version={},bsize={},fsize={}", r.version, r.bsize, r.fsize)]);
        if r.free_inodes > 0 {
            cmd.args(["-f", &r.free_inodes.to_string()]);
        }
        cmd.arg(img).arg(tree);
        match run(&mut cmd) {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
    }
    let _ = fs::remove_file(img);
    Err(last)
}
