//! Image-backed tests: filesystems and disks made by the real tools (makefs, mke2fs, mkfs.fat,
//! sfdisk) from a known tree of files, read back through our code and compared byte for byte.
//! One test binary, one module per topic.

mod envblock;
mod ext;
mod ext_map;
mod fat;
mod ffs;
mod netbsd_names;
mod part;
mod xfsbtrfs;
