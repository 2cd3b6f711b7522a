//! Test image recipes: a deterministic file tree and the real tools (makefs, mke2fs, mkfs.fat,
//! sfdisk) that turn it into filesystems and partitioned disks under `target/testimages/`;
//! hostile variants of them, and a capped allocator to run parsers over those as a domU would.

pub mod btrfs;
pub mod capped;
pub mod disk;
pub mod ext;
pub mod fat;
pub mod ffs;
pub mod hostile;
pub mod kernels;
pub mod nbinit;
pub mod rng;
pub mod tools;
pub mod tree;
pub mod xfs;
