// glibc's malloc spent about 6 % of a GET in allocation slow paths; jemalloc measured 0.02 to 0.18
// higher on the benchmark's GET ratio, for about 5 MB more peak RSS (docs/performance.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    hello_birthday::cli::main()
}
