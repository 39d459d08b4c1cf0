//! The `tern` binary. Not built yet: the gateway arrives with issue 5.

fn main() -> std::process::ExitCode {
    if std::env::args().any(|a| a == "--version" || a == "-V") {
        println!("tern {}", env!("CARGO_PKG_VERSION"));
        return std::process::ExitCode::SUCCESS;
    }
    eprintln!("tern: the gateway is not built yet (see issue 5); nothing to run");
    std::process::ExitCode::FAILURE
}
