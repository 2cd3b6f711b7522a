//! The rpvboot PV kernel: what runs inside the domU. The device stage ([`devices`]: xenstore,
//! blkfront, the disks' probe and the choice of what to boot; [`bench`] when asked) is written against
//! `xenfront`'s platform trait and host-tested with its fake; the parts that touch the CPU and
//! the hypervisor (`arch`, `hypervisor`, `handover`) are built only for the PV target.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

extern crate alloc;

pub mod bench;
pub mod devices;

#[cfg(target_os = "none")]
#[allow(unsafe_code)]
pub mod arch;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
pub mod handover;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
pub mod hypervisor;
