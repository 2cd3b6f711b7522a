//! GRUB-legacy device names in configuration files, and `(dev)/path` splitting.
//!
//! Disks are numbered in xenstore order: `(hd0)` is the first vbd (xvda, NetBSD's xbd0).
//! `(hd0,0)` is the first MBR primary partition, `(hd0,4)` the first logical one, `(hd0,a)` NetBSD
//! disklabel partition a on the bare disk, `(hd0,0,a)` partition a of the disklabel inside MBR
//! partition 0, and `(hd0,gpt1)` the first GPT partition (GRUB 2's spelling, 1-based).
//!
//! The syntax check here is a small adapter: the authoritative parser is `fs::probe`'s device
//! spec, which maps a name to a partition; [`Device::parse`] is the one place to swap it in.

use alloc::string::String;
use core::fmt;

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while1};
use nom::character::complete::{char as nchar, u32 as nu32};
use nom::combinator::{all_consuming, map, opt, verify};
use nom::sequence::{delimited, preceded};
use nom::{IResult, Parser};

/// Longest device name accepted; real ones are ~12 bytes.
const MAX_DEVICE_LEN: usize = 32;

/// The partition part of a device name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartSel {
    /// `(hdN,P)`: MBR slot P (0–3 primary, 4+ logical).
    Mbr(u32),
    /// `(hdN,gptP)`: GPT entry P, 1-based like GRUB 2.
    Gpt(u32),
}

/// A parsed device name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevSpec {
    /// Disk number in xenstore order.
    pub disk: u32,
    /// MBR or GPT partition, if any.
    pub part: Option<PartSel>,
    /// NetBSD disklabel partition letter (`a`..`p`), if any.
    pub label: Option<char>,
}

/// A device name as validated text, normalised (`(hd0,0)`), kept as text so the model does not
/// depend on how the disk layer represents partitions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Device(String);

impl Device {
    /// Parses `(hd0)`, `(hd0,0)`, `(hd0,a)`, `(hd0,0,a)`, `(hd0,gpt1)`.
    pub fn parse(s: &str) -> Option<Device> {
        let spec = parse_spec(s)?;
        Some(Device::from_spec(spec))
    }

    /// The name for a parsed spec.
    pub fn from_spec(spec: DevSpec) -> Device {
        use core::fmt::Write;
        let mut s = String::new();
        let _ = write!(s, "(hd{}", spec.disk);
        match spec.part {
            Some(PartSel::Mbr(p)) => {
                let _ = write!(s, ",{p}");
            }
            Some(PartSel::Gpt(p)) => {
                let _ = write!(s, ",gpt{p}");
            }
            None => {}
        }
        if let Some(l) = spec.label {
            let _ = write!(s, ",{l}");
        }
        s.push(')');
        Device(s)
    }

    /// The name, e.g. `(hd0,0)`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The parsed parts (always succeeds for a constructed `Device`).
    pub fn spec(&self) -> Option<DevSpec> {
        parse_spec(&self.0)
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn label_letter(input: &str) -> IResult<&str, char> {
    verify(nom::character::complete::anychar, |c: &char| {
        ('a'..='p').contains(c)
    })
    .parse(input)
}

fn part_sel(input: &str) -> IResult<&str, PartSel> {
    alt((
        map(preceded(tag("gpt"), nu32), PartSel::Gpt),
        map(nu32, PartSel::Mbr),
    ))
    .parse(input)
}

fn spec_inner(input: &str) -> IResult<&str, DevSpec> {
    let (input, _) = alt((tag("hd"), tag("xvd"))).parse(input)?;
    let (input, disk) = nu32(input)?;
    let (input, part) = opt(preceded(nchar(','), part_sel)).parse(input)?;
    let (input, label) = opt(preceded(nchar(','), label_letter)).parse(input)?;
    Ok((input, DevSpec { disk, part, label }))
}

/// Parses a full `(…)` device name.
pub fn parse_spec(s: &str) -> Option<DevSpec> {
    if s.len() > MAX_DEVICE_LEN {
        return None;
    }
    let r: IResult<&str, DevSpec> =
        all_consuming(delimited(nchar('('), spec_inner, nchar(')'))).parse(s);
    let (_, spec) = r.ok()?;
    // `(hd0,gpt0)` does not exist: GPT numbers are 1-based.
    if spec.part == Some(PartSel::Gpt(0)) {
        return None;
    }
    Some(spec)
}

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
    let r: IResult<&str, &str> = delimited(
        nchar('('),
        take_while1(|c: char| c != ')' && c != '/'),
        nchar(')'),
    )
    .parse(s);
    match r {
        Ok((rest, _)) => {
            let dev_text = s.get(..s.len().saturating_sub(rest.len())).unwrap_or("");
            let device = Device::parse(dev_text)
                .ok_or_else(|| PathError::BadDevice(String::from(dev_text)))?;
            let path = if rest.is_empty() { "/" } else { rest };
            if !path.starts_with('/') {
                return Err(PathError::NotAbsolute(String::from(s)));
            }
            Ok(FileRef {
                device: Some(device),
                path: String::from(path),
            })
        }
        Err(_) if s.starts_with('(') => {
            let end = s.find(')').map(|i| i.saturating_add(1)).unwrap_or(s.len());
            Err(PathError::BadDevice(String::from(
                s.get(..end).unwrap_or(s),
            )))
        }
        Err(_) => {
            if !s.starts_with('/') {
                return Err(PathError::NotAbsolute(String::from(s)));
            }
            Ok(FileRef {
                device: None,
                path: String::from(s),
            })
        }
    }
}

/// The `bootdev=` value NetBSD's Xen startup understands for a partition: the `xbd` unit and
/// the disklabel letter (sys/arch/xen/x86/autoconf.c matches the device name as a prefix and
/// takes the next character as the partition). A bare disk is partition `a`. Without a
/// disklabel letter (plain MBR or GPT partition) NetBSD's name is not knowable here: `None`.
pub fn netbsd_bootdev(dev: &Device) -> Option<String> {
    let spec = dev.spec()?;
    let letter = match (spec.part, spec.label) {
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
        let d = |s| parse_spec(s);
        assert_eq!(
            d("(hd0)"),
            Some(DevSpec {
                disk: 0,
                part: None,
                label: None
            })
        );
        assert_eq!(
            d("(hd0,0)"),
            Some(DevSpec {
                disk: 0,
                part: Some(PartSel::Mbr(0)),
                label: None
            })
        );
        assert_eq!(
            d("(hd1,4)"),
            Some(DevSpec {
                disk: 1,
                part: Some(PartSel::Mbr(4)),
                label: None
            })
        );
        assert_eq!(
            d("(hd0,a)"),
            Some(DevSpec {
                disk: 0,
                part: None,
                label: Some('a')
            })
        );
        assert_eq!(
            d("(hd0,0,e)"),
            Some(DevSpec {
                disk: 0,
                part: Some(PartSel::Mbr(0)),
                label: Some('e')
            })
        );
        assert_eq!(
            d("(hd0,gpt2)"),
            Some(DevSpec {
                disk: 0,
                part: Some(PartSel::Gpt(2)),
                label: None
            })
        );
        for bad in [
            "(hd0",
            "hd0",
            "(hd)",
            "(hd0,)",
            "(hd0,z)",
            "(hd0,0,0)",
            "(fd0)",
            "(hd0,gpt0)",
            "(hd99999999999)",
            "(hd0,0) ",
            "()",
        ] {
            assert_eq!(d(bad), None, "{bad}");
        }
        assert_eq!(
            Device::parse("(xvd1,2)").map(|d| d.0),
            Some("(hd1,2)".into())
        );
    }

    #[test]
    fn paths() {
        let f = split_path("(hd0,0)/boot/netbsd").unwrap();
        assert_eq!(f.device.unwrap().as_str(), "(hd0,0)");
        assert_eq!(f.path, "/boot/netbsd");
        assert_eq!(split_path("/vmlinuz").unwrap().device, None);
        assert_eq!(split_path("(hd0,0)").unwrap().path, "/");
        assert!(matches!(
            split_path("(hd0,q)/x"),
            Err(PathError::BadDevice(_))
        ));
        assert!(matches!(split_path("(hd0"), Err(PathError::BadDevice(_))));
        assert!(matches!(
            split_path("vmlinuz"),
            Err(PathError::NotAbsolute(_))
        ));
        assert!(matches!(
            split_path("(hd0)x"),
            Err(PathError::NotAbsolute(_))
        ));
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
