//! Pure product logic: no actix, no diesel, no I/O.

pub mod password;
pub mod roles;
pub mod tenant;
