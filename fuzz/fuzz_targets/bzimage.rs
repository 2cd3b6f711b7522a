#![no_main]
use libfuzzer_sys::fuzz_target;

// The bzImage setup header and payload range, then the whole unwrap pipeline.
fuzz_target!(|data: &[u8]| {
    kernelimage::fuzz::bzimage_header(data);
    kernelimage::fuzz::unwrap(data);
});
