#![no_main]
use libfuzzer_sys::fuzz_target;

// The grub_cfg parser, then every entry planned and printed as the menu would.
fuzz_target!(|data: &[u8]| rpvboot_fuzz::config_format(bootconfig::Format::GrubCfg, data));
