//! GRUB-legacy device names in configuration files, and `(dev)/path` splitting.
//!
//! Disks are numbered in xenstore order: `(hd0)` is the first vbd (xvda, NetBSD's xbd0).
//! `(hd0,0)` is the first MBR primary partition, `(hd0,4)` the first logical one, `(hd0,a)` NetBSD
//! disklabel partition a on the bare disk, `(hd0,0,a)` partition a of the disklabel inside MBR
//! partition 0, and `(hd0,gpt1)` the first GPT partition (GRUB 2's spelling, 1-based).
//!
//! Names are parsed by `fs::probe`'s [`DeviceSpec`] (the same parser `rpvboot-inspect` and the
//! disk layer use), so a name means the same partition everywhere; GPT entries are `(hd0,0)`
//! onwards like MBR slots, and GRUB 2's `(hd0,gpt1)`/`(hd0,msdos1)` spellings are accepted.

use alloc::string::{String, ToString};
use core::fmt;

pub use fs::probe::DeviceSpec;

/// A device name as validated text, normalised (`(hd0,0)`), kept as text so the model stays
/// plain data (comparable, printable) independent of the disk layer's types.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Device(String);

impl Device {
    /// Parses `(hd0)`, `(hd0,0)`, `(hd0,a)`, `(hd0,0,a)` (and GRUB 2's `(hd0,msdos1)`).
    pub fn parse(s: &str) -> Option<Device> {
        if s.len() > MAX_DEVICE_LEN {
            return None;
        }
        DeviceSpec::parse(s).ok().map(Device::from_spec)
    }

    /// The name for a parsed spec.
    pub fn from_spec(spec: DeviceSpec) -> Device {
        Device(spec.to_string())
    }

    /// The name, e.g. `(hd0,0)`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The parsed parts (always `Some` for a constructed `Device`).
    pub fn spec(&self) -> Option<DeviceSpec> {
        DeviceSpec::parse(&self.0).ok()
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest device name accepted; real ones are ~12 bytes.
const MAX_DEVICE_LEN: usize = 32;

/// A file named in a configuration: an optional device and an absolute path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    /// `Some` when the path carried a `(dev)` prefix.
    pub device: Option<Device>,
    /// The path on that device, starting with `/`.
    pub path: String,
}

/// Why a `(dev)/path` could not be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// The `(…)` part is not a device name.
    BadDevice(String),
    /// No `/` after the device.
    NotAbsolute(String),
}

/// Splits `(hd0,0)/boot/netbsd` or `/boot/netbsd` into device and path. A device alone
/// (`(hd0,0)`) gives the path `/`, which callers treat as "no file".
pub fn split_path(s: &str) -> Result<FileRef, PathError> {
    if let Some(close) = s.strip_prefix('(').and_then(|_| s.find(')')) {
        let (dev_text, rest) = s.split_at(close.saturating_add(1));
        let device = Device::parse(dev_text).ok_or_else(|| PathError::BadDevice(String::from(dev_text)))?;
        let path = if rest.is_empty() { "/" } else { rest };
        if !path.starts_with('/') {
            return Err(PathError::NotAbsolute(String::from(s)));
        }
        return Ok(FileRef { device: Some(device), path: String::from(path) });
    }
    if s.starts_with('(') {
        let end = s.find('/').unwrap_or(s.len());
        return Err(PathError::BadDevice(String::from(s.get(..end).unwrap_or(s))));
    }
    if !s.starts_with('/') {
        return Err(PathError::NotAbsolute(String::from(s)));
    }
    Ok(FileRef { device: None, path: String::from(s) })
}

/// The `bootdev=` value NetBSD's Xen startup understands for a partition: the `xbd` unit and
/// the disklabel letter (sys/arch/xen/x86/autoconf.c matches the device name as a prefix and
/// takes the next character as the partition). A bare disk is partition `a`. Without a
/// disklabel letter (plain MBR or GPT partition) NetBSD's name is not knowable here: `None`.
pub fn netbsd_bootdev(dev: &Device) -> Option<String> {
    let spec = dev.spec()?;
    let letter = match (spec.part, spec.letter) {
        (_, Some(l)) => l,
        (None, None) => 'a',
        (Some(_), None) => return None,
    };
    let mut s = String::from("xbd");
    use core::fmt::Write;
    let _ = write!(s, "{}{}", spec.disk, letter);
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let d = |s| Device::parse(s).map(|d| d.0);
        assert_eq!(d("(hd0)").as_deref(), Some("(hd0)"));
        assert_eq!(d("(hd1,4)").as_deref(), Some("(hd1,4)"));
        assert_eq!(d("(hd0,a)").as_deref(), Some("(hd0,a)"));
        assert_eq!(d("(hd0,0,e)").as_deref(), Some("(hd0,0,e)"));
        assert_eq!(d("(hd0,gpt2)").as_deref(), Some("(hd0,1)"));
        assert_eq!(d("(hd0,msdos1,bsd1)").as_deref(), Some("(hd0,0,a)"));
        for bad in
            ["(hd0", "hd0", "(hd)", "(hd0,)", "(hd0,z)", "(hd0,0,0)", "(fd0)", "(hd0,gpt0)", "(hd99999999999)", "()"]
        {
            assert_eq!(d(bad), None, "{bad}");
        }
    }

    #[test]
    fn paths() {
        let f = split_path("(hd0,0)/boot/netbsd").unwrap();
        assert_eq!(f.device.unwrap().as_str(), "(hd0,0)");
        assert_eq!(f.path, "/boot/netbsd");
        assert_eq!(split_path("/vmlinuz").unwrap().device, None);
        assert_eq!(split_path("(hd0,0)").unwrap().path, "/");
        assert!(matches!(split_path("(hd0,q)/x"), Err(PathError::BadDevice(_))));
        assert!(matches!(split_path("(hd0"), Err(PathError::BadDevice(_))));
        assert!(matches!(split_path("(hd0/x"), Err(PathError::BadDevice(_))));
        assert!(matches!(split_path("vmlinuz"), Err(PathError::NotAbsolute(_))));
        assert!(matches!(split_path("(hd0)x"), Err(PathError::NotAbsolute(_))));
    }

    #[test]
    fn bootdev() {
        let b = |s| netbsd_bootdev(&Device::parse(s).unwrap());
        assert_eq!(b("(hd0,0,a)").as_deref(), Some("xbd0a"));
        assert_eq!(b("(hd1,e)").as_deref(), Some("xbd1e"));
        assert_eq!(b("(hd0)").as_deref(), Some("xbd0a"));
        assert_eq!(b("(hd0,0)"), None);
    }
}
