fn main() -> std::process::ExitCode {
    hello_birthday::cli::main()
}
