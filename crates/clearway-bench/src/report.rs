//! Turning rounds of measurements into the report: medians per row with HAProxy's stability
//! rule, ratios, the markdown table for docs/benchmarks.md and the PNG chart. Owns the
//! arithmetic and the presentation; must not run anything.

use crate::proxy::Kind;
use plotters::prelude::*;

/// Whether a bigger figure is better (rates) or worse (latency, memory, CPU).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// One figure of one round.
#[derive(Debug, Clone)]
pub struct Sample {
    pub leg: String,
    pub variant: &'static str,
    pub metric: String,
    pub unit: &'static str,
    pub better: Better,
    pub kind: Kind,
    pub round: u32,
    pub value: f64,
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    pub leg: String,
    pub variant: &'static str,
    pub metric: String,
    pub unit: &'static str,
    pub better: Better,
    pub clearway: Option<f64>,
    pub haproxy: Option<f64>,
    pub direct: Option<f64>,
    /// Rounds used / rounds measured.
    pub used: usize,
    pub rounds: usize,
    /// Clearway's figure over HAProxy's in each kept round where both were measured.
    pub per_round: Vec<f64>,
}

/// How Clearway did against HAProxy round by round, on one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// At least as good in every kept round.
    Ahead,
    /// Worse in every kept round.
    Behind,
    /// Better in some rounds and worse in others: the machine's noise decides this row.
    Mixed,
}

impl Row {
    /// Clearway relative to HAProxy, as "better than" (> 1 is better whatever the unit).
    pub fn score(&self) -> Option<f64> {
        let (c, h) = (self.clearway?, self.haproxy?);
        match self.better {
            Better::Higher if h > 0.0 => Some(c / h),
            Better::Lower if c > 0.0 => Some(h / c),
            _ => None,
        }
    }

    /// Whether Clearway was ahead in every kept round, behind in every one, or neither.
    /// None when no round measured both.
    pub fn verdict(&self) -> Option<Verdict> {
        let ahead = |r: &f64| match self.better {
            Better::Higher => *r >= 1.0,
            Better::Lower => *r <= 1.0,
        };
        match self.per_round.iter().filter(|r| ahead(r)).count() {
            _ if self.per_round.is_empty() => None,
            n if n == self.per_round.len() => Some(Verdict::Ahead),
            0 => Some(Verdict::Behind),
            _ => Some(Verdict::Mixed),
        }
    }
}

pub fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Medians per row, in the order rows were first measured. A round whose HAProxy figure is
/// more than 10% from HAProxy's median for that row is left out for every proxy of that row.
pub fn rows(samples: &[Sample]) -> Vec<Row> {
    let mut keys: Vec<(String, &'static str, String)> = Vec::new();
    for s in samples {
        let k = (s.leg.clone(), s.variant, s.metric.clone());
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys.into_iter()
        .map(|(leg, variant, metric)| {
            let of = |kind: Kind| -> Vec<&Sample> {
                samples
                    .iter()
                    .filter(|s| s.leg == leg && s.variant == variant && s.metric == metric && s.kind == kind)
                    .collect()
            };
            let first = samples
                .iter()
                .find(|s| s.leg == leg && s.variant == variant && s.metric == metric)
                .expect("a sample");
            let ha = of(Kind::Haproxy);
            let ha_median = median(&mut ha.iter().map(|s| s.value).collect::<Vec<_>>());
            let rounds: Vec<u32> = {
                let mut r: Vec<u32> = samples
                    .iter()
                    .filter(|s| s.leg == leg && s.variant == variant && s.metric == metric)
                    .map(|s| s.round)
                    .collect();
                r.sort_unstable();
                r.dedup();
                r
            };
            let kept: Vec<u32> = rounds
                .iter()
                .copied()
                .filter(|r| match (ha_median, ha.iter().find(|s| s.round == *r)) {
                    (Some(m), Some(s)) if m != 0.0 => ((s.value - m) / m).abs() <= 0.10,
                    _ => true,
                })
                .collect();
            let med = |kind: Kind| {
                median(
                    &mut of(kind)
                        .into_iter()
                        .filter(|s| kept.contains(&s.round))
                        .map(|s| s.value)
                        .collect::<Vec<_>>(),
                )
            };
            let per_round = kept
                .iter()
                .filter_map(|r| {
                    let at = |kind: Kind| of(kind).into_iter().find(|s| s.round == *r).map(|s| s.value);
                    match (at(Kind::Clearway), at(Kind::Haproxy)) {
                        (Some(c), Some(h)) if h != 0.0 => Some(c / h),
                        _ => None,
                    }
                })
                .collect();
            Row {
                leg: leg.clone(),
                variant,
                metric: metric.clone(),
                unit: first.unit,
                better: first.better,
                clearway: med(Kind::Clearway),
                haproxy: med(Kind::Haproxy),
                direct: med(Kind::Direct),
                used: kept.len(),
                rounds: rounds.len(),
                per_round,
            }
        })
        .collect()
}

fn fmt(v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(x) if x >= 100.0 => format!("{x:.0}"),
        Some(x) if x >= 10.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.2}"),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => format!("{:.2}", a / b),
        _ => "–".into(),
    }
}

/// The markdown report.
pub fn markdown(rows: &[Row], versions: &[(String, String)], command: &str, png: &str) -> String {
    let mut out = String::from("# Benchmarks: Clearway, HAProxy and the direct path\n\n");
    out.push_str(&format!(
        "Produced by `{command}` (`crates/clearway-bench`). Each figure is the median of the rounds \
         kept; rounds alternate which proxy runs first, and a round whose HAProxy figure is more \
         than 10% from HAProxy's median for that row is left out for that row. Both proxies run \
         the same configuration text (`crates/clearway-bench/src/proxy.rs`). \"1 core\" pins each \
         proxy, with one thread, to CPU 0 and the client and servers to CPU 1; \"2 threads\" runs \
         both with two threads, unpinned. *Clearway/HAProxy* is above 1 when Clearway does better \
         for rates and below 1 when it does better for latency, memory and CPU. *Per round* is the \
         lowest and highest of that ratio over the rounds kept, each taken within one round: a \
         row whose range spans 1 was won in some rounds and lost in others. Each optimisation's \
         figures before and after are summed up at the end of `docs/benchmarks.md`, and told in \
         full, with the runs between, in `docs/optimisations.md`.\n\n"
    ));
    out.push_str("## Machine and versions\n\n");
    for (k, v) in versions {
        out.push_str(&format!("- {k}: {v}\n"));
    }
    out.push_str(&format!("\n![Clearway relative to HAProxy]({png})\n\n## Results\n\n"));
    out.push_str("| leg | config | measure | unit | Clearway | HAProxy | direct | Clearway/HAProxy | per round | Clearway/direct | rounds kept |\n");
    out.push_str("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{} |\n",
            r.leg,
            r.variant,
            r.metric,
            r.unit,
            fmt(r.clearway),
            fmt(r.haproxy),
            fmt(r.direct),
            ratio(r.clearway, r.haproxy),
            range(&r.per_round),
            ratio(r.clearway, r.direct),
            r.used,
            r.rounds
        ));
    }
    out.push_str(&summary(rows));
    out
}

/// "0.91-1.12": the lowest and highest of `v`.
fn range(v: &[f64]) -> String {
    let lo = v.iter().copied().reduce(f64::min);
    let hi = v.iter().copied().reduce(f64::max);
    match (lo, hi) {
        (Some(lo), Some(hi)) => format!("{lo:.2}-{hi:.2}"),
        _ => "–".into(),
    }
}

/// The line below which a report file is written by hand (the record of each optimisation,
/// before and after): a new run rewrites what is above it and keeps the rest.
pub const KEPT_BELOW: &str = "<!-- Written by hand from here on: a new run of the benchmark keeps what follows. -->";

/// The line number of `text`'s `KEPT_BELOW` line, if it has one.
pub fn kept_from(text: &str) -> Option<usize> {
    text.lines().position(|l| l.trim_end() == KEPT_BELOW)
}

/// `report` followed by the hand-written part of `previous` (the file it replaces), from
/// the `KEPT_BELOW` line on; `report` alone when there is none.
pub fn with_kept_part(report: &str, previous: Option<&str>) -> String {
    let kept = previous.and_then(|p| {
        let at = kept_from(p)?;
        Some(p.lines().skip(at).collect::<Vec<_>>().join("\n"))
    });
    match kept {
        Some(k) => format!("{}\n\n{k}\n", report.trim_end()),
        None => report.to_string(),
    }
}

/// How many rows Clearway won in every kept round, lost in every one, or neither; the
/// rows lost in every round are named.
fn summary(rows: &[Row]) -> String {
    let with = |v: Verdict| -> Vec<&Row> { rows.iter().filter(|r| r.verdict() == Some(v)).collect() };
    let (ahead, behind, mixed) = (with(Verdict::Ahead), with(Verdict::Behind), with(Verdict::Mixed));
    let mut out = format!(
        "\nRound by round: Clearway at least as good as HAProxy in every kept round on {} rows, \
         worse in every kept round on {}, and ahead in some rounds and behind in others on {}.\n",
        ahead.len(),
        behind.len(),
        mixed.len()
    );
    if !behind.is_empty() {
        out.push_str("\nWorse in every kept round:\n\n");
        for r in behind {
            out.push_str(&format!("- {} / {} / {}\n", r.leg, r.variant, r.metric));
        }
    }
    out
}

/// The same figures as a chart: Clearway's score against HAProxy per row (1 = equal; right of
/// the line is better), one bar per row.
pub fn chart(rows: &[Row], path: &std::path::Path) -> Result<(), String> {
    let font = std::fs::read("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
        .map_err(|e| format!("the chart needs Debian's fonts-dejavu-core: {e}"))?;
    let font: &'static [u8] = Box::leak(font.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, font).map_err(|_| "bad font".to_string())?;
    let scored: Vec<(String, f64)> = rows
        .iter()
        .filter_map(|r| Some((format!("{} {} {}", r.leg, r.variant, r.metric), r.score()?)))
        .collect();
    let height = 120 + 22 * scored.len() as u32;
    let root = BitMapBackend::new(path, (1400, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let max = scored.iter().map(|(_, s)| *s).fold(1.5f64, f64::max).min(5.0) * 1.1;
    let n = scored.len().max(1);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Clearway relative to HAProxy (1 = equal, right of 1 = Clearway better)",
            ("sans-serif", 22),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(560)
        .build_cartesian_2d(0f64..max, 0..n)
        .map_err(|e| e.to_string())?;
    let labels: Vec<String> = scored.iter().map(|(l, _)| l.clone()).collect();
    chart
        .configure_mesh()
        .y_labels(n)
        .y_label_formatter(&|i| labels.get(*i).cloned().unwrap_or_default())
        .y_label_style(("sans-serif", 13))
        .x_desc("ratio")
        .draw()
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(scored.iter().enumerate().map(|(i, (_, s))| {
            let color = if *s >= 1.0 { GREEN.mix(0.7) } else { RED.mix(0.7) };
            Rectangle::new([(0.0, i), (s.min(max), i + 1)], color.filled())
        }))
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(1.0, 0), (1.0, n)],
            BLACK.stroke_width(2),
        )))
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(kind: Kind, round: u32, value: f64) -> Sample {
        Sample {
            leg: "1 core".into(),
            variant: "plain",
            metric: "req/s".into(),
            unit: "req/s",
            better: Better::Higher,
            kind,
            round,
            value,
        }
    }

    #[test]
    fn unstable_haproxy_rounds_are_left_out() {
        let samples = vec![
            s(Kind::Haproxy, 0, 100.0),
            s(Kind::Clearway, 0, 120.0),
            s(Kind::Haproxy, 1, 102.0),
            s(Kind::Clearway, 1, 118.0),
            s(Kind::Haproxy, 2, 150.0),
            s(Kind::Clearway, 2, 10.0),
        ];
        let r = &rows(&samples)[0];
        assert_eq!((r.used, r.rounds), (2, 3));
        assert_eq!(r.haproxy, Some(101.0));
        assert_eq!(r.clearway, Some(119.0));
        assert!((r.score().unwrap() - 119.0 / 101.0).abs() < 1e-9);
    }

    #[test]
    fn each_round_is_compared_within_itself() {
        let samples = vec![
            s(Kind::Haproxy, 0, 100.0),
            s(Kind::Clearway, 0, 105.0),
            s(Kind::Haproxy, 1, 95.0),
            s(Kind::Clearway, 1, 90.0),
            s(Kind::Haproxy, 2, 104.0),
            s(Kind::Clearway, 2, 130.0),
        ];
        let r = &rows(&samples)[0];
        assert_eq!(r.per_round.len(), 3);
        assert_eq!(range(&r.per_round), "0.95-1.25");
        assert_eq!(r.verdict(), Some(Verdict::Mixed));
        let md = markdown(std::slice::from_ref(r), &[], "bench", "x.png");
        assert!(md.contains("| 0.95-1.25 |"), "{md}");
        assert!(md.contains("ahead in some rounds and behind in others on 1"), "{md}");
    }

    #[test]
    fn a_rewritten_report_keeps_the_hand_written_part() {
        let previous = format!("# old run\n| a | 1 |\n\n{KEPT_BELOW}\n## Before and after\n| x | 2 | 3 |\n");
        let new = with_kept_part("# new run\n| a | 5 |\n", Some(&previous));
        assert!(new.starts_with("# new run\n| a | 5 |\n"), "{new}");
        assert!(!new.contains("old run"), "{new}");
        assert!(
            new.ends_with(&format!("{KEPT_BELOW}\n## Before and after\n| x | 2 | 3 |\n")),
            "{new}"
        );
        // Nothing to keep: no marker, or no previous file.
        assert_eq!(with_kept_part("# new\n", Some("# old\n")), "# new\n");
        assert_eq!(with_kept_part("# new\n", None), "# new\n");
    }

    #[test]
    fn a_row_lost_in_every_round_is_named() {
        let mut v = vec![s(Kind::Haproxy, 0, 100.0), s(Kind::Clearway, 0, 120.0)];
        for x in &mut v {
            x.better = Better::Lower;
        }
        let r = &rows(&v)[0];
        assert_eq!(r.verdict(), Some(Verdict::Behind));
        let md = markdown(std::slice::from_ref(r), &[], "bench", "x.png");
        assert!(
            md.contains("Worse in every kept round:\n\n- 1 core / plain / req/s"),
            "{md}"
        );
    }

    #[test]
    fn lower_is_better_scores_inverted() {
        let mut a = s(Kind::Clearway, 0, 50.0);
        let mut b = s(Kind::Haproxy, 0, 100.0);
        a.better = Better::Lower;
        b.better = Better::Lower;
        assert_eq!(rows(&[a, b])[0].score(), Some(2.0));
    }
}
