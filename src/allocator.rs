//! Process-wide settings of the C allocator, made once at start, before other threads run.

/// Requests this large or larger get their own mapping, returned to the system when freed.
const MMAP_THRESHOLD_BYTES: i32 = 1 << 20;

/// Fixes glibc's mmap threshold at 1 MiB. By default it starts at 128 KiB and rises to the
/// size of every mapped block freed (up to 32 MiB), after which the ingest's batches
/// (a few MiB each, allocated on the parser thread, freed on the writer's) are carved
/// from the parser thread's own arena, whose free space the writer's arena cannot reuse:
/// a 1M-row import peaked at 146–151 MB resident (SPEC §9: under 150 MB) against 132–134
/// MB with the threshold fixed, for ~0.2 s more system time in page faults
/// (docs/performance.md, "Peak memory of a 1M-row import"). Returns whether glibc took it;
/// elsewhere it does nothing.
pub fn bound_large_allocations() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt(M_MMAP_THRESHOLD, int)` takes one int within glibc's bounds
        // (0..=32 MiB on 64-bit). glibc documents mallopt as unsafe to call while other
        // threads allocate: the binary's `main` calls this first, before any thread starts.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) };
        rc == 1
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
