//! End to end: the built `rpvboot-inspect` binary on disks made by sfdisk/fdisk, mkfs.fat,
//! mke2fs and makefs; `cat` must print exactly the files that were put in.

use std::path::Path;
use std::process::{Command, Output};

use testimages::disk::{self as tdisk, DiskImage, FsKind};
use testimages::tree;

fn build(name: &str) -> DiskImage {
    let spec = tdisk::spec(name).expect("recipe");
    tdisk::build(&tree::images_dir(), &spec).unwrap_or_else(|e| panic!("building {name} (cargo xtask images): {e}"))
}

fn inspect(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rpvboot-inspect")).args(args).output().expect("run rpvboot-inspect")
}

fn img(d: &DiskImage) -> &str {
    d.path.to_str().expect("utf-8 path")
}

fn readable(kind: FsKind) -> bool {
    fs::probe::readers().any(|r| r == kind.kind_prefix())
}

#[test]
fn cat_prints_every_file_of_every_partition() {
    let mut checked = 0;
    for spec in tdisk::specs() {
        let d = build(spec.name);
        for p in spec.parts.iter().filter(|p| p.fs != FsKind::None && readable(p.fs)) {
            for (path, want) in tdisk::part_files(p.tag, p.fs) {
                let full = format!("{}{path}", p.grub);
                let out = inspect(&["cat", img(&d), &full]);
                assert!(out.status.success(), "{} {full}: {}", spec.name, String::from_utf8_lossy(&out.stderr));
                assert!(out.stdout == want, "{} {full}: {} bytes, want {}", spec.name, out.stdout.len(), want.len());
                checked += 1;
            }
            // Plain path: discovery finds the one partition that has it.
            let only = format!("/only-{}", p.tag);
            let out = inspect(&["cat", img(&d), &only]);
            assert!(out.status.success(), "{} {only}: {}", spec.name, String::from_utf8_lossy(&out.stderr));
            assert_eq!(out.stdout, p.tag.as_bytes());
        }
    }
    assert!(checked > 0);
}

#[test]
fn cat_failures_exit_1_with_a_message() {
    let d = build("gpt");
    for path in ["/no/such/file", "(hd0,7)/id.txt", "(hd3,0)/id.txt", "(hd0,1)/boot", "boot/netbsd", "(hd0,1"] {
        let out = inspect(&["cat", img(&d), path]);
        assert_eq!(out.status.code(), Some(1), "{path}");
        assert!(out.stdout.is_empty(), "{path}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("rpvboot-inspect: "), "{path}: {err}");
    }
    let out = inspect(&["cat", "/nonexistent.img", "/x"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn ls_lists_type_size_name() {
    let d = build("netbsd-mbr");
    if !readable(FsKind::Ffs2) {
        return;
    }
    let out = inspect(&["ls", img(&d), "(hd0,1,e)/"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split_whitespace().collect()).collect();
    let files = tdisk::part_files("nbm-e-ffs2", FsKind::Ffs2);
    let size_of = |p: &str| files.iter().find(|(f, _)| f == p).map(|(_, d)| d.len().to_string()).expect("file");
    assert!(lines.contains(&vec!["-", size_of("/big.bin").as_str(), "big.bin"]), "{text}");
    assert!(lines.contains(&vec!["-", "0", "empty"]), "{text}");
    assert!(lines.iter().any(|l| l.first() == Some(&"d") && l.last() == Some(&"boot")), "{text}");
    assert!(lines.iter().any(|l| l.first() == Some(&"l") && l.ends_with(&["link", "->", "boot/netbsd"])), "{text}");
    let out = inspect(&["ls", img(&d), "(hd0,1,e)/boot/netbsd"]);
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert_eq!(text.split_whitespace().collect::<Vec<_>>(), ["-", &size_of("/boot/netbsd"), "netbsd"]);
}

#[test]
fn probe_lists_partitions_and_filesystems() {
    for name in ["mbr-logical", "gpt-4k", "netbsd-mbr", "netbsd-bare", "bare-ext2"] {
        let d = build(name);
        let spec = tdisk::spec(name).expect("recipe");
        let out = inspect(&["probe", img(&d)]);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).expect("utf-8");
        assert!(text.contains(&format!("sectors of {} bytes", spec.sector_size)), "{name}: {text}");
        for p in &spec.parts {
            let line = text.lines().find(|l| l.trim_start().starts_with(&format!("{} ", p.grub)));
            let line = line.unwrap_or_else(|| panic!("{name}: no line for {}:\n{text}", p.grub));
            assert!(line.contains(&format!("start {} ", p.start)), "{name}: {line}");
            assert!(line.contains(&format!("size {} ", p.size)), "{name}: {line}");
        }
        let out = inspect(&["probe", "--json", img(&d)]);
        assert!(out.status.success());
        let json = String::from_utf8(out.stdout).expect("utf-8");
        assert!(json.starts_with("{\"disks\":[{") && json.trim_end().ends_with("]}"), "{json}");
        for p in &spec.parts {
            assert!(json.contains(&format!("\"name\":\"{}\"", p.grub)), "{name}: {json}");
        }
        for p in spec.parts.iter().filter(|p| p.fs != FsKind::None && readable(p.fs)) {
            let kind = format!("\"kind\":\"{}", p.fs.kind_prefix());
            assert!(json.contains(&kind), "{name}: {kind} in {json}");
        }
    }
}

#[test]
fn two_disks_are_hd0_and_hd1() {
    let a = build("bare-ext2");
    let b = build("gpt");
    if !readable(FsKind::Ext2) {
        return;
    }
    let out = inspect(&["cat", img(&a), img(&b), "(hd1,1)/id.txt"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, b"rpvboot test partition gpt-1-ext2\n");
    let out = inspect(&["cat", img(&a), img(&b), "/id.txt"]);
    assert_eq!(out.stdout, b"rpvboot test partition bare-ext2\n");
    assert!(Path::new(img(&a)).is_file());
}

/// `--version`: the name, Cargo's package version and the source revision in parentheses.
#[test]
fn version_names_the_package_version_and_revision() {
    for flag in ["--version", "-V"] {
        let out = inspect(&[flag]);
        assert!(out.status.success(), "{flag}");
        let text = String::from_utf8(out.stdout).expect("utf-8");
        let rest = text.strip_prefix(&format!("rpvboot-inspect {} (", env!("CARGO_PKG_VERSION")));
        let rev = rest.and_then(|r| r.strip_suffix(")\n")).unwrap_or_else(|| panic!("{flag}: {text:?}"));
        assert!(!rev.is_empty() && !rev.contains(char::is_whitespace), "{flag}: {text:?}");
    }
}

/// Every subcommand has its own help (exit status 0), naming its usage and options.
#[test]
fn every_subcommand_has_help() {
    let cases: &[(&str, &[&str])] = &[
        ("probe", &["--json", "--sector-size"]),
        ("ls", &["--sector-size", "<PATH>"]),
        ("cat", &["--sector-size", "<PATH>"]),
        ("menu", &["--extra", "--file", "--json", "--sector-size"]),
        ("boot", &["--extra", "--entry", "--memory", "--loader-pages", "--json", "--sector-size"]),
    ];
    for (sub, options) in cases {
        for how in [vec![*sub, "--help"], vec!["help", sub], vec![*sub, "-h"]] {
            let out = inspect(&how);
            assert!(out.status.success(), "{how:?}");
            let text = String::from_utf8(out.stdout).expect("utf-8");
            assert!(text.contains(&format!("Usage: rpvboot-inspect {sub} ")), "{how:?}: {text}");
            for o in *options {
                assert!(text.contains(o), "{how:?}: no {o} in {text}");
            }
            assert!(text.contains("Exit status:"), "{how:?}: {text}");
        }
    }
    let out = inspect(&["--help"]);
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(out.status.success());
    for sub in ["probe", "ls", "cat", "menu", "boot"] {
        assert!(text.lines().any(|l| l.trim_start().starts_with(&format!("{sub} "))), "{sub}: {text}");
    }
}

/// Usage errors exit 2 with `error:` and the usage (or where to find it) on stderr (no
/// arguments: the help), nothing on stdout; errors
/// about the disk exit 1 (see `cat_failures_exit_1_with_a_message`).
#[test]
fn usage_errors_exit_2() {
    let d = build("gpt");
    let cases: &[&[&str]] = &[
        &[],
        &["frobnicate"],
        &["probe"],
        &["probe", "--bogus", img(&d)],
        &["probe", "--sector-size", "1024", img(&d)],
        &["probe", "--sector-size", "x", img(&d)],
        &["ls", img(&d)],
        &["cat", "--json", img(&d), "/id.txt"],
        &["menu"],
        &["menu", "--file", "/dev/null", img(&d)],
        &["boot", img(&d), "--entry"],
        &["boot", img(&d), "--entry", "x"],
        &["boot", img(&d), "--memory", "0"],
    ];
    for args in cases {
        let out = inspect(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error: ") || err.starts_with("Run rpvboot"), "{args:?}: {err}");
        assert!(err.contains("Usage: rpvboot-inspect") || err.contains("try '--help'"), "{args:?}: {err}");
    }
}

/// Options and images in any order; a repeated option: the last one counts.
#[test]
fn options_anywhere_and_the_last_one_counts() {
    let d = build("gpt");
    let a = inspect(&["probe", "--sector-size", "4096", img(&d), "--sector-size", "512", "--json"]);
    let b = inspect(&["probe", "--json", img(&d)]);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert_eq!(a.stdout, b.stdout);
    assert!(String::from_utf8_lossy(&a.stdout).contains("\"sector_size\":512,"));
}

/// A block device (a loop device over a test image, attached read-only) is read as the image
/// file is: `probe` says it is one, `cat` gives back the files that were put in. Needs root
/// and losetup; skipped with a message otherwise.
#[test]
fn block_devices_are_read_like_images() {
    let d = build("gpt");
    let Some(dev) = LoopDevice::attach(&d.path) else { return };
    let spec = tdisk::spec("gpt").expect("recipe");
    let out = inspect(&["probe", "--json", &dev.0]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json = String::from_utf8(out.stdout).expect("utf-8");
    let len = std::fs::metadata(&d.path).expect("image").len();
    assert!(json.contains(&format!("\"sectors\":{},\"block_device\":true,", len / 512)), "{json}");
    let file = String::from_utf8(inspect(&["probe", "--json", img(&d)]).stdout).expect("utf-8");
    assert!(file.contains("\"block_device\":false,"), "{file}");
    // Apart from the name and the kind, the same disk.
    let same =
        |j: &str, name: &str| j.replacen(name, "X", 1).replace("\"block_device\":true", "\"block_device\":false");
    assert_eq!(same(&json, &dev.0), same(&file, img(&d)));
    let text = String::from_utf8(inspect(&["probe", &dev.0]).stdout).expect("utf-8");
    assert!(text.lines().next().is_some_and(|l| l.ends_with(", block device (read-only)")), "{text}");
    let mut checked = 0;
    for p in spec.parts.iter().filter(|p| p.fs != FsKind::None && readable(p.fs)) {
        for (path, want) in tdisk::part_files(p.tag, p.fs) {
            let full = format!("{}{path}", p.grub);
            let out = inspect(&["cat", &dev.0, &full]);
            assert!(out.status.success(), "{full}: {}", String::from_utf8_lossy(&out.stderr));
            assert!(out.stdout == want, "{full}: {} bytes, want {}", out.stdout.len(), want.len());
            checked += 1;
        }
    }
    assert!(checked > 0);
}

/// A read-only loop device, detached on drop.
struct LoopDevice(String);

impl LoopDevice {
    fn attach(image: &Path) -> Option<Self> {
        let out = Command::new("losetup").args(["-f", "--show", "-r"]).arg(image).output();
        match out {
            Ok(o) if o.status.success() => Some(Self(String::from_utf8_lossy(&o.stdout).trim().to_string())),
            Ok(o) => {
                eprintln!("skipped: losetup -r {}: {}", image.display(), String::from_utf8_lossy(&o.stderr).trim());
                None
            }
            Err(e) => {
                eprintln!("skipped: losetup: {e}");
                None
            }
        }
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.0]).status();
    }
}
