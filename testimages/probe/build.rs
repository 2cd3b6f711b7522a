//! Link settings for the probe kernel, only for `x86_64-unknown-none`: host builds of the
//! workspace build a stub.

/// Page `i` of the pad: its index (u64 LE), then bytes `(j * 31 + i) as u8` (compressible, and
/// no two pages alike). The probe checks the same formula (`pv::check_pad`).
///
/// With `PROBE_PAD_FILE=<path>` the pad is that file's bytes instead (figure 1 of issue 10: a
/// probe as big, and as hard to decompress, as Debian's vmlinux); its FNV-1a 64 goes into
/// `pad_file.rs` and the probe recomputes it over the loaded segment (`pv::check_payload`).
fn write_pad() {
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into()));
    let out = out_dir.join("pad.bin");
    println!("cargo:rerun-if-env-changed=PROBE_PAD_MIB");
    println!("cargo:rerun-if-env-changed=PROBE_PAD_FILE");
    let pad = std::env::var_os("CARGO_FEATURE_PAD").is_some();
    let file = std::env::var_os("PROBE_PAD_FILE").filter(|f| pad && !f.is_empty());
    let (bytes, file_fnv) = match file {
        Some(f) => {
            println!("cargo:rerun-if-changed={}", std::path::Path::new(&f).display());
            let v = std::fs::read(&f).unwrap_or_else(|e| panic!("reading PROBE_PAD_FILE {f:?}: {e}"));
            let h = fnv1a(&v);
            (v, Some(h))
        }
        None => {
            let mib: usize =
                if pad { std::env::var("PROBE_PAD_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(34) } else { 0 };
            let pages = mib * 256;
            let mut v = Vec::with_capacity(pages * 4096);
            for i in 0..pages {
                v.extend_from_slice(&(i as u64).to_le_bytes());
                v.extend((8..4096).map(|j| (j * 31 + i) as u8));
            }
            (v, None)
        }
    };
    std::fs::write(&out, bytes).expect("writing the probe pad");
    let consts = match file_fnv {
        Some(h) => {
            format!("/// FNV-1a 64 of the pad file (build.rs).\nconst PAD_FILE_FNV1A: Option<u64> = Some({h:#x});\n")
        }
        None => "/// The pad is the page pattern (or empty), not a file.\nconst PAD_FILE_FNV1A: Option<u64> = None;\n"
            .into(),
    };
    std::fs::write(out_dir.join("pad_file.rs"), consts).expect("writing pad_file.rs");
}

/// FNV-1a 64, as the probe computes it.
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
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
    let pvh = "cargo:rustc-link-arg-bin=rpvboot-probe-pvh";
    println!("cargo:rerun-if-changed=link-pvh.ld");
    println!("{pvh}=-T{dir}/link-pvh.ld");
    println!("{pvh}=-no-pie");
    println!("{pvh}=--undefined=pvh_elf_entry");
    println!("{pvh}=--gc-sections");
}
