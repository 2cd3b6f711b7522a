//! `cargo xtask images`: builds every test image (FFS, ext, FAT, partitioned disks) into
//! `target/testimages/` and writes `MANIFEST` there (path, size, sha256 of each image).
//!
//! The tests build what they need on demand; this command builds everything up front (for CI
//! caching, for `rpvboot-inspect` experiments, and to check the recipes on a new machine).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};

/// `cargo xtask images`.
#[derive(clap::Args)]
pub struct Images {
    /// Build only these families (ffs, ext, fat, disk); default: all.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

type BuildAll = fn(&std::path::Path) -> Result<Vec<PathBuf>, String>;

/// Every image family and its builder.
const FAMILIES: [(&str, BuildAll); 4] = [
    ("ffs", testimages::ffs::build_all),
    ("ext", testimages::ext::build_all),
    ("fat", testimages::fat::build_all),
    ("disk", testimages::disk::build_all),
];

impl Images {
    pub fn run(self) -> Result<()> {
        for name in &self.only {
            if !FAMILIES.iter().any(|(f, _)| f == name) {
                bail!("unknown image family {name:?} (known: ffs, ext, fat, disk)");
            }
        }
        let out = testimages::tree::images_dir();
        std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
        let mut images: Vec<PathBuf> = Vec::new();
        for (name, build_all) in FAMILIES {
            if !self.only.is_empty() && !self.only.iter().any(|o| o == name) {
                continue;
            }
            let start = Instant::now();
            let paths = build_all(&out).map_err(|e| anyhow!("{name} images: {e}"))?;
            eprintln!("{name}: {} images in {:.1?}", paths.len(), start.elapsed());
            images.extend(paths);
        }
        images.sort();
        images.dedup();
        let mut manifest = String::from("# path\tsize\tsha256 (written by `cargo xtask images`)\n");
        for path in &images {
            let size = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?.len();
            let sha = testimages::tree::sha256_file(path).with_context(|| format!("hashing {}", path.display()))?;
            let rel = path.strip_prefix(&out).unwrap_or(path);
            writeln!(manifest, "{}\t{size}\t{sha}", rel.display())?;
        }
        let manifest_path = out.join("MANIFEST");
        std::fs::write(&manifest_path, manifest).with_context(|| format!("writing {}", manifest_path.display()))?;
        eprintln!("{} images; manifest: {}", images.len(), manifest_path.display());
        Ok(())
    }
}
