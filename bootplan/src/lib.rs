//! rpvboot's boot decision, short of the jump, as pure host-tested code: which entry to boot
//! ([`select`]: the menu or the unattended order), reading and checking it ([`plan`], the one
//! path the PV kernel and `rpvboot-inspect boot` share), the kernel check ([`check`]), the new
//! domain's memory layout ([`layout`]) and the handover's page plan and start_info
//! ([`handover`]), and the PVH handover's layout and copy program ([`pvh`]). The PV kernel
//! only executes the plan.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod check;
pub mod handover;
pub mod layout;
mod loader_base;
pub mod plan;
pub mod pvh;
pub mod select;
