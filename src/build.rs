//! Rebuilds the crate when a migration changes: `embed_migrations!` reads the
//! `migrations/` directories at compile time, and cargo does not watch them by itself,
//! so a new migration without a source change would leave binaries with the old set.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
