#![no_main]
use libfuzzer_sys::fuzz_target;

// The bzImage setup header and payload range, then the whole unwrap pipeline.
fuzz_target!(|data: &[u8]| {
    loader::image::fuzz::bzimage_header(data);
    loader::image::fuzz::unwrap(data);
});
