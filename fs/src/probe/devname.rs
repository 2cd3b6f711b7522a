//! GRUB-legacy device names and `(device)/path` parsing, as pvgrub's users write them.
//!
//! | name          | meaning                                                               |
//! |---------------|-----------------------------------------------------------------------|
//! | `(hd0)`       | the whole first disk (first vbd in xenstore order: xvda, NetBSD xbd0)  |
//! | `(hd0,0)`     | MBR primary slot 0 (slots 0–3)                                         |
//! | `(hd0,4)`     | the first logical partition (logicals are 4, 5, ... in EBR-chain order) |
//! | `(hd0,0)`     | on a GPT disk: GPT entry 0 (entries numbered from 0 like MBR slots)    |
//! | `(hd0,a)`     | disklabel partition `a`: of the bare-disk label, or of the first MBR   |
//! |               | NetBSD partition whose label has an `a` (GRUB legacy's rule)           |
//! | `(hd0,0,a)`   | partition `a` of the disklabel inside MBR slot 0                       |
//!
//! For convenience GRUB 2's forms are accepted too and mean the same partitions:
//! `(hd0,msdos1)` = `(hd0,0)`, `(hd0,msdos5)` = `(hd0,4)`, `(hd0,gpt1)` = `(hd0,0)`,
//! `(hd0,msdos1,bsd1)` = `(hd0,0,a)`. GRUB 2 counts from 1, GRUB legacy and rpvboot from 0.

use alloc::format;
use alloc::string::String;
use core::fmt;

use crate::error::Error;

/// Highest accepted disk number (a domU has at most a few dozen vbds).
pub const MAX_DISK: u32 = 255;
/// Highest accepted partition index (GPT arrays are bounded by what [`crate::part::gpt`] reads).
pub const MAX_PART: u32 = 1 << 16;

/// A device named in GRUB-legacy syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeviceSpec {
    /// `hdN`: the disk, from 0.
    pub disk: u32,
    /// MBR slot / logical number or GPT entry index, from 0; `None` for the whole disk or a
    /// bare-disk label.
    pub part: Option<u32>,
    /// Disklabel partition letter `a`–`p`.
    pub letter: Option<char>,
}

impl DeviceSpec {
    /// The whole disk `(hdN)`.
    pub const fn disk(disk: u32) -> Self {
        Self { disk, part: None, letter: None }
    }

    /// Parses a device name including its parentheses, e.g. `(hd0,0,a)`.
    ///
    /// # Errors
    /// [`Error::InvalidPath`] saying what is wrong.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let inner = s
            .trim()
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .ok_or_else(|| bad(s, "a device is written in parentheses, e.g. (hd0,0)"))?;
        parse_inner(inner, s)
    }
}

fn bad(s: &str, why: &str) -> Error {
    Error::InvalidPath(format!("{s}: {why}"))
}

fn number(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn letter(s: &str) -> Option<char> {
    let mut cs = s.chars();
    match (cs.next(), cs.next()) {
        (Some(c @ 'a'..='p'), None) => Some(c),
        _ => None,
    }
}

/// `prefix` + a 1-based number, returned 0-based.
fn one_based(s: &str, prefix: &str) -> Option<u32> {
    number(s.strip_prefix(prefix)?)?.checked_sub(1)
}

fn parse_inner(inner: &str, whole: &str) -> Result<DeviceSpec, Error> {
    let mut parts = inner.split(',').map(str::trim);
    let disk_s = parts.next().unwrap_or_default();
    let disk = disk_s
        .strip_prefix("hd")
        .and_then(number)
        .filter(|&d| d <= MAX_DISK)
        .ok_or_else(|| bad(whole, "the disk must be hdN (hd0 is the first disk)"))?;
    let mut spec = DeviceSpec::disk(disk);
    if let Some(p) = parts.next() {
        if let Some(l) = letter(p) {
            spec.letter = Some(l);
        } else {
            let n = number(p)
                .or_else(|| one_based(p, "msdos"))
                .or_else(|| one_based(p, "gpt"))
                .filter(|&n| n <= MAX_PART)
                .ok_or_else(|| bad(whole, "the partition must be a number from 0, a letter a-p, msdosN or gptN"))?;
            spec.part = Some(n);
            if let Some(l) = parts.next() {
                let c = letter(l)
                    .or_else(|| {
                        one_based(l, "bsd").filter(|&n| n < 16).and_then(|n| char::from_u32(u32::from(b'a') + n))
                    })
                    .ok_or_else(|| bad(whole, "the disklabel partition must be a letter a-p"))?;
                spec.letter = Some(c);
            }
        }
    }
    if parts.next().is_some() {
        return Err(bad(whole, "too many components (at most (hdN,P,L))"));
    }
    Ok(spec)
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(hd{}", self.disk)?;
        if let Some(p) = self.part {
            write!(f, ",{p}")?;
        }
        if let Some(l) = self.letter {
            write!(f, ",{l}")?;
        }
        f.write_str(")")
    }
}

/// Splits `(hd0,0,a)/boot/netbsd` into the device and the path inside it.
///
/// The path is returned as written (`""` when only a device is given, meaning its root); a
/// plain path must be absolute.
///
/// # Errors
/// [`Error::InvalidPath`] for a bad device, a missing `)`, or a relative path.
pub fn parse_path(s: &str) -> Result<(Option<DeviceSpec>, &str), Error> {
    if s.starts_with('(') {
        let close = s.find(')').ok_or_else(|| bad(s, "missing ')' after the device"))?;
        let (dev, rest) = s.split_at(close + 1);
        let spec = DeviceSpec::parse(dev)?;
        if !rest.is_empty() && !rest.starts_with('/') {
            return Err(bad(s, "the path after the device must start with '/'"));
        }
        Ok((Some(spec), rest))
    } else if s.starts_with('/') {
        Ok((None, s))
    } else if s.is_empty() {
        Err(Error::InvalidPath(String::from("empty path")))
    } else {
        Err(bad(s, "a path must start with '/' or a device such as (hd0,0)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn spec(disk: u32, part: Option<u32>, letter: Option<char>) -> DeviceSpec {
        DeviceSpec { disk, part, letter }
    }

    #[test]
    fn legacy_forms() {
        assert_eq!(parse_path("(hd0)").unwrap(), (Some(spec(0, None, None)), ""));
        assert_eq!(parse_path("(hd0,0)/boot/netbsd").unwrap(), (Some(spec(0, Some(0), None)), "/boot/netbsd"));
        assert_eq!(parse_path("(hd1,4)/x").unwrap(), (Some(spec(1, Some(4), None)), "/x"));
        assert_eq!(parse_path("(hd0,a)/netbsd").unwrap(), (Some(spec(0, None, Some('a'))), "/netbsd"));
        assert_eq!(parse_path("(hd0,0,a)/netbsd").unwrap(), (Some(spec(0, Some(0), Some('a'))), "/netbsd"));
        assert_eq!(parse_path("(hd0, 2 ,e)/").unwrap(), (Some(spec(0, Some(2), Some('e'))), "/"));
        assert_eq!(parse_path("/boot/netbsd").unwrap(), (None, "/boot/netbsd"));
    }

    #[test]
    fn grub2_forms() {
        assert_eq!(DeviceSpec::parse("(hd0,gpt1)").unwrap(), spec(0, Some(0), None));
        assert_eq!(DeviceSpec::parse("(hd0,msdos5)").unwrap(), spec(0, Some(4), None));
        assert_eq!(DeviceSpec::parse("(hd0,msdos1,bsd5)").unwrap(), spec(0, Some(0), Some('e')));
        assert!(DeviceSpec::parse("(hd0,gpt0)").is_err());
    }

    #[test]
    fn errors() {
        for bad in [
            "",
            "boot/netbsd",
            "(hd0",
            "(hd0)x",
            "(fd0)",
            "(hd)",
            "(hdx,0)",
            "(hd0,)",
            "(hd0,q)",
            "(hd0,0,0)",
            "(hd0,0,a,b)",
            "(hd99999999)",
            "(hd0,-1)",
            "(hd0,0,ab)",
            "(hd256)",
        ] {
            assert!(matches!(parse_path(bad), Err(Error::InvalidPath(_))), "{bad:?}");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in ["(hd0)", "(hd0,0)", "(hd2,5)", "(hd0,a)", "(hd0,1,e)"] {
            assert_eq!(DeviceSpec::parse(s).unwrap().to_string(), s);
        }
    }
}
