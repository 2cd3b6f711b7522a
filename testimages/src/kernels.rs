//! Test guest kernels for the image loader: an ELF shaped like a NetBSD amd64 XEN3_DOMU kernel
//! (the notes of `sys/arch/amd64/amd64/locore.S`: GUEST_OS NetBSD, XEN_VERSION xen-3.0, LOADER
//! generic, VIRT_BASE = PADDR_OFFSET = KERNBASE, ENTRY, HYPERCALL_PAGE, BSD_SYMTAB, ...), with a
//! real `.symtab`/`.strtab`. Assembled and linked by the host binutils (`as`, `ld`), so the ELF
//! layout comes from a producer that is not ours.
//!
//! The kernel does not run: it is loader input. The booting probe kernel is elsewhere.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// NetBSD amd64 `KERNBASE`.
pub const KERNBASE: u64 = 0xffff_ffff_8000_0000;
/// NetBSD amd64 `KERNTEXTOFF` (where `.text` starts).
pub const KERNTEXTOFF: u64 = KERNBASE + 0x20_0000;

/// Where the Xen notes are put.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotePlacement {
    /// An allocated `.note.Xen` section: ld makes a PT_NOTE segment (NetBSD's case).
    Segment,
    /// A non-allocated SHT_NOTE section only (libelf's fallback path).
    SectionOnly,
    /// No notes; the legacy `__xen_guest` string section.
    LegacyGuest,
}

/// One kernel recipe.
#[derive(Clone, Debug)]
pub struct KernelSpec {
    /// File name stem.
    pub name: &'static str,
    /// Note placement.
    pub notes: NotePlacement,
    /// Declare BSD_SYMTAB "yes".
    pub bsd_symtab: bool,
    /// Number of extra global function symbols (`sym_0000` ...), for a bigger symbol table.
    pub extra_symbols: usize,
    /// Bytes of .bss.
    pub bss: usize,
    /// Contents of the FEATURES note.
    pub features: &'static str,
    /// Strip the symbol table after linking (`ld -s`).
    pub strip: bool,
}

impl KernelSpec {
    /// The NetBSD XEN3_DOMU shape.
    pub fn netbsd() -> Self {
        KernelSpec {
            name: "netbsd-like",
            notes: NotePlacement::Segment,
            bsd_symtab: true,
            extra_symbols: 200,
            bss: 3 * 4096 + 123 * 8,
            features: "",
            strip: false,
        }
    }
}

/// All recipes the tests use.
pub fn recipes() -> Vec<KernelSpec> {
    let n = KernelSpec::netbsd();
    vec![
        n.clone(),
        KernelSpec { name: "netbsd-like-shtnote", notes: NotePlacement::SectionOnly, ..n.clone() },
        KernelSpec { name: "netbsd-like-legacy", notes: NotePlacement::LegacyGuest, ..n.clone() },
        KernelSpec { name: "netbsd-like-nosyms", bsd_symtab: true, strip: true, ..n.clone() },
        KernelSpec { name: "netbsd-like-dom0", features: "!dom0", ..n.clone() },
        KernelSpec { name: "netbsd-like-bigsyms", extra_symbols: 5000, bss: 2 << 20, ..n },
    ]
}

/// Where generated files go: `$RPV_TESTIMAGES_DIR`, else `<workspace>/target/testimages`.
pub fn images_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RPV_TESTIMAGES_DIR") {
        return PathBuf::from(dir);
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(&here).join("target").join("testimages")
}

fn note(out: &mut String, ty: u32, data: &str) {
    // namesz, descsz, type, "Xen\0", desc padded to 4 (the ELFNOTE macro of xen/elfnote.h).
    let _ = writeln!(
        out,
        "  .balign 4\n  .long 2f - 1f\n  .long 4f - 3f\n  .long {ty}\n1: .asciz \"Xen\"\n2: .balign 4\n3: {data}\n4: .balign 4"
    );
}

/// The assembly source for `spec`.
pub fn source(spec: &KernelSpec) -> String {
    let mut s = String::new();
    let flags = match spec.notes {
        NotePlacement::Segment => "\"a\", @note",
        _ => "\"\", @note",
    };
    if spec.notes != NotePlacement::LegacyGuest {
        let _ = writeln!(s, ".section .note.Xen, {flags}");
        note(&mut s, 6, ".asciz \"NetBSD\"");
        note(&mut s, 7, ".asciz \"4.99\"");
        note(&mut s, 5, ".asciz \"xen-3.0\"");
        note(&mut s, 3, &format!(".quad {KERNBASE:#x}"));
        note(&mut s, 4, &format!(".quad {KERNBASE:#x}"));
        note(&mut s, 1, ".quad start");
        note(&mut s, 2, ".quad hypercall_page");
        note(&mut s, 12, ".quad 0xffff800000000000");
        note(&mut s, 10, &format!(".asciz \"{}\"", spec.features));
        note(&mut s, 9, ".asciz \"yes\"");
        note(&mut s, 13, ".quad 1, 1");
        note(&mut s, 8, ".asciz \"generic\"");
        note(&mut s, 14, ".long 0");
        if spec.bsd_symtab {
            note(&mut s, 11, ".asciz \"yes\"");
        }
    } else {
        // HYPERCALL_PAGE is a PFN here; text starts at KERNTEXTOFF, the page is 1 page in.
        let hpfn = (KERNTEXTOFF - KERNBASE) / 4096 + 1;
        let syms = if spec.bsd_symtab { ",BSD_SYMTAB" } else { "" };
        let _ = writeln!(
            s,
            ".section __xen_guest\n  .ascii \"GUEST_OS=NetBSD,GUEST_VER=4.99,XEN_VER=xen-3.0,LOADER=generic,VIRT_BASE={KERNBASE:#x},ELF_PADDR_OFFSET={KERNBASE:#x},VIRT_ENTRY=0x{:x},HYPERCALL_PAGE={hpfn:#x},FEATURES={}{syms}\"\n  .byte 0",
            KERNTEXTOFF,
            spec.features
        );
    }
    s.push_str(
        ".text\n.globl start\n.type start, @function\nstart:\n  cld\n  xorl %eax, %eax\n1: hlt\n  jmp 1b\n.size start, . - start\n",
    );
    s.push_str(".balign 4096\n.globl hypercall_page\n.type hypercall_page, @object\nhypercall_page:\n  .fill 4096, 1, 0xc3\n.size hypercall_page, 4096\n");
    for i in 0..spec.extra_symbols {
        let _ = writeln!(
            s,
            ".globl sym_{i:04}\n.type sym_{i:04}, @function\nsym_{i:04}:\n  movl ${i}, %eax\n  ret\n.size sym_{i:04}, . - sym_{i:04}"
        );
    }
    s.push_str(
        ".section .rodata\n.globl version_string\nversion_string: .asciz \"NetBSD-like 10.99 XEN3_DOMU test\"\n",
    );
    s.push_str(".data\n.balign 8\n.globl data_word\ndata_word: .quad 0x1122334455667788\nlocal_data: .quad 42\n");
    let _ = writeln!(s, ".bss\n.balign 4096\n.globl bss_start_marker\nbss_start_marker:\n  .skip {}", spec.bss.max(8));
    s
}

/// The linker script: text at KERNTEXTOFF, p_paddr = p_vaddr (as NetBSD's `kern.ldscript`),
/// `end` after .bss, 8-aligned.
pub fn ldscript() -> String {
    format!(
        "ENTRY(start)\nSECTIONS {{\n  . = {KERNTEXTOFF:#x};\n  .text : {{ *(.text) }}\n  .note.Xen : {{ *(.note.Xen) }}\n  .rodata : {{ *(.rodata) }}\n  . = ALIGN(0x1000);\n  .data : {{ *(.data) }}\n  .bss : {{ *(.bss) . = ALIGN(8); }}\n  end = .; _end = .;\n  __xen_guest 0 : {{ *(__xen_guest) }}\n}}\n"
    )
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    if !out.status.success() {
        return Err(format!("{:?} failed: {}", cmd, String::from_utf8_lossy(&out.stderr)));
    }
    Ok(())
}

/// Build `spec` into `out_dir` (cached: rebuilt when the source or script change).
pub fn build(out_dir: &Path, spec: &KernelSpec) -> Result<PathBuf, String> {
    let dir = out_dir.join("kernels");
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let src = source(spec);
    let lds = ldscript();
    let elf = dir.join(format!("{}.elf", spec.name));
    let s_path = dir.join(format!("{}.S", spec.name));
    let ld_path = dir.join(format!("{}.ld", spec.name));
    let same = fs::read_to_string(&s_path).ok().as_deref() == Some(src.as_str())
        && fs::read_to_string(&ld_path).ok().as_deref() == Some(lds.as_str());
    if same && elf.exists() {
        return Ok(elf);
    }
    // Build in a private directory under fixed file names: parallel builders do not collide,
    // and the assembler's STT_FILE symbol (the source name) is the same in every build, so
    // every build of a recipe yields the same bytes.
    let tmp = crate_unique(&dir, spec.name);
    fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let name = spec.name;
    fs::write(tmp.join(format!("{name}.S")), &src).map_err(|e| e.to_string())?;
    fs::write(tmp.join(format!("{name}.ld")), &lds).map_err(|e| e.to_string())?;
    run(Command::new("as").current_dir(&tmp).arg("--64").arg("-o").arg(format!("{name}.o")).arg(format!("{name}.S")))?;
    let mut ld = Command::new("ld");
    ld.current_dir(&tmp)
        .args(["-m", "elf_x86_64", "-static", "-nostdlib", "-z", "max-page-size=0x1000"])
        .args(["-z", "noexecstack", "--no-warn-rwx-segments", "--build-id=none"])
        .arg("-T")
        .arg(format!("{name}.ld"))
        .arg("-o")
        .arg(format!("{name}.elf"))
        .arg(format!("{name}.o"));
    if spec.strip {
        ld.arg("-s");
    }
    run(&mut ld)?;
    fs::rename(tmp.join(format!("{name}.elf")), &elf).map_err(|e| e.to_string())?;
    fs::rename(tmp.join(format!("{name}.S")), &s_path).map_err(|e| e.to_string())?;
    fs::rename(tmp.join(format!("{name}.ld")), &ld_path).map_err(|e| e.to_string())?;
    let _ = fs::remove_dir_all(&tmp);
    Ok(elf)
}

fn crate_unique(dir: &Path, name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    dir.join(format!(".{name}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)))
}

/// Build every recipe.
pub fn build_all(out_dir: &Path) -> Result<Vec<PathBuf>, String> {
    recipes().iter().map(|r| build(out_dir, r)).collect()
}
