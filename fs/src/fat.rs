//! FAT12/16/32 with long names through `fatfs` (lamfat), read-only, case-insensitive.
