//! Debian's Linux PV kernel (`linux-image-*-amd64`'s vmlinuz: a bzImage with an xz payload),
//! unwrapped and loaded; the oracle is `xz -dc` of the payload and the `object` crate.
//! Skips LOUDLY when the kernel was not fetched (`cargo xtask setup`).

use bootplan::layout::{self, LayoutInput};
use kernelimage::elf::Elf64;
use kernelimage::kernel::PvKernel;
use kernelimage::{self as image, bzimage};
use object::{Object, ObjectSegment};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn find_vmlinuz() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    for dir in ["target/e2e/x/boot", "target/kernels/x/boot"] {
        if let Ok(rd) = std::fs::read_dir(root.join(dir)) {
            let mut v: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("vmlinuz-") && n.ends_with("-amd64"))
                })
                .collect();
            v.sort();
            if let Some(p) = v.pop() {
                return Some(p);
            }
        }
    }
    None
}

fn skip() {
    eprintln!(
        "\n\n!!!!!!!! SKIPPED: no Debian vmlinuz-*-amd64 in target/e2e/x/boot or target/kernels/x/boot.\n\
         !!!!!!!! Run `cargo xtask setup` (it fetches linux-image-amd64's kernel package with\n\
         !!!!!!!! apt-get download and extracts it with dpkg-deb -x).\n\n"
    );
}

#[test]
fn debian_vmlinuz_unwraps_like_xz_and_loads() {
    let Some(path) = find_vmlinuz() else {
        skip();
        return;
    };
    let file = std::fs::read(&path).unwrap();
    let u = image::unwrap(&file, 512 << 20).unwrap();
    assert_eq!(u.format_names(), vec!["bzImage", "xz", "elf64"], "{}", path.display());

    // Oracle: the reference xz on the payload the setup header points at.
    let (start, len) = bzimage::payload_range(&file).unwrap();
    let mut child = Command::new("xz")
        .args(["-dc", "--single-stream"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("xz");
    let mut stdin = child.stdin.take().unwrap();
    let payload = file[start..start + len].to_vec();
    let w = std::thread::spawn(move || stdin.write_all(&payload));
    let out = child.wait_with_output().unwrap();
    w.join().unwrap().unwrap();
    assert!(out.status.success());
    assert!(*u.elf == *out.stdout, "our vmlinux differs from xz -dc");

    let elf = Elf64::parse(&u.elf).unwrap();
    let k = PvKernel::parse(&elf).unwrap();
    let n = &k.notes;
    assert_eq!(n.guest_os.as_deref(), Some("linux"));
    assert_eq!(n.xen_version.as_deref(), Some("xen-3.0"));
    assert_eq!(n.virt_base, Some(0xffff_ffff_8000_0000));
    assert_eq!(n.init_p2m, Some(0x80_0000_0000));
    assert_eq!(n.mod_start_pfn, Some(1));
    assert!(n.features.as_deref().unwrap().contains("!writable_page_tables"));
    assert_eq!(n.f_required & 1, 1);
    assert_eq!(k.virt_offset, 0xffff_ffff_8000_0000);
    assert_eq!(k.virt_kstart, 0xffff_ffff_8100_0000);
    assert_eq!(Some(k.entry), n.entry, "Linux's e_entry is physical: the ENTRY note wins");
    assert!(k.bsd_symtab.is_none());

    // Every loadable segment lands at p_paddr + virt_offset with its file bytes.
    let obj = object::File::parse(&*u.elf).unwrap();
    let img = k.load(&elf).unwrap();
    let mut n_loaded = 0;
    for seg in obj.segments() {
        let (_, filesz) = seg.file_range();
        if filesz == 0 && seg.size() == 0 {
            continue;
        }
        // `object` reports p_vaddr; the loader uses p_paddr. Find it by its data.
        let data = seg.data().unwrap();
        if data.is_empty() {
            continue;
        }
        let s = k
            .segments
            .iter()
            .find(|s| s.filesz == data.len() as u64 && s.offset == seg.file_range().0)
            .expect("segment loaded");
        let off = (s.va - k.virt_kstart) as usize;
        assert!(&img[off..off + data.len()] == data);
        n_loaded += 1;
    }
    assert_eq!(n_loaded, k.segments.len());

    // The handover run's layout (docs/handover.md §6) for this kernel with its 1676 KiB initrd.
    let initrd = [1676 * 1024];
    let l = layout::plan(&LayoutInput::for_kernel(&k, &initrd, 65536, 0, b"root=/dev/xvda console=hvc0")).unwrap();
    eprintln!(
        "{}: kernel {:#x}-{:#x}, entry {:#x}, module at {:#x}, p2m {:#x}, {} tables, end {:#x}",
        path.display(),
        k.virt_kstart,
        k.virt_kend,
        k.entry,
        l.module0().0,
        l.mfn_list(),
        l.nr_pt_frames(),
        l.virt_pgtab_end
    );
    if path.to_string_lossy().contains("6.1.0-56") {
        assert_eq!(l.module0().0, 0xffff_ffff_84a0_0000);
        assert_eq!(l.mfn_list(), 0xffff_ffff_84ba_3000);
        assert_eq!(l.nr_pt_frames(), 43);
        assert_eq!(l.virt_pgtab_end, 0xffff_ffff_8500_0000);
    }
}

#[test]
fn truncated_bzimage_is_an_error() {
    let Some(path) = find_vmlinuz() else {
        skip();
        return;
    };
    let file = std::fs::read(&path).unwrap();
    let (start, len) = bzimage::payload_range(&file).unwrap();
    // The file goes on after the payload (decompressor code): cut inside the payload.
    for cut in [0x100, 0x300, start + 10, start + len / 2, start + len - 100] {
        assert!(image::unwrap(&file[..cut], 512 << 20).is_err(), "cut at {cut}");
    }
}
