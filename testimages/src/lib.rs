//! Test image recipes: a deterministic file tree and the real tools (makefs, mke2fs, mkfs.fat,
//! sfdisk) that turn it into filesystems and partitioned disks under `target/testimages/`.

pub mod disk;
pub mod ext;
pub mod fat;
pub mod ffs;
pub mod kernels;
pub mod nbinit;
pub mod rng;
pub mod tools;
pub mod tree;
