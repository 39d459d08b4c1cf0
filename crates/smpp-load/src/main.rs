//! `smpp-load`, the ESME load generator. Not built yet: issue 4.

fn main() -> std::process::ExitCode {
    eprintln!("smpp-load: not built yet (see issue 4)");
    std::process::ExitCode::FAILURE
}
