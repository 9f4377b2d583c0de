//! Tools for developers and tests, not for production data: the synthetic claims generator.

pub mod generate;
pub mod x12_835;
