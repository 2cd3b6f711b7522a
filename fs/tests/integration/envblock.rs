//! GRUB's environment block located and rewritten in place ([`fs::envblock`]) on filesystems
//! made by the real tools (mke2fs -d, makefs, mkfs.fat + mcopy) from a tree whose `grubenv`
//! was written by `grub-editenv`. Oracles: the bytes grub-editenv wrote (the located sectors
//! must hold them), `grub-editenv - set next_entry=` (the new block), `grub-editenv FILE list`
//! on the file read back after the rewrite, and the filesystems' own checkers (e2fsck,
//! fsck.fat: no metadata touched), debugfs and mtype (the file as the tools see it).

use std::path::{Path, PathBuf};
use std::process::Command;

use fs::envblock::{self, BLOCK_SIZE};
use fs::probe::scan_disk;
use fs::{BlockDevice, Lba, MemDisk};
use testimages::tools::find_tool;

const ENV: &str = "/boot/grub/grubenv";

fn run(cmd: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(find_tool(cmd).unwrap_or_else(|e| panic!("{e}")))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(out.status.success(), "{cmd} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("envblock-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("root/boot/grub")).expect("temporary directory");
    d
}

/// A tree with a grubenv made as `grub-set-default` and `grub-reboot` make it, and other files
/// around it (a kernel-sized file, so the block is not alone on the disk).
fn tree(dir: &Path) -> Vec<u8> {
    let env = dir.join("root").join(ENV.trim_start_matches('/'));
    let env = env.to_str().expect("utf-8 path");
    run("grub-editenv", &[env, "create"]);
    run("grub-editenv", &[env, "set", "saved_entry=0"]);
    run("grub-editenv", &[env, "set", "next_entry=1>1"]);
    std::fs::write(dir.join("root/boot/grub/grub.cfg"), b"menuentry a { linux /vmlinuz }\n").expect("write");
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.join("root/boot/vmlinuz"), big).expect("write");
    std::fs::read(env).expect("grubenv")
}

/// What `grub-editenv` makes of `old` after `set next_entry=` (the bytes GRUB's `save_env`
/// writes after `set next_entry=`: both call grub_envblk_set).
fn cleared(dir: &Path, old: &[u8]) -> Vec<u8> {
    let f = dir.join("expected-grubenv");
    std::fs::write(&f, old).expect("write");
    run("grub-editenv", &[f.to_str().expect("utf-8"), "set", "next_entry="]);
    std::fs::read(&f).expect("read")
}

/// Locates the block, checks it against what grub-editenv wrote, rewrites it, and returns the
/// whole image after the rewrite.
fn locate_and_rewrite(dir: &Path, img: &Path, sector: u32, old: &[u8]) -> Vec<u8> {
    let bytes = std::fs::read(img).expect("image");
    let disk = scan_disk(0, Box::new(MemDisk::new(bytes.clone(), sector)));
    let part = disk.partitions.first().expect("one partition").clone();
    let (place, data) = envblock::locate(&part.device(), ENV).unwrap_or_else(|e| panic!("{}: {e}", img.display()));
    assert_eq!(data, old, "the bytes read are grub-editenv's");
    let at = usize::try_from(place.lba.0 * u64::from(sector)).expect("offset");
    assert_eq!(&bytes[at..at + BLOCK_SIZE], old, "the located sector holds grub-editenv's bytes");
    let new = cleared(dir, old);
    assert_ne!(new, old);
    let mut dev = part.device();
    envblock::rewrite(&mut dev, &place, &data, &new).expect("rewrite");
    let mut after = vec![0u8; bytes.len() / sector as usize * sector as usize];
    dev.read_blocks(Lba(0), &mut after).expect("read the image back");
    // Only the block changed.
    for (i, (a, b)) in bytes.iter().zip(&after).enumerate() {
        if !(at..at + BLOCK_SIZE).contains(&i) {
            assert_eq!(a, b, "byte {i} outside the block changed");
        }
    }
    assert_eq!(&after[at..at + BLOCK_SIZE], &new[..]);
    // A fresh mount reads the new block, and grub-editenv lists it.
    let again = scan_disk(0, Box::new(MemDisk::new(after.clone(), sector)));
    let (_, reread) = envblock::locate(&again.partitions[0].device(), ENV).expect("located again");
    let f = dir.join("reread-grubenv");
    std::fs::write(&f, &reread).expect("write");
    let list = String::from_utf8(run("grub-editenv", &[f.to_str().expect("utf-8"), "list"])).expect("utf-8");
    assert_eq!(list, "saved_entry=0\nnext_entry=\n", "grub-editenv list after the rewrite");
    let out = dir.join("after.img");
    std::fs::write(&out, &after).expect("write");
    after
}

#[test]
fn ext4_block_is_found_and_rewritten() {
    let dir = tmp("ext4");
    let old = tree(&dir);
    let img = dir.join("ext4.img");
    let root = dir.join("root");
    run("mke2fs", &["-q", "-F", "-t", "ext4", "-d", root.to_str().unwrap(), img.to_str().unwrap(), "16M"]);
    locate_and_rewrite(&dir, &img, 512, &old);
    let after = dir.join("after.img");
    let after = after.to_str().unwrap();
    run("e2fsck", &["-fn", after]);
    let cat = run("debugfs", &["-R", &format!("cat {ENV}"), after]);
    assert_eq!(cat, cleared(&dir, &old), "debugfs reads the new block");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ext2_1k_blocks() {
    let dir = tmp("ext2");
    let old = tree(&dir);
    let img = dir.join("ext2.img");
    let root = dir.join("root");
    run("mke2fs", &["-q", "-F", "-t", "ext2", "-b", "1024", "-d", root.to_str().unwrap(), img.to_str().unwrap(), "8M"]);
    locate_and_rewrite(&dir, &img, 512, &old);
    run("e2fsck", &["-fn", dir.join("after.img").to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ffs2_block_is_found_and_rewritten() {
    let dir = tmp("ffs");
    let old = tree(&dir);
    let img = dir.join("ffs.img");
    let root = dir.join("root");
    run(
        "makefs",
        &["-t", "ffs", "-B", "le", "-o", "version=2", "-s", "8m", img.to_str().unwrap(), root.to_str().unwrap()],
    );
    locate_and_rewrite(&dir, &img, 512, &old);
    let _ = std::fs::remove_dir_all(&dir);
}

fn fat(sector: u32) {
    let dir = tmp(&format!("fat{sector}"));
    let old = tree(&dir);
    let img = dir.join("fat.img");
    let (i, s) = (img.to_str().unwrap(), sector.to_string());
    run("mkfs.fat", &["-C", "-S", &s, "-i", "12345678", i, "16384"]);
    run("mcopy", &["-s", "-i", i, dir.join("root/boot").to_str().unwrap(), "::"]);
    locate_and_rewrite(&dir, &img, sector, &old);
    let after = dir.join("after.img");
    let after = after.to_str().unwrap();
    run("fsck.fat", &["-n", after]);
    let typed = run("mtype", &["-i", after, "::boot/grub/grubenv"]);
    assert_eq!(typed, cleared(&dir, &old), "mtype reads the new block");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fat_512_byte_sectors() {
    fat(512);
}

#[test]
fn fat_4096_byte_sectors() {
    fat(4096);
}

#[test]
fn a_file_that_is_not_one_block_is_refused() {
    let dir = tmp("notblock");
    let root = dir.join("root");
    std::fs::write(root.join("boot/grub/grubenv"), b"# GRUB Environment Block\nshort\n").expect("write");
    let img = dir.join("ext2.img");
    run("mke2fs", &["-q", "-F", "-t", "ext2", "-d", root.to_str().unwrap(), img.to_str().unwrap(), "4M"]);
    let disk = scan_disk(0, Box::new(MemDisk::new(std::fs::read(&img).unwrap(), 512)));
    let e = envblock::locate(&disk.partitions[0].device(), ENV).unwrap_err();
    assert!(e.contains("not one 1024-byte environment block"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
