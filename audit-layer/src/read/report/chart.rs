//! Inline SVG charts: activity over time, and volume per actor. Labels are
//! escaped like every other value of the page.

use std::fmt::Write;

use crate::read::report::escape::escape;
use crate::read::report::model::{ActivityBucket, ActorAccess};

/// A column chart of records per time bucket.
pub(crate) fn activity(buckets: &[ActivityBucket]) -> String {
    if buckets.is_empty() {
        return String::new();
    }
    let (width, height, pad) = (720.0, 180.0, 30.0);
    let max = buckets.iter().map(|b| b.records).max().unwrap_or(1).max(1) as f64;
    let step = (width - 2.0 * pad) / buckets.len() as f64;
    let mut svg = format!(
        r##"<svg class="chart" role="img" aria-label="Records over time" viewBox="0 0 {width} {height}" width="100%" xmlns="http://www.w3.org/2000/svg">"##
    );
    for (n, bucket) in buckets.iter().enumerate() {
        let h = (height - 2.0 * pad) * bucket.records as f64 / max;
        let x = pad + step * n as f64;
        let y = height - pad - h;
        let _ = write!(
            svg,
            r##"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}" fill="#3b6ea5"><title>{}: {} record(s)</title></rect>"##,
            (step * 0.8).max(0.5),
            escape(&bucket.start.to_string()),
            bucket.records
        );
    }
    let first = escape(&buckets[0].start.to_string());
    let last = escape(&buckets[buckets.len() - 1].start.to_string());
    let _ = write!(
        svg,
        r##"<line x1="{pad}" y1="{y}" x2="{x2}" y2="{y}" stroke="#555"/><text x="{pad}" y="{ty}" font-size="10">{first}</text><text x="{x2}" y="{ty}" font-size="10" text-anchor="end">{last}</text><text x="{pad}" y="{top}" font-size="10">{max} per bar at most</text></svg>"##,
        y = height - pad,
        x2 = width - pad,
        ty = height - pad + 14.0,
        top = pad - 10.0,
        max = max as u64,
    );
    svg
}

/// Horizontal bars of records per actor, the busiest first (at most 15).
pub(crate) fn actors(actors: &[ActorAccess]) -> String {
    let shown: Vec<&ActorAccess> = actors.iter().take(15).collect();
    if shown.is_empty() {
        return String::new();
    }
    let (width, row) = (720.0, 20.0);
    let height = row * shown.len() as f64 + 10.0;
    let max = shown
        .iter()
        .map(|a| a.reads + a.changes)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let label_width = 220.0;
    let mut svg = format!(
        r##"<svg class="chart" role="img" aria-label="Records per actor" viewBox="0 0 {width} {height}" width="100%" xmlns="http://www.w3.org/2000/svg">"##
    );
    for (n, actor) in shown.iter().enumerate() {
        let total = actor.reads + actor.changes;
        let y = 5.0 + row * n as f64;
        let w = (width - label_width - 60.0) * total as f64 / max;
        let name: String = actor.actor.chars().take(22).collect();
        let colour = if actor.outlier { "#b03030" } else { "#3b6ea5" };
        let _ = write!(
            svg,
            r##"<text x="{lx}" y="{ty:.1}" font-size="11" text-anchor="end">{}</text><rect x="{label_width}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{colour}"/><text x="{vx:.1}" y="{ty:.1}" font-size="11">{total}</text>"##,
            escape(&name),
            lx = label_width - 6.0,
            ty = y + 13.0,
            h = row - 6.0,
            vx = label_width + w + 4.0,
        );
    }
    svg.push_str("</svg>");
    svg
}
