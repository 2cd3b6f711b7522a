#![no_main]
use libfuzzer_sys::fuzz_target;

// A whole disk: partition maps, then every partition opened and walked as the loader would.
use fs::probe;

fuzz_target!(|data: &[u8]| {
    let disk = probe::scan_disk(0, rpvboot_fuzz::disk(data));
    for p in disk.candidates().take(8) {
        let _ = p.grub_name();
        let _ = disk.netbsd_letter(p);
        if let Ok(mut f) = probe::open_fs(p) {
            rpvboot_fuzz::walk(&mut *f);
        }
    }
    let disks = [disk];
    for path in ["/boot/grub/menu.lst", "(hd0,0)/netbsd", "(hd0,1)/boot.cfg", "/netbsd"] {
        let _ = probe::resolve(&disks, path);
    }
});
