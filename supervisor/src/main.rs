//! The `picluster` binary: the daemon and the CLI.

fn main() -> std::process::ExitCode {
    picluster::cli::main()
}
