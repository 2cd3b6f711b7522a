//! Test image recipes: a deterministic file tree and the real tools (makefs, mke2fs, mkfs.fat,
//! sfdisk) that turn it into filesystems and partitioned disks under `target/testimages/`.
