//! Link settings for the probe kernel, only for `x86_64-unknown-none`: host builds of the
//! workspace build a stub.

/// Page `i` of the pad: its index (u64 LE), then bytes `(j * 31 + i) as u8` (compressible, and
/// no two pages alike). The probe checks the same formula (`pv::check_pad`).
fn write_pad() {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into())).join("pad.bin");
    println!("cargo:rerun-if-env-changed=PROBE_PAD_MIB");
    let mib: usize = if std::env::var_os("CARGO_FEATURE_PAD").is_some() {
        std::env::var("PROBE_PAD_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(34)
    } else {
        0
    };
    let pages = mib * 256;
    let mut v = Vec::with_capacity(pages * 4096);
    for i in 0..pages {
        v.extend_from_slice(&(i as u64).to_le_bytes());
        v.extend((8..4096).map(|j| (j * 31 + i) as u8));
    }
    std::fs::write(&out, v).expect("writing the probe pad");
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    write_pad();
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
