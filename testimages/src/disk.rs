//! Partitioned disks: MBR and GPT (sfdisk), NetBSD disklabels (written here).
