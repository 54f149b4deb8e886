//! Code layout of release builds (profiles that inherit `release`, bench included): the linker
//! places the functions listed in `layout/mppd-run.order` (those `mppd run` executes to start,
//! provision and keep a TLS line registered, recorded by `scripts/layout`) first and together,
//! so the daemon touches a few MiB of its text instead of pages spread over all of it, and packs
//! its relative relocations (DT_RELR: the binary then needs glibc 2.36 or later).
//!
//! Both are linker options that LLD (rustc's default linker on x86_64 Linux since Rust 1.90)
//! takes and GNU ld or gold may not: each is first tried on an empty program with the same
//! rustc, target, flags and linker, and left out with a warning when the link fails. Set
//! `MPPD_NO_LAYOUT=1` to leave both out. Names the file lists that a build lacks are skipped:
//! a stale file costs memory, never correctness.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn main() {
    println!("cargo:rerun-if-changed=layout/mppd-run.order");
    println!("cargo:rerun-if-env-changed=MPPD_NO_LAYOUT");
    let release = env::var("PROFILE").is_ok_and(|p| p == "release");
    let linux = env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if !release || !linux || env::var_os("MPPD_NO_LAYOUT").is_some() {
        return;
    }
    let Some(dir) = env::var_os("CARGO_MANIFEST_DIR") else {
        return;
    };
    let order = Path::new(&dir).join("layout/mppd-run.order");
    if order.is_file() {
        let args = [
            format!("-Wl,--symbol-ordering-file={}", order.display()),
            "-Wl,--no-warn-symbol-ordering".to_owned(),
        ];
        link_args_if_accepted(&args, "the code layout (more resident memory)");
    }
    link_args_if_accepted(
        &["-Wl,-z,pack-relative-relocs".to_owned()],
        "packed relative relocations (a larger start-up footprint)",
    );
}

/// Passes `args` to the link of the `mppd` binary when the linker takes them, else warns.
fn link_args_if_accepted(args: &[String], what: &str) {
    if linker_accepts(args) {
        for a in args {
            println!("cargo:rustc-link-arg-bin=mppd={a}");
        }
    } else {
        println!(
            "cargo:warning=the linker does not take {}: the release build goes without {what}",
            args.join(" ")
        );
    }
}

/// Whether an empty program links with `args`, built as the `mppd` binary will be.
fn linker_accepts(args: &[String]) -> bool {
    let (Some(rustc), Some(out)) = (env::var_os("RUSTC"), env::var_os("OUT_DIR")) else {
        return false;
    };
    let out = PathBuf::from(out);
    let src = out.join("link_probe.rs");
    if fs::write(&src, "fn main() {}\n").is_err() {
        return false;
    }
    let mut c = Command::new(rustc);
    c.arg("--crate-type=bin")
        .arg("--crate-name=mppd_link_probe")
        .arg("-o")
        .arg(out.join("link_probe"))
        .arg(&src);
    if let Ok(target) = env::var("TARGET") {
        c.arg("--target").arg(target);
    }
    if let Some(linker) = env::var_os("RUSTC_LINKER") {
        c.arg("-C")
            .arg(format!("linker={}", linker.to_string_lossy()));
    }
    if let Ok(flags) = env::var("CARGO_ENCODED_RUSTFLAGS") {
        c.args(flags.split('\x1f').filter(|f| !f.is_empty()));
    }
    for a in args {
        c.arg("-C").arg(format!("link-arg={a}"));
    }
    c.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
