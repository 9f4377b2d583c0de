//! Where a run's grouped aggregates come from. The rules of `inputs` read them through
//! [`AggregateSource`]: from the daily rollups (`rollup_source::RollupSource`, every real
//! run), from claims ([`DbSource`], the rollups' oracle) or from claims held in memory
//! (`simulate::MemorySource`, the false-alarm benchmark).

use super::ReportError;
use crate::db::DbConnection;
use crate::db::repo::analytics::{self as repo, BucketBy};
use crate::domain::analytics::windows::Window;
use crate::domain::tenant::TenantScope;

/// The grouped aggregates a run reads: the same rows whichever source gives them, so all
/// go through the same conversion and rules (`inputs`).
pub trait AggregateSource {
    fn rate_days(&mut self, b: BucketBy, w: Window) -> Result<Vec<repo::RateDaysRow>, ReportError>;
    fn denials_by_reason(
        &mut self,
        b: BucketBy,
        w: Window,
    ) -> Result<Vec<repo::DenialRow>, ReportError>;
    fn payer_totals(
        &mut self,
        b: BucketBy,
        w: Window,
    ) -> Result<Vec<repo::PayerTotalsRow>, ReportError>;
    fn payer_days(
        &mut self,
        b: BucketBy,
        w: Window,
    ) -> Result<Vec<repo::PayerDaysRow>, ReportError>;
    fn payer_daily_days(&mut self, w: Window) -> Result<Vec<repo::PayerDailyDaysRow>, ReportError>;
    /// Counted claims (every outcome but REVERSED) whose date by `b` is in `w`: a run's
    /// "claims covered" (SPEC §9).
    fn claims_in(&mut self, b: BucketBy, w: Window) -> Result<i64, ReportError>;
}

/// The aggregates from claims: grouped statements over `claim_records`.
pub struct DbSource<'a> {
    pub conn: &'a mut DbConnection,
    pub scope: &'a TenantScope,
}

impl AggregateSource for DbSource<'_> {
    fn rate_days(&mut self, b: BucketBy, w: Window) -> Result<Vec<repo::RateDaysRow>, ReportError> {
        Ok(repo::rate_days_histogram(
            self.conn, self.scope, b, w.start, w.end,
        )?)
    }
    fn denials_by_reason(
        &mut self,
        b: BucketBy,
        w: Window,
    ) -> Result<Vec<repo::DenialRow>, ReportError> {
        Ok(repo::denials_by_reason(
            self.conn, self.scope, b, w.start, w.end,
        )?)
    }
    fn payer_totals(
        &mut self,
        b: BucketBy,
        w: Window,
    ) -> Result<Vec<repo::PayerTotalsRow>, ReportError> {
        Ok(repo::payer_totals(
            self.conn, self.scope, b, w.start, w.end,
        )?)
    }
    fn payer_days(
        &mut self,
        b: BucketBy,
        w: Window,
    ) -> Result<Vec<repo::PayerDaysRow>, ReportError> {
        Ok(repo::payer_days_histogram(
            self.conn, self.scope, b, w.start, w.end,
        )?)
    }
    fn payer_daily_days(&mut self, w: Window) -> Result<Vec<repo::PayerDailyDaysRow>, ReportError> {
        Ok(repo::payer_daily_days(
            self.conn, self.scope, w.start, w.end,
        )?)
    }
    fn claims_in(&mut self, b: BucketBy, w: Window) -> Result<i64, ReportError> {
        Ok(repo::claims_in_window(
            self.conn, self.scope, b, w.start, w.end,
        )?)
    }
}
