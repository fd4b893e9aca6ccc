//! The `brandpunt` command line: a thin edge over the library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
