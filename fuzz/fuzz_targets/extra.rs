#![no_main]
use libfuzzer_sys::fuzz_target;

// The domU extra= line.
fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    let _ = bootconfig::extra::parse(&line);
    // The menu editor's entry text: first line the title, the rest commands.
    let mut it = line.lines();
    let title = it.next().unwrap_or("");
    let rest: Vec<&str> = it.take(64).collect();
    let _ = bootconfig::menulst::parse_entry(title, &rest, "edit");
});
