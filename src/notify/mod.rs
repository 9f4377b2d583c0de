//! Alerts and their notifications: raising alerts from findings and poor uploads (rules,
//! cooldown, noise) and queueing their deliveries, channel secrets, what a message says,
//! how it is sent, the retry schedule and the delivery worker that drains the queue.

pub mod alerting;
pub mod digests;
pub mod message;
pub mod schedule;
pub mod secrets;
pub mod send;
pub mod test_send;
pub mod worker;

pub use secrets::SecretBox;
pub use worker::Notifier;
