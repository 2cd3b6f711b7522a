//! Read-only access to a domU owner's disk: partition maps (MBR, GPT, NetBSD disklabel) and
//! filesystems (FFSv1/FFSv2, ext2/3/4, FAT12/16/32, XFS v4/v5, btrfs) over a [`BlockDevice`].
//! The one write is GRUB's 1024-byte environment block rewritten in place, as GRUB's `save_env`
//! does ([`envblock`]).
//!
//! Every byte comes from an untrusted disk: nothing here may panic, loop without bound or
//! allocate by an on-disk number beyond what the caller allows. The crate is `no_std` + `alloc`
//! and safe Rust, so it runs unchanged in the PV kernel and in host tools and tests.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod block;
pub mod btrfs;
pub mod cache;
pub mod envblock;
pub mod error;
pub mod ext;
pub mod fat;
pub mod ffs;
mod lam;
pub mod mem;
pub mod order;
pub mod part;
pub mod probe;
pub mod vfs;
pub mod xfs;

pub use block::{BlockDevice, Lba, MemDisk};
pub use error::{Error, IoError};
pub use vfs::{DirEntry, FileType, Filesystem, FsInfo, Metadata, NodeId};
