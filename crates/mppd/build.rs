//! Code layout of release builds: the linker places the functions listed in
//! `layout/mppd-run.order` (those `mppd run` executes to start, provision and keep a TLS line
//! registered, recorded by `scripts/layout`) first and together, so the daemon touches a few
//! hundred KiB of its text instead of pages spread over all of it. Only rustc's own linker
//! (LLD, the default for x86_64 Linux since Rust 1.90) takes the ordering file; set
//! `MPPD_NO_LAYOUT=1` when linking with another one. Names the file lists that a build lacks
//! are skipped: a stale file costs memory, never correctness.

use std::env;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=layout/mppd-run.order");
    println!("cargo:rerun-if-env-changed=MPPD_NO_LAYOUT");
    let release = env::var("PROFILE").is_ok_and(|p| p == "release");
    let lld_target = env::var("TARGET").is_ok_and(|t| t == "x86_64-unknown-linux-gnu");
    if !release || !lld_target || env::var_os("MPPD_NO_LAYOUT").is_some() {
        return;
    }
    let Some(dir) = env::var_os("CARGO_MANIFEST_DIR") else {
        return;
    };
    let order = Path::new(&dir).join("layout/mppd-run.order");
    if order.is_file() {
        println!(
            "cargo:rustc-link-arg-bin=mppd=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo:rustc-link-arg-bin=mppd=-Wl,--no-warn-symbol-ordering");
    }
    // Relative relocations packed (DT_RELR, glibc 2.36+): the loader reads a few KiB at start
    // instead of 24 bytes per pointer of the binary's tables (about 800 KiB).
    println!("cargo:rustc-link-arg-bin=mppd=-Wl,-z,pack-relative-relocs");
}
