//! Turning data into what the browser gets: the page frame, templates, SVG charts and CSV files.

pub mod charts;
pub mod csv_export;
pub mod layout;
pub mod links;
pub mod monthly_chart;
pub mod nav;
pub mod render;
