//! Usage charts drawn on the server as SVG, so they show without JavaScript. Axis labels are
//! HTML beside the plot, so they stay readable at any width; every bar has a tooltip and the
//! numbers are in a table below.
use leptos::prelude::*;

use super::domain::{RefusalCount, UsagePoint, nice_ceiling, reason_label};

/// Which series a chart draws: one bar per hour or per day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Hourly,
    Daily,
}

impl Span {
    fn key(self) -> &'static str {
        match self {
            Span::Hourly => "hourly",
            Span::Daily => "daily",
        }
    }

    fn label(self, point: &UsagePoint) -> String {
        match self {
            Span::Hourly => point.start.format("%H:00").to_string(),
            Span::Daily => point.start.format("%b %-d").to_string(),
        }
    }

    fn bucket(self, point: &UsagePoint) -> String {
        match self {
            Span::Hourly => point.start.format("%Y-%m-%d %H:00 UTC").to_string(),
            Span::Daily => point.start.format("%Y-%m-%d (UTC)").to_string(),
        }
    }

    fn period(self) -> &'static str {
        match self {
            Span::Hourly => "the last 24 hours",
            Span::Daily => "the last 30 days",
        }
    }
}

fn plural(n: i64, one: &str, many: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {many}") }
}

/// Successes and refusals per bucket, stacked.
#[component]
pub fn UsageChart(title: &'static str, span: Span, points: Vec<UsagePoint>) -> impl IntoView {
    let requests: i64 = points.iter().map(|p| p.requests).sum();
    let refusals: i64 = points.iter().map(|p| p.refusals).sum();
    let top = nice_ceiling(points.iter().map(|p| p.requests + p.refusals).max().unwrap_or(0));
    let width = points.len().max(1) * 10;
    let height = |n: i64| n as f64 * 100.0 / top as f64;
    let summary =
        format!("{} and {} in {}", plural(requests, "request", "requests"), plural(refusals, "refusal", "refusals"), span.period());
    let ticks = [0, points.len() / 4, points.len() / 2, points.len() * 3 / 4, points.len().saturating_sub(1)];
    let x_labels: Vec<String> = ticks.iter().filter_map(|i| points.get(*i)).map(|p| span.label(p)).collect();
    let bars = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let x = i as f64 * 10.0 + 1.5;
            let ok = height(p.requests);
            let bad = height(p.refusals);
            let tip = format!(
                "{}: {}, {}",
                span.bucket(p),
                plural(p.requests, "request", "requests"),
                plural(p.refusals, "refusal", "refusals")
            );
            view! {
                <g>
                    <title>{tip}</title>
                    <rect x=(i * 10).to_string() y="0" width="10" height="100" class="fill-transparent hover:fill-slate-400/20"/>
                    <rect x=x.to_string() y=format!("{:.3}", 100.0 - ok) width="7" height=format!("{ok:.3}") class="fill-indigo-500 dark:fill-indigo-400"/>
                    <rect x=x.to_string() y=format!("{:.3}", 100.0 - ok - bad) width="7" height=format!("{bad:.3}") class="fill-rose-500 dark:fill-rose-400"/>
                </g>
            }
        })
        .collect_view();
    let rows = points
        .iter()
        .rev()
        .filter(|p| p.requests + p.refusals > 0)
        .map(|p| {
            view! {
                <tr>
                    <td class="whitespace-nowrap py-1 pr-4">{span.bucket(p)}</td>
                    <td class="py-1 pr-4 text-right tabular-nums">{p.requests}</td>
                    <td class="py-1 text-right tabular-nums">{p.refusals}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <figure class=CHART_CARD data-chart=span.key() data-requests=requests.to_string() data-refusals=refusals.to_string()>
            <figcaption class="mb-3 flex flex-wrap items-baseline justify-between gap-2">
                <span class="text-sm font-semibold text-slate-900 dark:text-white">{title}</span>
                <span class="flex items-center gap-3 text-xs text-slate-600 dark:text-slate-400">
                    <span class="inline-flex items-center gap-1"><span class="h-2.5 w-2.5 rounded-sm bg-indigo-500"></span>{format!("Requests {requests}")}</span>
                    <span class="inline-flex items-center gap-1"><span class="h-2.5 w-2.5 rounded-sm bg-rose-500"></span>{format!("Refused {refusals}")}</span>
                </span>
            </figcaption>
            <div class="flex min-w-0 gap-2">
                <div class="flex h-36 w-8 shrink-0 flex-col justify-between text-right text-xs tabular-nums text-slate-500" aria-hidden="true">
                    <span class="-mt-2">{top}</span>
                    <span>{if top % 2 == 0 { (top / 2).to_string() } else { String::new() }}</span>
                    <span class="-mb-2">"0"</span>
                </div>
                <div class="relative min-w-0 flex-1">
                {(requests + refusals == 0).then(|| view! {
                    <p class="absolute inset-0 grid place-items-center text-xs text-slate-500">"No requests yet"</p>
                })}
                <svg viewBox=format!("0 0 {width} 100") preserveAspectRatio="none" role="img" aria-label=summary.clone()
                    class="block h-36 w-full overflow-hidden border-b border-l border-slate-300 dark:border-slate-600">
                    <line x1="0" x2=width.to_string() y1="0" y2="0" vector-effect="non-scaling-stroke" class="stroke-slate-200 dark:stroke-slate-700" stroke-dasharray="3 3"/>
                    <line x1="0" x2=width.to_string() y1="50" y2="50" vector-effect="non-scaling-stroke" class="stroke-slate-200 dark:stroke-slate-700" stroke-dasharray="3 3"/>
                    {bars}
                </svg>
                </div>
            </div>
            <div class="ml-10 mt-1 flex justify-between text-xs text-slate-500" aria-hidden="true">
                {x_labels.into_iter().map(|l| view! { <span>{l}</span> }).collect_view()}
            </div>
            <details class="mt-3 text-xs">
                <summary class="cursor-pointer text-slate-600 hover:text-slate-900 focus-visible:outline-none focus-visible:ring-4 focus-visible:ring-indigo-500/40 dark:text-slate-400">{summary}" — show the numbers"</summary>
                {if requests + refusals == 0 {
                    view! { <p class="mt-2 text-slate-500">"Nothing yet."</p> }.into_any()
                } else {
                    view! {
                        <table class="mt-2 text-slate-700 dark:text-slate-300">
                            <thead><tr class="text-left text-slate-500">
                                <th scope="col" class="py-1 pr-4 font-medium">{match span { Span::Hourly => "Hour", Span::Daily => "Day" }}</th>
                                <th scope="col" class="py-1 pr-4 text-right font-medium">"Requests"</th>
                                <th scope="col" class="py-1 text-right font-medium">"Refused"</th>
                            </tr></thead>
                            <tbody>{rows}</tbody>
                        </table>
                    }.into_any()
                }}
            </details>
        </figure>
    }
    .into_any()
}

const CHART_CARD: &str = "min-w-0 rounded-xl border border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900";

/// A token's requests per hour over the last day, small enough for a table cell.
#[component]
pub fn Sparkline(counts: Vec<i64>) -> impl IntoView {
    let total: i64 = counts.iter().sum();
    let top = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = 80.0 / (counts.len().max(2) - 1) as f64;
    let line = counts
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{:.1},{:.1}", i as f64 * step, 18.0 - *n as f64 * 16.0 / top))
        .collect::<Vec<_>>()
        .join(" ");
    let label = format!("{} in the last 24 hours", plural(total, "request", "requests"));
    view! {
        <svg viewBox="0 0 80 20" class="h-5 w-20" role="img" aria-label=label.clone() data-sparkline=total.to_string()>
            <title>{label.clone()}</title>
            <polyline points=line fill="none" stroke-width="1.5" stroke-linejoin="round" vector-effect="non-scaling-stroke"
                class={if total > 0 { "stroke-indigo-500 dark:stroke-indigo-400" } else { "stroke-slate-300 dark:stroke-slate-600" }}/>
        </svg>
    }
    .into_any()
}

/// Why a server's requests were refused, over the last day and month.
#[component]
pub fn RefusalReasons(counts: Vec<RefusalCount>) -> impl IntoView {
    view! {
        <div class="overflow-x-auto rounded-xl border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
            <table class="min-w-full text-left text-sm" data-testid="refusal-reasons">
                <thead class="bg-slate-50 text-xs uppercase tracking-wide text-slate-500 dark:bg-slate-800/50 dark:text-slate-400">
                    <tr>
                        <th scope="col" class="px-4 py-2 font-medium">"Reason"</th>
                        <th scope="col" class="px-4 py-2 text-right font-medium">"Last 24 h"</th>
                        <th scope="col" class="px-4 py-2 text-right font-medium">"Last 30 days"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                    {counts.into_iter().map(|c| view! {
                        <tr data-reason=c.reason.clone()>
                            <td class="px-4 py-2">{reason_label(&c.reason)}</td>
                            <td class="px-4 py-2 text-right tabular-nums">{c.last_day}</td>
                            <td class="px-4 py-2 text-right tabular-nums">{c.last_30_days}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

/// The most-called tools over the last 30 days: calls let through and refused by a tool rule.
#[component]
pub fn ToolCounts(counts: Vec<super::domain::ToolCount>) -> impl IntoView {
    if counts.is_empty() {
        return view! { <p class="text-sm text-slate-500" data-testid="tool-counts">"No tool calls in the last 30 days."</p> }.into_any();
    }
    view! {
        <div class="overflow-x-auto rounded-xl border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
            <table class="min-w-full text-left text-sm" data-testid="tool-counts">
                <thead class="bg-slate-50 text-xs uppercase tracking-wide text-slate-500 dark:bg-slate-800/50 dark:text-slate-400">
                    <tr>
                        <th scope="col" class="px-4 py-2 font-medium">"Tool"</th>
                        <th scope="col" class="px-4 py-2 text-right font-medium">"Calls"</th>
                        <th scope="col" class="px-4 py-2 text-right font-medium">"Refused"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                    {counts.into_iter().map(|c| view! {
                        <tr data-tool-count=c.tool.clone()>
                            <td class="px-4 py-2"><code class="font-mono text-xs">{c.tool.clone()}</code></td>
                            <td class="px-4 py-2 text-right tabular-nums">{c.calls}</td>
                            <td class="px-4 py-2 text-right tabular-nums">{c.refusals}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
