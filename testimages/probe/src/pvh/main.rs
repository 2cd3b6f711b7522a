//! `rpvboot-probe-pvh`: a small PVH kernel (an ELF with `XEN_ELFNOTE_PHYS32_ENTRY`, loaded at
//! physical 16 MiB like Linux) that checks what the loader handed it through the PVH boot ABI
//! and prints one verdict line through the PV console:
//!
//! `RPVBOOT-PROBE-PVH PASS name=<dom> version=<v> ram=<bytes> e820=<n> mods=<n> ... cmdline="..."` or
//! `RPVBOOT-PROBE-PVH FAIL <reason> (<value>)`, then powers the domain off. Before it, an
//! `RPVBOOT-PROBE-PVH ENTRY ...` line (the recorded registers) and an `... MEMMAP ...` line.
//!
//! Expectations come from its command line, as for the PV probe: `probe.mod=<len>:<fnv1a64
//! hex>` once per module in order, or `probe.mod=none`; `probe.mib=<MiB>` or
//! `probe.pages=<n>`: the RAM the memory map must add up to; `probe.name=<domain name>`
//! (optional, read from xenstore). What is checked and why:
//! docs/pvh-probe.md. Built by `cargo xtask` (xtask/src/probe.rs); on the host a stub.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("rpvboot-probe-pvh is a Xen PVH test kernel; the e2e harness builds it");
}

#[cfg(target_os = "none")]
mod entry;
#[cfg(target_os = "none")]
mod probe;
#[cfg(target_os = "none")]
#[path = "../ring.rs"]
mod ring;
#[cfg(target_os = "none")]
mod xen;
