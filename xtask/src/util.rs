//! Small helpers shared by the subcommands.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// The workspace root (the directory holding the top-level Cargo.toml).
pub fn project_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// `target/e2e/` (or `$RPV_E2E_DIR`): everything the Xen-in-QEMU harness downloads,
/// builds and logs.
pub fn e2e_dir() -> PathBuf {
    match std::env::var_os("RPV_E2E_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => project_root().join("target").join("e2e"),
    }
}

/// Runs a command, echoing it, and fails with its exit status when it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("+ {cmd:?}");
    let status = cmd.status().with_context(|| format!("cannot start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

/// Runs a command without echoing it and returns its stdout; stderr is shown on failure.
pub fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.stdin(Stdio::null()).output().with_context(|| format!("cannot start {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr).trim_end());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a `sh -c` script (for pipelines such as `find | cpio | gzip`), echoing it.
pub fn sh(script: &str) -> Result<()> {
    run(Command::new("sh").arg("-ec").arg(script))
}

/// Whether `prog` is found on `PATH`.
pub fn have(prog: &str) -> bool {
    std::env::var_os("PATH").map(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file())).unwrap_or(false)
}

/// Quotes a path or word for `sh`.
pub fn shq(s: impl AsRef<std::ffi::OsStr>) -> String {
    let s = s.as_ref().to_string_lossy();
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// True when the stamp file holds exactly `content` (the inputs an artefact was built from).
pub fn stamp_ok(stamp: &Path, content: &str) -> bool {
    fs::read_to_string(stamp).is_ok_and(|s| s == content)
}

/// Records the inputs an artefact was built from.
pub fn write_stamp(stamp: &Path, content: &str) -> Result<()> {
    fs::write(stamp, content).with_context(|| format!("writing {}", stamp.display()))
}

/// 64-bit FNV-1a: a cheap fingerprint of recipe text for stamps (not for security).
pub fn fnv64(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in *p {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Creates `dir` and its parents.
pub fn mkdirp(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

/// Copies a file, with the paths in the error.
pub fn copy(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        mkdirp(parent)?;
    }
    fs::copy(from, to).map(|_| ()).with_context(|| format!("copying {} to {}", from.display(), to.display()))
}

/// Writes a file (creating parent directories) with the given Unix mode.
pub fn write_file(path: &Path, data: impl AsRef<[u8]>, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(parent) = path.parent() {
        mkdirp(parent)?;
    }
    fs::write(path, data).with_context(|| format!("writing {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).with_context(|| format!("chmod {}", path.display()))
}

/// Packs directory `dir` (symlinks followed) into a gzip'd newc cpio archive at `out`:
/// the format the Linux kernel unpacks as an initramfs.
pub fn mkcpio(dir: &Path, out: &Path, follow_symlinks: bool, level: u32) -> Result<()> {
    let l = if follow_symlinks { " -L" } else { "" };
    sh(&format!(
        "cd {} && find . | LC_ALL=C sort | cpio -o -H newc --quiet{l} | gzip -{level} -n > {}",
        shq(dir),
        shq(out)
    ))
}

/// Runs `program ARGS` with `input` on its stdin and returns its stdout; fails with its stderr
/// when it exits unsuccessfully. The input is fed from a thread (the tool writes while it
/// reads, and a full stdout pipe would block it). A tool that succeeds without reading all of
/// it (`xz --single-stream`) is not an error: the feeder's broken pipe is ignored then.
pub fn pipe_through(program: &str, args: &[&str], input: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {program} (cargo xtask setup installs it)"))?;
    let mut stdin = child.stdin.take().with_context(|| format!("{program} stdin"))?;
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().with_context(|| format!("waiting for {program}"))?;
    let fed = feeder.join().map_err(|_| anyhow::anyhow!("{program} feeder thread panicked"))?;
    if !out.status.success() {
        bail!("{program} {args:?} failed: {}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim_end());
    }
    if let Err(e) = fed {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e).with_context(|| format!("writing to {program}"));
        }
    }
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::pipe_through;

    #[test]
    fn pipe_through_returns_stdout_and_reports_failures() {
        let data: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
        assert_eq!(pipe_through("cat", &[], &data).unwrap(), data);
        // A tool that exits successfully before reading everything (as `xz --single-stream`
        // does) is not an error; one that fails is, with its stderr.
        assert_eq!(pipe_through("head", &["-c", "3"], &data).unwrap(), [0, 1, 2]);
        let e = pipe_through("sh", &["-c", "echo nope >&2; exit 3"], &data).unwrap_err();
        assert!(format!("{e:#}").contains("nope"), "{e:#}");
    }
}
