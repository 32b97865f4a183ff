#![no_main]
// See the invariants in the entry point's module.
libfuzzer_sys::fuzz_target!(|data: &[u8]| clearway_proxy::fuzzing::samples(data));
