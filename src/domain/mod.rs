//! Pure product logic: no actix, no diesel, no I/O.

pub mod alert_work;
pub mod alerts;
pub mod analytics;
pub mod api_token;
pub mod carc;
pub mod channels;
pub mod claim;
pub mod claim_key;
pub mod csv_format;
pub mod drilldown;
pub mod email;
pub mod format;
pub mod login_throttle;
pub mod mapping;
pub mod mapping_table;
pub mod names;
pub mod password;
pub mod payer_identity;
pub mod phi;
pub mod roles;
pub mod scorecard;
pub mod stats;
pub mod tenant;
pub mod webhook;
