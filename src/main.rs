//! The `brandpunt` command line: a thin edge over the library.

mod cli;

fn main() -> std::process::ExitCode {
    bound_malloc_arenas();
    cli::run()
}

/// Bounds glibc's allocator before any thread starts: at most one malloc arena per core and a fixed 1 MiB mmap
/// threshold. By default glibc gives threads up to eight arenas per core and raises its mmap threshold after
/// each large free (up to 32 MiB), so the large, short-lived buffers of analyses on the server's many worker
/// threads (the blocking pool, rayon) stay behind in those arenas: a national soak grew 27 % in five minutes
/// while its caches grew by 60 MB, and stayed flat with the bounds (benches/national_soak.sh, BENCHMARKS.md).
/// `MALLOC_ARENA_MAX` or `MALLOC_MMAP_THRESHOLD_` in the environment leave glibc's choice in place.
fn bound_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = i32::try_from(cores.max(2)).unwrap_or(i32::MAX);
        // SAFETY: mallopt only sets allocator parameters; called before any other thread exists.
        unsafe {
            if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
                libc::mallopt(libc::M_ARENA_MAX, arenas);
            }
            if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
            }
        }
    }
}
