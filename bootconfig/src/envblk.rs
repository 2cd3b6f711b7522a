//! GRUB's one-shot `next_entry` cleared the way GRUB clears it: grub-mkconfig's header runs
//! `set next_entry=` and `save_env next_entry`, and `save_env` (grub-core/commands/loadenv.c)
//! edits the 1024-byte environment block with `grub_envblk_set` (grub-core/lib/envblk.c) and
//! writes it back in place. [`set`] and [`delete`] are that editing, byte for byte (checked
//! against `grub-editenv FILE set next_entry=`, which calls the same function); [`EnvWrite`] is
//! the write a configuration asks for, carried by the menu until the loader does it just
//! before the handover (or the dry run reports it).

use alloc::string::String;
use alloc::vec::Vec;

use crate::Device;

/// Where an environment block lies on a disk (found by `fs::envblock::locate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnvPlace {
    /// The disk (`hdN`, xenstore order).
    pub disk: u32,
    /// Its first sector on that disk (not on the partition).
    pub lba: u64,
    /// Sectors it occupies.
    pub sectors: u64,
    /// The disk's sector size.
    pub block_size: u32,
}

/// The rewrite of an environment block a `grub.cfg` asked for with `save_env next_entry`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvWrite {
    /// The partition holding the file.
    pub device: Device,
    /// The file's path on it.
    pub path: String,
    /// Where its block lies.
    pub place: EnvPlace,
    /// The block as read (the sectors must still hold it when the write is done).
    pub old: Vec<u8>,
    /// The block to write.
    pub new: Vec<u8>,
    /// The one-shot entry it clears (`next_entry`'s value before).
    pub cleared: String,
    /// Where the `save_env` is: `FILE:LINE`.
    pub at: String,
}

impl EnvWrite {
    /// One line for the console, the dry run's `plan:` line and `menu`:
    /// `next_entry=VALUE cleared in (hd0,0)/boot/grub/grubenv (hd0 sectors N-M, save_env at FILE:LINE)`.
    pub fn describe(&self) -> String {
        let last = self.place.lba.saturating_add(self.place.sectors.saturating_sub(1));
        alloc::format!(
            "next_entry={} cleared in {}{} (hd{} sectors {}-{last} of {} bytes, save_env at {})",
            self.cleared,
            self.device,
            self.path,
            self.place.disk,
            self.place.lba,
            self.place.block_size,
            self.at
        )
    }
}

/// The length of `value` once escaped (`\` and newline take two bytes).
fn escaped_len(value: &str) -> usize {
    value.bytes().map(|b| if b == b'\\' || b == b'\n' { 2 } else { 1 }).sum()
}

/// Where the line after the one starting at `p` starts (`\` escapes the next byte).
fn next_line(buf: &[u8], mut p: usize) -> usize {
    while let Some(&b) = buf.get(p) {
        match b {
            b'\\' => p = p.saturating_add(2),
            b'\n' => break,
            _ => p += 1,
        }
    }
    p.saturating_add(1)
}

/// `grub_envblk_set`: sets `name` to `value` in the block `buf` in place — an existing
/// variable's value is replaced (what follows moves, freed bytes become `#`), a new one is
/// appended where the `#` padding starts. `false` (and `buf` possibly unchanged) when the
/// block is broken or too small, as GRUB's 0.
pub fn set(buf: &mut [u8], name: &str, value: &str) -> bool {
    let sig = super::grubcfg::ENVBLK_SIGNATURE.len();
    let (nl, vl, end) = (name.len(), escaped_len(value), buf.len());
    // The free space: the trailing '#'s, which must follow a newline.
    let mut space = end;
    while space > 0 && buf.get(space - 1) == Some(&b'#') {
        space -= 1;
    }
    if space == 0 || buf.get(space - 1) != Some(&b'\n') || space < sig {
        return false;
    }
    let mut p = sig;
    let mut at = None;
    // Each pass moves `p` at least one byte forward.
    while p.saturating_add(nl).saturating_add(1) < space {
        if buf.get(p..p + nl) == Some(name.as_bytes()) && buf.get(p + nl) == Some(&b'=') {
            let v = p + nl + 1;
            let mut len = 0usize;
            while let Some(&b) = buf.get(v + len) {
                match b {
                    b'\n' => break,
                    b'\\' => len += 2,
                    _ => len += 1,
                }
            }
            if v + len >= end {
                return false;
            }
            if vl > len && (end - space < vl - len || v + len > end - (vl - len)) {
                return false;
            }
            if vl < len {
                buf.copy_within(v + len..end, v + vl);
                // GRUB fills the freed bytes at the old start of the padding (they hold '#').
                let fill = (space + len - vl).min(end);
                let stop = fill.saturating_add(len - vl).min(end);
                if let Some(s) = buf.get_mut(fill..stop) {
                    s.fill(b'#');
                }
            } else {
                buf.copy_within(v + len..end - (vl - len), v + vl);
            }
            at = Some(v);
            break;
        }
        p = next_line(buf, p);
    }
    let mut q = match at {
        Some(v) => v,
        None => {
            if end - space < nl + 1 + vl + 1 {
                return false;
            }
            if let Some(s) = buf.get_mut(space..space + nl) {
                s.copy_from_slice(name.as_bytes());
            }
            if let Some(b) = buf.get_mut(space + nl) {
                *b = b'=';
            }
            space + nl + 1
        }
    };
    for b in value.bytes() {
        if b == b'\\' || b == b'\n' {
            if let Some(s) = buf.get_mut(q) {
                *s = b'\\';
            }
            q += 1;
        }
        if let Some(s) = buf.get_mut(q) {
            *s = b;
        }
        q += 1;
    }
    if let Some(s) = buf.get_mut(q) {
        *s = b'\n';
    }
    true
}

/// `grub_envblk_delete`: removes `name` (its line moves out, `#` fills the end).
pub fn delete(buf: &mut [u8], name: &str) {
    let sig = super::grubcfg::ENVBLK_SIGNATURE.len();
    let (nl, end) = (name.len(), buf.len());
    let mut p = sig;
    while p.saturating_add(nl).saturating_add(1) < end {
        if buf.get(p..p + nl) == Some(name.as_bytes()) && buf.get(p + nl) == Some(&b'=') {
            let mut len = nl + 1;
            while let Some(&b) = buf.get(p + len) {
                match b {
                    b'\n' => break,
                    b'\\' => len += 2,
                    _ => len += 1,
                }
            }
            if p + len >= end {
                return;
            }
            len += 1;
            buf.copy_within(p + len..end, p);
            if let Some(s) = buf.get_mut(end - len..) {
                s.fill(b'#');
            }
            return;
        }
        p = next_line(buf, p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(vars: &str) -> Vec<u8> {
        let mut b = alloc::vec::Vec::from(super::super::grubcfg::ENVBLK_SIGNATURE.as_bytes());
        b.extend_from_slice(vars.as_bytes());
        b.resize(1024, b'#');
        b
    }

    #[test]
    fn set_replaces_appends_and_refuses_broken_blocks() {
        let mut b = block("saved_entry=0\nnext_entry=1>1\nx=y\n");
        assert!(set(&mut b, "next_entry", ""));
        assert_eq!(b, block("saved_entry=0\nnext_entry=\nx=y\n"));
        assert!(set(&mut b, "next_entry", "a\\b"));
        assert_eq!(b, block("saved_entry=0\nnext_entry=a\\\\b\nx=y\n"));
        assert!(set(&mut b, "new", "v"));
        assert_eq!(b, block("saved_entry=0\nnext_entry=a\\\\b\nx=y\nnew=v\n"));
        delete(&mut b, "x");
        assert_eq!(b, block("saved_entry=0\nnext_entry=a\\\\b\nnew=v\n"));
        let mut broken = block("no newline at the end");
        broken[1023] = b'z';
        assert!(!set(&mut broken, "next_entry", ""));
        let mut full = block("");
        full[1000..1023].fill(b'a');
        full[1023] = b'\n';
        assert!(!set(&mut full, "next_entry", "1"), "no room for a new variable");
    }

    #[test]
    fn hostile_blocks_never_panic() {
        // Blocks of signature, names, '=', '\\', newlines and padding in every mix.
        let alphabet = b"ne=\\\n#x";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for round in 0..20_000 {
            let mut b = block("");
            for c in b.iter_mut().skip(25) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *c = alphabet[(seed % alphabet.len() as u64) as usize];
            }
            let value = ["", "1>1", "a\\b\nc", "long value long value"][round % 4];
            let _ = set(&mut b, "ne", value);
            delete(&mut b, "ne");
            assert_eq!(b.len(), 1024);
        }
    }
}
