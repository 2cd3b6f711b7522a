//! Link settings for the `rpvboot` PV kernel. Only for the `x86_64-unknown-none` target: host
//! builds of the workspace build `rpvboot` as a stub and must not see any of this.

use std::env;

// Where the image lives (`LOADER_VIRT_BASE`): decided once, in bootplan, and read here for
// the link script, so that the code that maps memory, the kernel check and the link agree.
include!("../bootplan/src/loader_base.rs");
const VIRT_BASE: u64 = LOADER_VIRT_BASE;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/link.ld");
    println!("cargo:rerun-if-changed=../bootplan/src/loader_base.rs");
    if env::var("TARGET").as_deref() != Ok("x86_64-unknown-none") {
        return;
    }
    let dir = env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let bin = "cargo:rustc-link-arg-bin=rpvboot";
    println!("{bin}=-T{dir}/src/link.ld");
    println!("{bin}=--defsym=__virt_base={VIRT_BASE:#x}");
    // The code is compiled position independent (the target's default relocation model: with
    // code-model=kernel, static code only links in the low or top 2 GiB, docs/pv-rust-pitfalls.md P4) and
    // linked as ET_EXEC with no dynamic relocations (P1); a build.rs link arg survives a
    // RUSTFLAGS override (P2).
    println!("{bin}=-no-pie");
    // Pull the entry object (notes, hypercall page) out of the rpvboot rlib in non-LTO builds.
    println!("{bin}=--undefined=_start");
    println!("{bin}=--gc-sections");
}
