//! How generated recorders deliver usage: the numbers every language's recorder shares.
//!
//! The one rule computed from the plan is the batch size. The server writes one
//! `meter_events` row per (event, matching meter) pair in a single unchunked insert with 7
//! bind parameters per row, and asyncpg allows 32,767 parameters per statement: a batch over
//! that fails with 500 and nothing stored (api-reference §2; the emulator reproduces it in
//! `server_limits`). A recorder that retries such a batch fails forever, so the cap is baked
//! into the generated code instead of being left to a default.

use billing_plan::BillingPlan;

/// asyncpg's limit on bind parameters in one statement.
pub const MAX_BIND_PARAMETERS: usize = 32_767;
/// Bind parameters per row of the server's `meter_events` insert.
pub const PARAMETERS_PER_METER_EVENT: usize = 7;
/// Batch size when the plan's meters allow more. Large, because every instance of an app
/// shares the organization's rate limit (sandbox: 100 requests per minute): 20 instances at
/// 50 events/s need 3,000 events per instance per minute, i.e. at least 600 per request at
/// their 5 requests per minute. About 400 KB of JSON at 200 bytes per event.
pub const PREFERRED_BATCH_SIZE: usize = 2_000;

/// The largest batch a recorder may send for `plan`.
///
/// Counts every meter of the plan as matching every event. That over-counts (a meter filters
/// on one event name), but it also leaves room for meters the organization has outside the
/// plan, which match the same events; the price is only smaller batches with many meters.
pub fn max_batch_size(plan: &BillingPlan) -> usize {
    let meters = plan.meters.len().max(1);
    (MAX_BIND_PARAMETERS / (PARAMETERS_PER_METER_EVENT * meters)).clamp(1, PREFERRED_BATCH_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_with_meters(count: usize) -> BillingPlan {
        let mut plan = crate::go::tests::plan(&["api-calls"]);
        let template = plan.meters[0].clone();
        plan.meters = (0..count)
            .map(|i| {
                let mut meter = template.clone();
                meter.name = format!("meter-{i}");
                meter
            })
            .collect();
        plan
    }

    #[test]
    fn batches_stay_under_the_servers_parameter_ceiling() {
        assert_eq!(max_batch_size(&plan_with_meters(0)), 2_000);
        assert_eq!(max_batch_size(&plan_with_meters(1)), 2_000);
        assert_eq!(max_batch_size(&plan_with_meters(2)), 2_000);
        // 3 meters: 1,560 × 3 × 7 = 32,760.
        assert_eq!(max_batch_size(&plan_with_meters(3)), 1_560);
        // 10 meters: 468 × 10 × 7 = 32,760 ≤ 32,767, and 469 would be 32,830.
        assert_eq!(max_batch_size(&plan_with_meters(10)), 468);
        for meters in 1..200 {
            let size = max_batch_size(&plan_with_meters(meters));
            assert!(size * meters * PARAMETERS_PER_METER_EVENT <= MAX_BIND_PARAMETERS);
            assert!(size >= 1);
        }
    }
}
