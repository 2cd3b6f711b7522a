//! The rpvboot PV kernel: what runs inside the domU. The device stage ([`devices`]: xenstore,
//! blkfront, the disks' probe and the choice of what to boot; [`bench`] when asked) is written against
//! `xenfront`'s platform trait and host-tested with its fake; the parts that touch the CPU and
//! the hypervisor are built only for the kernel target (`x86_64-unknown-none`):
//!
//! * [`pv`]: start-up as a PV guest (entry, p2m-based page tables, trap table) and the PV
//!   handover (trampoline);
//! * [`pvh`]: start-up as a PVH guest from the same image (32-bit entry, own page tables and
//!   IDT, the HVM-style Xen interfaces of `hypervisor::hvm`);
//! * shared by every start-up path: [`image`] (ELF notes, hypercall page, stack), [`memory`]
//!   (the VA layout and the one place that says PV or PVH), [`heap`], [`console`], [`exit`],
//!   and [`hypervisor`] (hypercalls, shared_info, event channels, the `xenfront` platform).
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

extern crate alloc;

pub mod bench;
pub mod devices;

#[cfg(target_os = "none")]
#[allow(unsafe_code)]
pub mod console;
#[cfg(target_os = "none")]
pub mod exit;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
pub mod heap;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
pub mod hypervisor;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
pub mod image;
#[cfg(target_os = "none")]
pub mod memory;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
pub mod pv;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
pub mod pvh;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
pub mod trace;
