//! The real tools as byte-in, byte-out helpers for tests: gzip (and any filter) and mke2fs.
//! Their output is the oracle our parsers and decompressors are checked against.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// `name` in PATH or the sbin directories (mke2fs lives in /sbin, not in every user's PATH).
pub fn find_tool(name: &str) -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from));
    for dir in dirs {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(format!("{name} not found (install it with `cargo xtask setup`)"))
}

/// Feeds `input` to `cmd args` (from a thread, so a large output cannot dead-lock the pipe)
/// and returns whether it succeeded and its standard output; its standard error is dropped.
///
/// # Panics
/// When the tool cannot be started (`cargo xtask setup` installs them all).
pub fn pipe_status(cmd: &str, args: &[&str], input: &[u8]) -> (bool, Vec<u8>) {
    let path = find_tool(cmd).unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new(path)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd} is needed (cargo xtask setup installs it): {e}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let data = input.to_vec();
    // A tool may stop reading early (a corrupt stream): a broken pipe is its answer, not ours.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().expect("waiting for the tool");
    writer.join().expect("the feeding thread");
    (out.status.success(), out.stdout)
}

/// [`pipe_status`] for a tool that must succeed: its output.
///
/// # Panics
/// When the tool fails.
pub fn pipe(cmd: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    let (ok, out) = pipe_status(cmd, args, input);
    assert!(ok, "{cmd} {args:?} failed");
    out
}

/// What `gzip -9n` makes of `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    pipe("gzip", &["-9n", "-c"], data)
}

/// An ext2 image of `mib` MiB (1 KiB blocks) made by mke2fs from a directory holding `files`
/// (absolute paths; directories are created).
///
/// # Panics
/// When mke2fs is missing or fails.
pub fn ext2_image(files: &[(&str, &[u8])], mib: u32) -> Vec<u8> {
    // One directory per call: tests run in parallel threads of one process.
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("testimages-ext2-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let root = dir.join("root");
    std::fs::create_dir_all(&root).expect("temporary directory");
    for (p, data) in files {
        let f = root.join(p.trim_start_matches('/'));
        if let Some(parent) = f.parent() {
            std::fs::create_dir_all(parent).expect("temporary directory");
        }
        std::fs::write(&f, data).expect("temporary file");
    }
    let img = dir.join("disk.img");
    let mke2fs = find_tool("mke2fs").unwrap_or_else(|e| panic!("{e}"));
    let st = Command::new(mke2fs)
        .args(["-q", "-F", "-t", "ext2", "-b", "1024", "-d"])
        .arg(&root)
        .arg(&img)
        .arg(format!("{mib}M"))
        .status()
        .expect("running mke2fs");
    assert!(st.success(), "mke2fs failed: {st}");
    let bytes = std::fs::read(&img).expect("the image mke2fs wrote");
    let _ = std::fs::remove_dir_all(&dir);
    bytes
}

#[cfg(test)]
mod tests {
    /// gzip's output is a gzip member (RFC 1952 magic, deflate) that `gzip -d` takes back.
    #[test]
    fn gzip_round_trips_through_the_tool() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let gz = super::gzip(&data);
        assert_eq!(&gz[..3], &[0x1f, 0x8b, 8]);
        assert_eq!(super::pipe("gzip", &["-dc"], &gz), data);
        assert!(!super::pipe_status("gzip", &["-dc"], b"not gzip").0);
    }
}
