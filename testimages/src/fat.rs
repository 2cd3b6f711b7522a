//! FAT12/16/32 images with `mkfs.fat` + `mcopy -s`, made from the tree in [`crate::tree`].
//!
//! `mkfs.fat --invariant` with a pinned volume id (`-i`); mtools copies the tree with long
//! names and preserved mtimes. Cached like the ext images (fingerprint in the file name).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ext::{find_tool, run};
use crate::tree::{self, TreeSpec};

/// One FAT image recipe.
#[derive(Clone, Debug)]
pub struct Recipe {
    /// Short name, also the image file name stem ("fat16").
    pub name: &'static str,
    /// 12, 16 or 32.
    pub fat_bits: u32,
    /// Sector size (`-S`).
    pub sector_size: u32,
    /// Sectors per cluster (`-s`).
    pub sectors_per_cluster: u32,
    /// Image size in KiB.
    pub size_kib: u64,
    /// Volume id (`-i`).
    pub volume_id: u32,
    /// Volume label (`-n`).
    pub label: &'static str,
    /// The tree put into it.
    pub spec: TreeSpec,
}

impl Recipe {
    /// Cluster size in bytes.
    pub fn cluster_size(&self) -> u32 {
        self.sector_size * self.sectors_per_cluster
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

/// Bumped when the recipes change.
const RECIPE_VERSION: u32 = 1;

/// Every FAT recipe: FAT12, FAT16, FAT32, and FAT16 on 4096-byte sectors.
pub fn recipes() -> Vec<Recipe> {
    vec![
        Recipe {
            name: "fat12",
            fat_bits: 12,
            sector_size: 512,
            sectors_per_cluster: 4,
            size_kib: 6 * 1024,
            volume_id: 0x1234_0012,
            label: "RPV FAT12",
            spec: TreeSpec::fat(2048),
        },
        Recipe {
            name: "fat16",
            fat_bits: 16,
            sector_size: 512,
            sectors_per_cluster: 4,
            size_kib: 32 * 1024,
            volume_id: 0x1234_0016,
            label: "RPV FAT16",
            spec: TreeSpec::fat(2048),
        },
        Recipe {
            name: "fat32",
            fat_bits: 32,
            sector_size: 512,
            // mtools cannot grow a directory by two clusters for one long name, so not 512.
            sectors_per_cluster: 2,
            size_kib: 80 * 1024,
            volume_id: 0x1234_0032,
            label: "RPV FAT32",
            spec: TreeSpec::fat(1024),
        },
        Recipe {
            name: "fat16-4kn",
            fat_bits: 16,
            sector_size: 4096,
            sectors_per_cluster: 1,
            size_kib: 64 * 1024,
            volume_id: 0x1234_4096,
            label: "RPV 4KN",
            spec: TreeSpec::fat(4096),
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
    file.set_len(r.size_kib << 10).map_err(|e| format!("size {}: {e}", img.display()))?;
    drop(file);
    let mut cmd = Command::new(find_tool("mkfs.fat")?);
    cmd.args(["--invariant", "-F", &r.fat_bits.to_string(), "-S", &r.sector_size.to_string()])
        .args(["-s", &r.sectors_per_cluster.to_string(), "-i", &format!("{:08x}", r.volume_id)])
        .args(["-n", r.label])
        .arg(img);
    run(&mut cmd)?;

    let mut top: Vec<PathBuf> = fs::read_dir(tree)
        .map_err(|e| format!("read {}: {e}", tree.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("read {}: {e}", tree.display()))?;
    top.sort();
    let mut cmd = Command::new(find_tool("mcopy")?);
    cmd.env("MTOOLS_SKIP_CHECK", "1")
        .env("MTOOLSRC", "/dev/null")
        .env("LC_ALL", "C.UTF-8")
        .args(["-s", "-m", "-Q", "-i"])
        .arg(img)
        .args(&top)
        .arg("::/");
    run(&mut cmd)
}
