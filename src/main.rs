fn main() -> std::process::ExitCode {
    ownergraph::cli::main()
}
