//! cargo-fuzz target; the checks live in `omps_fuzz::xmlrpc_decode` so stable tests can replay them.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| omps_fuzz::xmlrpc_decode(data));
