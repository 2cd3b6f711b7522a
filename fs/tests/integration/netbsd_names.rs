//! `bootdev=` names (fs::probe::netbsd) for partition maps made by sfdisk and our NetBSD
//! label writer. Each expectation names the NetBSD rule it checks (R1–R6 in
//! fs/src/probe/netbsd.rs, from NetBSD's sources as docs/netbsd-bootdev.md describes them); the
//! same layouts are booted with real NetBSD kernels by the `nb-*` e2e scenarios.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use fs::block::FileDisk;
use fs::probe::{self, netbsd, Disk};

const FFS: &str = "49F48D5A-B10E-11DC-B99B-0019D1879648";
const ESP: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";

fn dir() -> PathBuf {
    let d = testimages::tree::images_dir().join("netbsd-names");
    std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
    d
}

/// A zeroed image of `mib` MiB with `script` applied by sfdisk.
fn sfdisk(name: &str, mib: u64, script: &str) -> PathBuf {
    let img = dir().join(format!("{name}.img"));
    let _ = std::fs::remove_file(&img);
    std::fs::File::create(&img).and_then(|f| f.set_len(mib << 20)).unwrap_or_else(|e| panic!("{e}"));
    let script = script.replace("IMG", &img.file_name().and_then(|n| n.to_str()).map(String::from).unwrap_or_default());
    let mut child = Command::new("sfdisk")
        .args(["--quiet", "--no-reread", "--no-tell-kernel"])
        .arg(&img)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("sfdisk: {e}"));
    child.stdin.as_mut().map(|s| s.write_all(script.as_bytes())).transpose().unwrap_or_else(|e| panic!("{e}"));
    let st = child.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(st.success(), "sfdisk {name}: {st}\n{script}");
    img
}

fn scan(index: u32, img: &Path) -> Disk {
    let dev = FileDisk::open_with_block_size(img, 512).unwrap_or_else(|e| panic!("{}: {e:?}", img.display()));
    probe::scan_disk(index, Box::new(dev))
}

/// `bootdev` of the partition called `grub` on `disks`.
fn name(disks: &[Disk], grub: &str) -> Result<String, String> {
    let p = disks
        .iter()
        .flat_map(|d| d.partitions.iter())
        .find(|p| p.grub_name() == grub)
        .unwrap_or_else(|| panic!("no {grub}"));
    netbsd::bootdev(disks, p)
}

/// EFI system partition, unused entry 2, two NetBSD FFS entries: wedges in table order,
/// unused entries take no unit (R3): (hd0,0)=dk0, (hd0,2)=dk1, (hd0,3)=dk2.
fn gpt_with_gap(name: &str) -> PathBuf {
    sfdisk(
        name,
        40,
        &format!(
            "label: gpt\nfirst-lba: 2048\nIMG1 : start=2048, size=16384, type={ESP}\n\
             IMG3 : start=18432, size=32768, type={FFS}\nIMG4 : start=51200, size=16384, type={FFS}\n"
        ),
    )
}

#[test]
fn gpt_wedges_in_table_order() {
    let d = vec![scan(0, &gpt_with_gap("gap"))];
    assert_eq!(name(&d, "(hd0,0)").as_deref(), Ok("dk0"), "R3");
    assert_eq!(name(&d, "(hd0,2)").as_deref(), Ok("dk1"), "R3: entry 2 is unused");
    assert_eq!(name(&d, "(hd0,3)").as_deref(), Ok("dk2"), "R3");
}

/// Two entries named alike by sfdisk: the second wedge is named by its GUID instead and keeps
/// its unit (R5).
#[test]
fn gpt_same_names() {
    let img = sfdisk(
        "names",
        40,
        &format!(
            "label: gpt\nIMG1 : start=2048, size=16384, type={FFS}, name=\"root\"\n\
             IMG2 : start=18432, size=16384, type={FFS}, name=\"root\"\nIMG3 : start=34816, size=16384, type={FFS}, name=\"usr\"\n"
        ),
    );
    let d = vec![scan(0, &img)];
    assert_eq!(name(&d, "(hd0,2)").as_deref(), Ok("dk2"), "R5");
}

/// Eleven entries: the eleventh is dk10, which `findroot` would read as dk1 (R1).
#[test]
fn gpt_eleven_entries() {
    let mut s = String::from("label: gpt\n");
    for i in 0..11u64 {
        s.push_str(&format!("IMG{} : start={}, size=2048, type={FFS}\n", i + 1, 2048 + i * 2048));
    }
    let d = vec![scan(0, &sfdisk("eleven", 40, &s))];
    assert_eq!(name(&d, "(hd0,9)").as_deref(), Ok("dk9"), "R3");
    assert!(name(&d, "(hd0,10)").is_err(), "R1");
}

/// A GPT disk and a disk without a label: the second is xbd1a (R2) — NetBSD would take dk0
/// without it — and the GPT's own entries are still dk0.. as the only wedges (R3, R4).
#[test]
fn gpt_disk_and_plain_disk() {
    let plain = dir().join("plain.img");
    std::fs::File::create(&plain).and_then(|f| f.set_len(8 << 20)).unwrap_or_else(|e| panic!("{e}"));
    let d = vec![scan(0, &gpt_with_gap("two-a")), scan(1, &plain)];
    assert_eq!(name(&d, "(hd1)").as_deref(), Ok("xbd1a"), "R2");
    assert_eq!(name(&d, "(hd0,2)").as_deref(), Ok("dk1"), "R3, R4");
}

/// Two GPT disks: the units of the second depend on which disk connects first (R4).
#[test]
fn two_gpt_disks() {
    let d = vec![scan(0, &gpt_with_gap("gpt2-a")), scan(1, &gpt_with_gap("gpt2-b"))];
    let e = name(&d, "(hd1,0)").unwrap_err();
    assert!(e.contains("order the disks connect"), "R4: {e}");
    assert!(name(&d, "(hd0,2)").is_err(), "R4");
}

/// MBR 0xA9 holding a disklabel with `a` and `e`: the label's letters (R2); an MBR without a
/// label: NetBSD's made-up letters from `e` for the primaries (R2).
#[test]
fn mbr_label_and_plain_mbr() {
    let img = sfdisk("mbr-label", 40, "label: dos\nstart=2048, size=77824, type=a9\n");
    let total = 40 * 2048;
    let label = testimages::disk::disklabel_bytes(
        512,
        total,
        5,
        &[(0, 16384, 2048, 7), (2, 77824, 2048, 0), (3, total, 0, 0), (4, 32768, 18432, 7)],
    );
    let mut f = std::fs::OpenOptions::new().write(true).open(&img).unwrap_or_else(|e| panic!("{e}"));
    use std::io::{Seek, SeekFrom};
    f.seek(SeekFrom::Start(2049 * 512)).and_then(|_| f.write_all(&label)).unwrap_or_else(|e| panic!("{e}"));
    drop(f);
    let d = vec![scan(0, &img)];
    assert_eq!(name(&d, "(hd0,0,a)").as_deref(), Ok("xbd0a"), "R2");
    assert_eq!(name(&d, "(hd0,0,e)").as_deref(), Ok("xbd0e"), "R2");
    let img =
        sfdisk("mbr-plain", 40, "label: dos\nstart=2048, size=16384, type=83\nstart=18432, size=16384, type=83\n");
    let d = vec![scan(0, &img)];
    assert_eq!(name(&d, "(hd0,1)").as_deref(), Ok("xbd0f"), "R2");
}
