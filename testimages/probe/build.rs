//! Link settings for the probe kernel, only for `x86_64-unknown-none`: host builds of the
//! workspace build a stub.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=link.ld");
    if std::env::var("TARGET").as_deref() != Ok("x86_64-unknown-none") {
        return;
    }
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let bin = "cargo:rustc-link-arg-bin=rpvboot-probe";
    println!("{bin}=-T{dir}/link.ld");
    println!("{bin}=-no-pie");
    println!("{bin}=--undefined=start");
    println!("{bin}=--gc-sections");
}
