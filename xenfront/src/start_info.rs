//! A checked, typed copy of `start_info`.
//!
//! The raw page is written by the toolstack (libxc) and is trusted only as far as the checks here
//! go: the magic must name a 64-bit PV guest, the page-table and p2m addresses must be page
//! aligned, and the command line is bounded by its 1024-byte field whatever its NUL says.

use core::fmt;

use super::raw;

/// `SIF_MOD_START_PFN`: `mod_start` is a PFN, not a VA.
pub const SIF_MOD_START_PFN: u32 = 1 << 3;
/// `SIF_MULTIBOOT_MOD`: the module is a multiboot module list.
pub const SIF_MULTIBOOT_MOD: u32 = 1 << 2;
/// `SIF_INITDOMAIN`: we are dom0 (the console fields then mean something else).
pub const SIF_INITDOMAIN: u32 = 1 << 1;

/// Why `start_info` was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartInfoError {
    /// The magic is not `xen-3.0-x86_64`: the bytes found (up to the NUL, at most 32).
    BadMagic([u8; 32]),
    /// This is dom0's start_info: rpvboot only runs as a domU.
    InitialDomain,
    /// A field that must be page aligned is not: its name and value.
    Misaligned(&'static str, u64),
    /// `nr_pages` is zero or does not fit the address space we use.
    BadNrPages(u64),
}

impl fmt::Display for StartInfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadMagic(m) => {
                let end = m.iter().position(|&b| b == 0).unwrap_or(m.len());
                write!(f, "start_info magic {:?} is not xen-3.0-x86_64", m.get(..end).unwrap_or(&[]).escape_ascii())
            }
            Self::InitialDomain => write!(f, "start_info is dom0's (SIF_INITDOMAIN): rpvboot runs as a domU"),
            Self::Misaligned(name, v) => {
                write!(f, "start_info.{name} = {v:#x} is not page aligned")
            }
            Self::BadNrPages(n) => write!(f, "start_info.nr_pages = {n} is out of range"),
        }
    }
}

/// The checked fields of `start_info` that rpvboot uses.
#[derive(Clone)]
pub struct StartInfo {
    /// Total pages of the domain (the p2m length).
    pub nr_pages: u64,
    /// Machine address of the shared_info page.
    pub shared_info_ma: u64,
    /// `SIF_*` flags (0 for xl-created domUs, see docs/pv-rust-pitfalls.md P10).
    pub flags: u32,
    /// xenstore ring MFN.
    pub store_mfn: u64,
    /// xenstore event channel.
    pub store_evtchn: u32,
    /// Console ring MFN.
    pub console_mfn: u64,
    /// Console event channel.
    pub console_evtchn: u32,
    /// VA of the bootstrap L4.
    pub pt_base: u64,
    /// Number of bootstrap page-table frames (L4, L3s, L2s, L1s, in that order).
    pub nr_pt_frames: u64,
    /// VA of the p2m (`u64` MFN per PFN, `nr_pages` entries).
    pub mfn_list: u64,
    /// Module VA (or PFN with [`SIF_MOD_START_PFN`]); 0 without a module.
    pub mod_start: u64,
    /// Module length in bytes.
    pub mod_len: u64,
    cmd_line: [u8; raw::MAX_GUEST_CMDLINE],
    cmd_len: usize,
}

/// Largest `nr_pages` accepted: 512 GiB, one L4 slot, which is what rpvboot maps.
pub const MAX_NR_PAGES: u64 = 1 << (39 - 12);

impl StartInfo {
    /// Checks and copies the raw structure.
    pub fn parse(raw: &raw::StartInfo) -> Result<Self, StartInfoError> {
        const MAGIC: &[u8] = b"xen-3.0-x86_64\0";
        if raw.magic.get(..MAGIC.len()) != Some(MAGIC) {
            return Err(StartInfoError::BadMagic(raw.magic));
        }
        if raw.flags & SIF_INITDOMAIN != 0 {
            return Err(StartInfoError::InitialDomain);
        }
        if raw.nr_pages == 0 || raw.nr_pages > MAX_NR_PAGES {
            return Err(StartInfoError::BadNrPages(raw.nr_pages));
        }
        for (name, v) in [("shared_info", raw.shared_info), ("pt_base", raw.pt_base), ("mfn_list", raw.mfn_list)] {
            if v & 0xfff != 0 {
                return Err(StartInfoError::Misaligned(name, v));
            }
        }
        // The field is 1024 bytes; libxc NUL-terminates at 1023, but do not rely on it.
        let cmd_len = raw.cmd_line.iter().position(|&b| b == 0).unwrap_or(raw.cmd_line.len());
        Ok(Self {
            nr_pages: raw.nr_pages,
            shared_info_ma: raw.shared_info,
            flags: raw.flags,
            store_mfn: raw.store_mfn,
            store_evtchn: raw.store_evtchn,
            console_mfn: raw.console_mfn,
            console_evtchn: raw.console_evtchn,
            pt_base: raw.pt_base,
            nr_pt_frames: raw.nr_pt_frames,
            mfn_list: raw.mfn_list,
            mod_start: raw.mod_start,
            mod_len: raw.mod_len,
            cmd_line: raw.cmd_line,
            cmd_len,
        })
    }

    /// The raw command-line bytes (up to the first NUL, at most 1024).
    pub fn cmd_line_bytes(&self) -> &[u8] {
        self.cmd_line.get(..self.cmd_len).unwrap_or(&[])
    }

    /// The command line as text: the longest valid UTF-8 prefix of [`Self::cmd_line_bytes`].
    pub fn cmd_line(&self) -> &str {
        let b = self.cmd_line_bytes();
        match core::str::from_utf8(b) {
            Ok(s) => s,
            Err(e) => core::str::from_utf8(b.get(..e.valid_up_to()).unwrap_or(&[])).unwrap_or(""),
        }
    }

    /// Whether a whitespace-separated word of the command line equals `word`.
    pub fn has_word(&self, word: &str) -> bool {
        self.cmd_line().split_ascii_whitespace().any(|w| w == word)
    }

    /// Memory of the domain in MiB (rounded down).
    pub fn memory_mib(&self) -> u64 {
        self.nr_pages >> 8
    }

    /// First VA after the bootstrap page tables: the boot stack page (libxc order).
    pub fn boot_stack_va(&self) -> u64 {
        self.pt_base.saturating_add(self.nr_pt_frames.saturating_mul(4096))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_ok() -> raw::StartInfo {
        let mut magic = [0u8; 32];
        magic[..14].copy_from_slice(b"xen-3.0-x86_64");
        raw::StartInfo {
            magic,
            nr_pages: 65536,
            shared_info: 0x7fc5a000,
            flags: 0,
            _pad0: 0,
            store_mfn: 0x7d03c,
            store_evtchn: 1,
            _pad1: 0,
            console_mfn: 0x7d03d,
            console_evtchn: 2,
            _pad2: 0,
            pt_base: 0x3e000,
            nr_pt_frames: 5,
            mfn_list: 0x2b000,
            mod_start: 0,
            mod_len: 0,
            cmd_line: [0; 1024],
            first_p2m_pfn: 0,
            nr_p2m_frames: 0,
        }
    }

    #[test]
    fn parses_fields_and_cmdline() {
        let mut r = raw_ok();
        r.cmd_line[..22].copy_from_slice(b"rpvboot.test=panic x=1");
        let si = StartInfo::parse(&r).unwrap();
        assert_eq!(si.cmd_line(), "rpvboot.test=panic x=1");
        assert!(si.has_word("rpvboot.test=panic"));
        assert!(!si.has_word("rpvboot.test"));
        assert_eq!(si.memory_mib(), 256);
        assert_eq!(si.boot_stack_va(), 0x43000);
        assert_eq!(si.console_evtchn, 2);
    }

    #[test]
    fn unterminated_cmdline_is_bounded() {
        let mut r = raw_ok();
        r.cmd_line = [b'a'; 1024];
        let si = StartInfo::parse(&r).unwrap();
        assert_eq!(si.cmd_line().len(), 1024);
    }

    #[test]
    fn invalid_utf8_is_cut() {
        let mut r = raw_ok();
        r.cmd_line[..5].copy_from_slice(b"ab\xffcd");
        let si = StartInfo::parse(&r).unwrap();
        assert_eq!(si.cmd_line(), "ab");
        assert_eq!(si.cmd_line_bytes(), b"ab\xffcd");
    }

    #[test]
    fn rejects_bad_input() {
        let mut r = raw_ok();
        r.magic[4] = b'4';
        assert!(matches!(StartInfo::parse(&r), Err(StartInfoError::BadMagic(_))));
        let mut r = raw_ok();
        r.magic[..14].copy_from_slice(b"xen-3.0-x86_32");
        assert!(matches!(StartInfo::parse(&r), Err(StartInfoError::BadMagic(_))));
        let mut r = raw_ok();
        r.flags = SIF_INITDOMAIN;
        assert_eq!(StartInfo::parse(&r).err(), Some(StartInfoError::InitialDomain));
        let mut r = raw_ok();
        r.nr_pages = 0;
        assert_eq!(StartInfo::parse(&r).err(), Some(StartInfoError::BadNrPages(0)));
        let mut r = raw_ok();
        r.pt_base += 8;
        assert_eq!(StartInfo::parse(&r).err(), Some(StartInfoError::Misaligned("pt_base", 0x3e008)));
        let e = StartInfo::parse(&r).err().unwrap();
        assert!(format!("{e}").contains("pt_base"));
    }
}
