//! Discovery: every partition of a disk, the filesystem on each, and GRUB-legacy device names.
