//! Process-wide SQLite settings, made once before the first connection opens.

/// Turns off SQLite's allocation statistics. With them on (the library default), every
/// allocation and free takes one process-wide mutex; two connections aggregating at once
/// (a report run computes both analytics modes in parallel) then spend a large share of
/// their time waiting on it. Nothing here reads those statistics.
///
/// Must run before SQLite initializes, i.e. before any connection is opened; later it is
/// refused by SQLite (`SQLITE_MISUSE`) and changes nothing — which is returned as `false`.
pub fn disable_memory_statistics() -> bool {
    // SAFETY: `sqlite3_config(SQLITE_CONFIG_MEMSTATUS, int)` takes exactly one `int`
    // argument, which is what is passed. SQLite documents the call as not thread-safe
    // before initialization: callers run it at process start, before other threads use
    // SQLite (the binary's `main`).
    #[allow(unsafe_code)]
    let rc = unsafe {
        rusqlite::ffi::sqlite3_config(
            rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS,
            std::ffi::c_int::from(0u8),
        )
    };
    rc == rusqlite::ffi::SQLITE_OK
}
