//! Link settings for the `rpvboot` PV kernel. Only for the `x86_64-unknown-none` target: host
//! builds of the workspace build `rpvboot` as a stub and must not see any of this.

use std::env;

/// Where the image lives; see the comment at the top of link.ld for why 0.
const VIRT_BASE: u64 = 0;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/arch/x86_64/link.ld");
    if env::var("TARGET").as_deref() != Ok("x86_64-unknown-none") {
        return;
    }
    let dir = env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let bin = "cargo:rustc-link-arg-bin=rpvboot";
    println!("{bin}=-T{dir}/src/arch/x86_64/link.ld");
    println!("{bin}=--defsym=__virt_base={VIRT_BASE:#x}");
    // ET_EXEC with no dynamic relocations even if RUSTFLAGS replaced the config's
    // relocation-model=static (rust-pv-notes P1, P2).
    println!("{bin}=-no-pie");
    // Pull the entry object (notes, hypercall page) out of the loader rlib in non-LTO builds.
    println!("{bin}=--undefined=_start");
    println!("{bin}=--gc-sections");
}
