//! The retry schedule (ANALYTICS.md § Webhook signatures): attempt 1 at once, then after
//! 1, 2, 4, 8 and 16 minutes, then `failed` — six attempts in all.

use chrono::NaiveDateTime;

use crate::db::repo::deliveries::NextStep;

pub const BACKOFF_MINUTES: [i64; 5] = [1, 2, 4, 8, 16];
pub const MAX_ATTEMPTS: i64 = BACKOFF_MINUTES.len() as i64 + 1;

/// Where a delivery goes after its `attempts`-th failed attempt (1-based, counted since
/// it was last queued).
pub fn after_failure(attempts: i64, now: NaiveDateTime) -> NextStep {
    usize::try_from(attempts - 1)
        .ok()
        .and_then(|i| BACKOFF_MINUTES.get(i))
        .map_or(NextStep::Failed, |m| {
            NextStep::RetryAt(now + chrono::Duration::minutes(*m))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_one_two_four_eight_sixteen_then_fails() {
        let t0 = chrono::DateTime::from_timestamp(1_800_000_000, 0)
            .expect("time")
            .naive_utc();
        let waits: Vec<Option<i64>> = (1..=7)
            .map(|n| match after_failure(n, t0) {
                NextStep::RetryAt(at) => Some((at - t0).num_minutes()),
                NextStep::Failed => None,
                NextStep::Delivered => unreachable!(),
            })
            .collect();
        assert_eq!(
            waits,
            vec![Some(1), Some(2), Some(4), Some(8), Some(16), None, None]
        );
        assert_eq!(MAX_ATTEMPTS, 6);
        assert_eq!(after_failure(0, t0), NextStep::Failed);
    }
}
