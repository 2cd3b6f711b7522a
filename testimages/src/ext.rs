//! ext2/3/4 images with mke2fs -d.
