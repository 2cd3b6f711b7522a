#![no_main]
//! Xenstore replies: the input is the byte stream xenstored writes into the reply ring (headers,
//! payloads, watch events, stray replies, errors). Every call must return (error or value).
use libfuzzer_sys::fuzz_target;
use rpvboot_fuzz::Scripted;
use xenfront::blkfront;
use xenfront::xenstore::Xenstore;

fuzz_target!(|data: &[u8]| {
    let Ok(mut xs) = Xenstore::new(Scripted::new(data)) else {
        return;
    };
    let _ = xs.read("device/vbd/768/backend");
    let _ = xs.read_parsed::<u16>("device/vbd/768/backend-id");
    let _ = xs.directory("device/vbd");
    let _ = xs.write("device/vbd/768/state", "4");
    let _ = xs.watch("backend/vbd/0/768/state", "t");
    let _ = xs.wait_event(1_000_000);
    let _ = xs.transaction(|t| {
        let _ = t.read("device/vbd/768/state")?;
        t.write("device/vbd/768/state", "3")
    });
    let _ = blkfront::list_vbds(&mut xs);
});
