//! FAT12/16/32 images with mkfs.fat + mcopy.
