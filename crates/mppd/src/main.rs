//! The `mppd` binary: all logic is in the library.

fn main() -> std::process::ExitCode {
    mppd::cli::main()
}
