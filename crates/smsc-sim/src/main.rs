//! `smsc-sim`, the upstream SMSC simulator. Not built yet: issue 4.

fn main() -> std::process::ExitCode {
    eprintln!("smsc-sim: not built yet (see issue 4)");
    std::process::ExitCode::FAILURE
}
