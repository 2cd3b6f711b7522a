//! What the command line (`ls`, `cat`, `probe`) needs from the disks, and its implementation
//! over `fs::probe`'s scanned disks (blkfront in the PV kernel, `MemDisk` images in tests).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use fs::probe::{self, Disk};
use fs::vfs::FileType;

/// The most directory entries `ls` shows (a hostile directory may hold millions).
pub const MAX_LS: usize = 2000;

/// Disk access for the menu's command line. Paths use GRUB legacy's device syntax:
/// `(hd0,0)/boot`, `(hd0)`, or `/boot` (first partition that has it).
pub trait Disks {
    /// One line per disk and partition with its filesystem (`probe`, `ls` without argument).
    fn probe(&mut self) -> Vec<String>;
    /// The names in a directory; directories end with `/`.
    ///
    /// # Errors
    /// Words for the console (not found, not a directory, I/O).
    fn list(&mut self, path: &str) -> Result<Vec<String>, String>;
    /// A whole file, cut at `limit` bytes.
    ///
    /// # Errors
    /// Words for the console.
    fn read(&mut self, path: &str, limit: usize) -> Result<Vec<u8>, String>;
}

/// [`Disks`] over scanned disks.
pub struct ProbedDisks<'a>(pub &'a [Disk]);

impl Disks for ProbedDisks<'_> {
    fn probe(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        for d in self.0 {
            out.push(format!(
                "(hd{}): {} map, {} sectors of {} bytes",
                d.index,
                d.map.name(),
                d.num_blocks,
                d.block_size
            ));
            for p in d.candidates() {
                let what = match probe::open_fs(p) {
                    Ok(fs) => {
                        let i = fs.info();
                        let mut s = format!("{} ({})", i.kind, i.version);
                        if let Some(l) = i.label.filter(|l| !l.is_empty()) {
                            s.push_str(&format!(", label {l}"));
                        }
                        s
                    }
                    Err(e) => format!("no filesystem read ({e})"),
                };
                out.push(format!("  {}: {} sectors, {what}", p.grub_name(), p.size));
            }
        }
        if out.is_empty() {
            out.push(String::from("no disks"));
        }
        out
    }

    fn list(&mut self, path: &str) -> Result<Vec<String>, String> {
        let mut r = probe::resolve(self.0, path).map_err(|e| format!("{path}: {e}"))?;
        if r.meta.file_type != FileType::Directory {
            let name = r.path.rsplit('/').next().unwrap_or(&r.path);
            return Ok(alloc::vec![String::from(name)]);
        }
        let entries = r.fs.read_dir(r.meta.id).map_err(|e| format!("{path}: {e}"))?;
        let mut names: Vec<String> = entries
            .into_iter()
            .filter(|e| e.name != "." && e.name != "..")
            .take(MAX_LS)
            .map(|e| {
                let mut n = e.name;
                if e.file_type == FileType::Directory {
                    n.push('/');
                }
                n
            })
            .collect();
        fs::order::sort_by(&mut names, &|a, b| a.cmp(b));
        Ok(names)
    }

    fn read(&mut self, path: &str, limit: usize) -> Result<Vec<u8>, String> {
        let mut r = probe::resolve(self.0, path).map_err(|e| format!("{path}: {e}"))?;
        if r.meta.file_type == FileType::Directory {
            return Err(format!("{path}: is a directory"));
        }
        let len = usize::try_from(r.meta.size).unwrap_or(usize::MAX).min(limit);
        let mut out = alloc::vec![0u8; len];
        let mut done = 0usize;
        // Each read advances or ends the loop.
        while done < len {
            let rest = out.get_mut(done..).unwrap_or_default();
            match r.fs.read_at(r.meta.id, done as u64, rest) {
                Ok(0) => break,
                Ok(n) => done = done.saturating_add(n),
                Err(e) => return Err(format!("{path}: at byte {done}: {e}")),
            }
        }
        out.truncate(done);
        Ok(out)
    }
}
