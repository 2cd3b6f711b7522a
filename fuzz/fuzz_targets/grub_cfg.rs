#![no_main]
use libfuzzer_sys::fuzz_target;

// The grub_cfg parser, then every entry planned and printed as the menu would.
use bootconfig::{self as config, menulst, Device, Format};

fuzz_target!(|data: &[u8]| {
    let m = config::parse(Format::GrubCfg, data, "fuzz");
    let _ = menulst::print(&m);
    let dev = Device::parse("(hd0,0)");
    for i in 0..m.entries.len().min(64) {
        let _ = m.plan(i, dev.as_ref(), None, false);
        let _ = m.plan(i, None, Some(config::OsHint::NetBsd), true);
        if let Some(e) = m.entries.get(i) {
            let _ = menulst::entry_lines(e);
        }
    }
    let _ = Format::sniff(data);
});
