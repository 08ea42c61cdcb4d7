//! A small terminal bar chart of blocked attempts per hour, for the CLI.

use crate::counters::Counters;

const HEIGHT: u64 = 6;
const BLOCKS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// Renders the last 24 hours of blocked attempts as a bar chart, one column
/// per hour, the current hour at the right, hours labelled in local time
/// (`utc_offset_minutes` from UTC).
pub fn render_hourly_chart(
    counters: &Counters,
    now_unix_ms: u64,
    utc_offset_minutes: i32,
) -> String {
    let counts = counters.hourly(now_unix_ms, 24);
    let max = counts.iter().copied().max().unwrap_or(0);
    let label_width = max.to_string().len().max(1);
    let mut out = format!(
        "blocked per hour, last 24 h (total {})\n",
        counts.iter().sum::<u64>()
    );
    // Each bar in eighths of a row; anything above zero shows at least one eighth.
    let eighths: Vec<u64> = counts
        .iter()
        .map(|&c| {
            if max == 0 || c == 0 {
                0
            } else {
                (c * HEIGHT * 8).div_ceil(max).max(1)
            }
        })
        .collect();
    for row in (0..HEIGHT).rev() {
        let label = if row == HEIGHT - 1 {
            max.to_string()
        } else {
            String::new()
        };
        out.push_str(&format!("{label:>label_width$} ┤"));
        for e in &eighths {
            let level = e.saturating_sub(row * 8).min(8) as usize;
            out.push(BLOCKS.get(level).copied().unwrap_or(' '));
            out.push(' ');
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "{:>label_width$} ┼{}\n",
        0,
        "──".repeat(counts.len())
    ));
    // Hour labels every 6 columns, aligned under their bar.
    let offset_hours = i64::from(utc_offset_minutes).div_euclid(60);
    let now_hour = (now_unix_ms / 3_600_000) as i64 + offset_hours;
    let mut axis = " ".repeat(label_width + 2);
    let n = counts.len() as i64;
    for i in 0..n {
        let hour = (now_hour - (n - 1 - i)).rem_euclid(24);
        if i % 6 == 0 {
            axis.push_str(&format!("{hour:02}"));
        } else {
            axis.push_str("  ");
        }
    }
    out.push_str(axis.trim_end());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Action, JournalEntry, Reason};

    #[test]
    fn chart_shows_bars_and_hours() {
        let mut c = Counters::default();
        let now = 1_700_000_000_000 / 3_600_000 * 3_600_000;
        let e = JournalEntry {
            time_unix_ms: now,
            name: "a.com".into(),
            qtype: 1,
            action: Action::Blocked,
            reason: Reason::Canary,
            client: "10.0.0.2".parse().unwrap(),
            app: None,
            count: 1,
        };
        c.count(&e, 12, now);
        c.count(&e, 3, now - 3_600_000);
        let chart = render_hourly_chart(&c, now, 0);
        let lines: Vec<&str> = chart.lines().collect();
        assert_eq!(lines.len(), 1 + 6 + 1 + 1, "{chart}");
        assert!(lines[0].contains("total 15"));
        assert!(lines[1].starts_with("12 ┤"));
        assert!(lines[1].trim_end().ends_with('█'));
        // The 3 of the hour before is a quarter of 12: one and a half rows.
        assert!(lines[6].trim_end().ends_with("█ █"));
        assert!(lines[8].contains("23"), "{chart}");
        assert!(render_hourly_chart(&Counters::default(), now, 0).contains("total 0"));
    }
}
