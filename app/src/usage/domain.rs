//! Usage as the pages show it: counts per hour for the last day, per day for the last month.
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};

/// Successes and refusals in one time bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsagePoint {
    pub start: DateTime<Utc>,
    pub requests: i64,
    pub refusals: i64,
}

/// The two series a usage chart draws.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// 24 points, one per hour, the last one holding the current hour.
    pub hourly: Vec<UsagePoint>,
    /// 30 points, one per UTC day, the last one holding today.
    pub daily: Vec<UsagePoint>,
}

pub const HOURS: i64 = 24;
pub const DAYS: i64 = 30;

pub fn hour_floor(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(Duration::hours(1)).unwrap_or(at)
}

pub fn day_floor(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(Duration::days(1)).unwrap_or(at)
}

/// The earliest hour any chart drawn at `now` needs.
pub fn window_start(now: DateTime<Utc>) -> DateTime<Utc> {
    day_floor(now) - Duration::days(DAYS - 1)
}

impl Usage {
    /// Folds hourly counts `(hour, requests, refusals)` into the two series ending at `now`.
    /// Counts outside the windows are ignored.
    pub fn from_hours(rows: impl IntoIterator<Item = (DateTime<Utc>, i64, i64)>, now: DateTime<Utc>) -> Self {
        let first_hour = hour_floor(now) - Duration::hours(HOURS - 1);
        let first_day = window_start(now);
        let mut hourly: Vec<UsagePoint> =
            (0..HOURS).map(|i| UsagePoint { start: first_hour + Duration::hours(i), requests: 0, refusals: 0 }).collect();
        let mut daily: Vec<UsagePoint> =
            (0..DAYS).map(|i| UsagePoint { start: first_day + Duration::days(i), requests: 0, refusals: 0 }).collect();
        for (hour, requests, refusals) in rows {
            if hour >= first_hour
                && let Some(point) = hourly.get_mut((hour - first_hour).num_hours() as usize)
            {
                point.requests += requests;
                point.refusals += refusals;
            }
            if hour >= first_day
                && let Some(point) = daily.get_mut((hour - first_day).num_days() as usize)
            {
                point.requests += requests;
                point.refusals += refusals;
            }
        }
        Usage { hourly, daily }
    }
}

/// Refusals of one reason at one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalCount {
    /// The gateway's short reason, e.g. `expired`.
    pub reason: String,
    pub last_day: i64,
    pub last_30_days: i64,
}

/// A server's usage and why its refusals happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerUsage {
    pub usage: Usage,
    pub refusals: Vec<RefusalCount>,
    /// The most-called tools, last 30 days.
    pub tools: Vec<ToolCount>,
}

/// Calls of one tool over the last 30 days: let through, and refused by a tool rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCount {
    pub tool: String,
    pub calls: i64,
    pub refusals: i64,
}

/// How many tools a page lists.
pub const TOP_TOOLS: usize = 10;

/// The reasons always listed for a server, even at zero, in this order.
pub const MAIN_REASONS: &[&str] = &["expired", "revoked", "unassociated", "bad_signature"];

/// A refusal reason in words.
pub fn reason_label(reason: &str) -> &'static str {
    match reason {
        "expired" => "Expired token",
        "revoked" => "Revoked token",
        "unassociated" => "Token not associated with this server",
        "bad_signature" => "Bad signature",
        "key_revoked" => "Signed by a revoked key",
        "missing" => "No token sent",
        "malformed" => "Malformed token",
        "foreign" => "Not one of this account's tokens",
        "not_yet_valid" => "Not valid yet",
        "wrong_audience" => "Wrong issuer or audience",
        "account_disabled" => "Account disabled",
        "tool_not_allowed" => "Tool left out by the token's tool rule",
        "address_not_allowed" => "Not from an allowed address",
        "header_mismatch" => "Mcp-Method/Mcp-Name differ from the body",
        _ => "Other",
    }
}

/// Folds `(hour, reason, count)` rows into per-reason totals for the last day and month.
pub fn refusal_counts(rows: impl IntoIterator<Item = (DateTime<Utc>, String, i64)>, now: DateTime<Utc>) -> Vec<RefusalCount> {
    let day_ago = hour_floor(now) - Duration::hours(HOURS - 1);
    let month_ago = window_start(now);
    let mut counts: Vec<RefusalCount> =
        MAIN_REASONS.iter().map(|r| RefusalCount { reason: (*r).to_string(), last_day: 0, last_30_days: 0 }).collect();
    for (hour, reason, count) in rows {
        if hour < month_ago {
            continue;
        }
        let index = match counts.iter().position(|c| c.reason == reason) {
            Some(i) => i,
            None => {
                counts.push(RefusalCount { reason, last_day: 0, last_30_days: 0 });
                counts.len() - 1
            }
        };
        counts[index].last_30_days += count;
        if hour >= day_ago {
            counts[index].last_day += count;
        }
    }
    counts
}

/// The top of a chart's scale: the smallest 1, 2 or 5 × 10ⁿ at or above `max` (1 when empty).
pub fn nice_ceiling(max: i64) -> i64 {
    let mut step = 1i64;
    loop {
        for m in [1, 2, 5] {
            let candidate = step.saturating_mul(m);
            if candidate >= max || candidate == i64::MAX {
                return candidate.max(1);
            }
        }
        step = step.saturating_mul(10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap()
    }

    #[test]
    fn hours_fold_into_both_windows() {
        let now = at(22, 10) + Duration::minutes(30);
        let usage = Usage::from_hours(
            [
                (at(22, 10), 5, 1),
                (at(22, 9), 2, 0),
                (at(21, 11), 7, 0),
                (at(21, 10), 100, 0),
                (at(1, 0), 3, 3),
                (at(10, 0) - Duration::days(30), 9, 9),
            ],
            now,
        );
        assert_eq!(usage.hourly.len(), 24);
        assert_eq!(usage.hourly[0].start, at(21, 11));
        assert_eq!((usage.hourly[23].requests, usage.hourly[23].refusals), (5, 1));
        assert_eq!(usage.hourly[22].requests, 2);
        assert_eq!(usage.hourly[0].requests, 7, "the hour 24 h ago is outside the last day");
        assert_eq!(usage.hourly.iter().map(|p| p.requests).sum::<i64>(), 14);
        assert_eq!(usage.daily.len(), 30);
        assert_eq!(usage.daily[29].start, at(22, 0));
        assert_eq!(usage.daily[29].requests, 7);
        assert_eq!(usage.daily[28].requests, 107);
        assert_eq!(usage.daily[0].start, at(22, 0) - Duration::days(29));
        assert_eq!((usage.daily.iter().map(|p| p.requests).sum::<i64>(), usage.daily.iter().map(|p| p.refusals).sum::<i64>()), (117, 4));
    }

    #[test]
    fn refusals_keep_the_main_reasons_and_add_others() {
        let now = at(22, 10);
        let counts = refusal_counts(
            [
                (at(22, 10), "expired".to_string(), 2),
                (at(20, 0), "expired".to_string(), 3),
                (at(22, 9), "missing".to_string(), 1),
                (at(1, 0) - Duration::days(40), "revoked".to_string(), 50),
            ],
            now,
        );
        let reasons: Vec<&str> = counts.iter().map(|c| c.reason.as_str()).collect();
        assert_eq!(reasons, ["expired", "revoked", "unassociated", "bad_signature", "missing"]);
        assert_eq!((counts[0].last_day, counts[0].last_30_days), (2, 5));
        assert_eq!(counts[1].last_30_days, 0, "older than 30 days");
        assert_eq!(counts[4].last_day, 1);
    }

    #[test]
    fn scales_end_on_round_numbers() {
        assert_eq!(nice_ceiling(0), 1);
        assert_eq!(nice_ceiling(1), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(7), 10);
        assert_eq!(nice_ceiling(11), 20);
        assert_eq!(nice_ceiling(200), 200);
        assert_eq!(nice_ceiling(201), 500);
        assert_eq!(nice_ceiling(i64::MAX), i64::MAX);
    }
}
