//! The findings pages (`/portal/drift`, `/portal/denials`, `/portal/delays` and their CSV files).

pub mod claims;
pub mod list;
pub mod view;
