//! `rpvboot-probe`: a small Xen PV kernel shaped like NetBSD amd64 XEN3_DOMU (same ELF notes
//! including `BSD_SYMTAB`, KERNBASE 0xffffffff80000000, a real symbol table) that checks what
//! the loader handed it, as NetBSD's startup would rely on it, and prints one verdict line
//! through the console ring:
//!
//! `RPVBOOT-PROBE PASS name=<dom> pages=<n> mod=<len> syms=<n> pt=<n>` or
//! `RPVBOOT-PROBE FAIL <reason>`, then powers the domain off.
//!
//! Expectations come from its command line: `probe.pages=<nr_pages>` (optional),
//! `probe.mod=<len>:<fnv1a64 hex>` or `probe.mod=none`, `probe.name=<domain name>` (optional).
//! Built for `x86_64-unknown-none` by `cargo xtask` (xtask/src/probe.rs); on the host this is a stub.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("rpvboot-probe is a Xen PV test kernel; the e2e harness builds it");
}

#[cfg(target_os = "none")]
mod pv;
#[cfg(target_os = "none")]
mod ring;
