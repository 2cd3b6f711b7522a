//! The NetBSD test init (`testimages/nbinit/init.S`): a static NetBSD/amd64 program put at
//! `/sbin/init` on the disks the e2e scenarios boot with real NetBSD kernels. It prints what
//! the kernel mounted as root (kern.root_device, statvfs of `/`), the argv the kernel gave it
//! (`-s` for single user) and a checksum of a file the host wrote, then powers the domain off.
//! Assembled and linked by the host binutils, like the test kernels in [`crate::kernels`].

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The assembly source.
pub const SOURCE: &str = include_str!("../nbinit/init.S");

/// The marker the init prints at the start of its report line.
pub const MARKER: &str = "RPVBOOT-NBINIT";

/// `/rpvboot/id`, `/rpvboot/data` and `/rpvboot/fnv1a` for a file system tagged `id`: the data
/// is deterministic bytes derived from the id, the checksum is FNV-1a 64 in 16 lowercase hex
/// digits (what the init recomputes and compares).
pub fn check_files(id: &str) -> Vec<(&'static str, Vec<u8>)> {
    let data = data_for(id);
    vec![
        ("rpvboot/id", format!("{id}\n").into_bytes()),
        ("rpvboot/fnv1a", format!("{:016x}", fnv1a(&data)).into_bytes()),
        ("rpvboot/data", data),
    ]
}

/// 200,003 bytes (not a block multiple) of xorshift output seeded by `id`.
pub fn data_for(id: &str) -> Vec<u8> {
    let mut x = fnv1a(id.as_bytes()) | 1;
    (0..200_003)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 29) as u8
        })
        .collect()
}

/// FNV-1a 64.
pub fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    if !out.status.success() {
        return Err(format!("{:?} failed: {}", cmd, String::from_utf8_lossy(&out.stderr)));
    }
    Ok(())
}

/// Builds the init into `out_dir/nbinit/init` (cached: rebuilt when the source changes).
///
/// # Errors
/// `as` or `ld` is missing or fails.
pub fn build(out_dir: &Path) -> Result<PathBuf, String> {
    let dir = out_dir.join("nbinit");
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let elf = dir.join("init");
    let src = dir.join("init.S");
    if fs::read_to_string(&src).ok().as_deref() == Some(SOURCE) && elf.exists() {
        return Ok(elf);
    }
    let tmp = dir.join(format!(".build-{}", std::process::id()));
    fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    fs::write(tmp.join("init.S"), SOURCE).map_err(|e| e.to_string())?;
    run(Command::new("as").current_dir(&tmp).args(["--64", "-o", "init.o", "init.S"]))?;
    run(Command::new("ld")
        .current_dir(&tmp)
        .args(["-m", "elf_x86_64", "-static", "-nostdlib", "-z", "max-page-size=0x1000", "-z", "noseparate-code"])
        .args(["-z", "noexecstack", "--no-warn-rwx-segments", "--build-id=none", "-o", "init", "init.o"]))?;
    fs::rename(tmp.join("init"), &elf).map_err(|e| e.to_string())?;
    fs::rename(tmp.join("init.S"), &src).map_err(|e| e.to_string())?;
    let _ = fs::remove_dir_all(&tmp);
    Ok(elf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The init is a NetBSD binary by readelf's reading (an oracle that is not us): the
    /// ident note in a PT_NOTE, an executable entry.
    #[test]
    fn readelf_sees_a_netbsd_executable() {
        let dir = std::env::temp_dir().join(format!("nbinit-test-{}", std::process::id()));
        let elf = match build(&dir) {
            Ok(e) => e,
            Err(e) => panic!("building the init: {e}"),
        };
        let out = Command::new("readelf").arg("-lnhW").arg(&elf).output().map(|o| o.stdout).unwrap_or_default();
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("EXEC (Executable file)"), "{text}");
        assert!(text.contains("Advanced Micro Devices X86-64"), "{text}");
        assert!(text.lines().any(|l| l.trim_start().starts_with("NOTE ")), "{text}");
        assert!(text.contains("NetBSD") && text.contains("IDENT 799000400 (7.99.4)"), "{text}");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn check_files_agree() {
        let f = check_files("x");
        assert_eq!(f[0].1, b"x\n");
        assert_eq!(f[1].1, format!("{:016x}", fnv1a(&f[2].1)).into_bytes());
        assert_ne!(data_for("a"), data_for("b"));
        // FNV-1a 64 test vector (the empty input and "a", from the FNV reference).
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
