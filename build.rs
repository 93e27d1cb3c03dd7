//! Links the `zkonnx` executable with compact relative relocations (DT_RELR) where the C library
//! can load them.
//!
//! A position-independent zkonnx carries ~60,000 relative relocations; the dynamic loader applied
//! them from a 1.5 MB table at every start, faulting in ~4.5 MB of the executable before `main`
//! (measured: `zkonnx prove` of mlp_digits peaks at 17.6 MB with DT_RELR, 22.1 MB without;
//! `zkonnx --version` 6.6 MB against 9.0 MB). glibc loads DT_RELR from 2.36 on, and GNU ld packs
//! them on x86-64 from 2.38 (every distribution with glibc ≥ 2.36 ships a newer one); an
//! executable packed for a newer glibc does not start on an older one, so the option is only
//! given when this host's glibc is new enough and the build is not a cross build.
//!
//! It also keeps the `.text.startup` prefix (`-z keep-text-section-prefix`): the static
//! constructors that tract's op registries run before `main` (163 of them) then sit together in
//! one 8 KB section instead of one in each codegen unit, where each mapped its own 128 KB of code
//! at every start (`zkonnx prove` of mlp_digits: 15.8 -> 15.5 MB peak, median of eight). The
//! default linker here is rust-lld, which honours it; GNU ld ignores it with a warning.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    let host = std::env::var("HOST").unwrap_or_default();
    if target != "x86_64-unknown-linux-gnu" || target != host {
        return;
    }
    let Ok(out) = std::process::Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
    else {
        return;
    };
    // "glibc 2.36"
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.trim().strip_prefix("glibc ").unwrap_or("");
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if (major, minor) >= (2, 36) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo:rustc-link-arg-bins=-Wl,-z,keep-text-section-prefix");
}
