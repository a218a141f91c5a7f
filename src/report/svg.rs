//! Charts as inline SVG for the HTML report and `history --format svg`.
//!
//! Drawn here rather than with a plotting crate because the charts must take their colours
//! from the page (classes styled by [`CHART_CSS`], so they follow dark mode and print in
//! black on white), carry a `<title>` and `<desc>` for screen readers and a `<title>` on
//! every point for its numbers, and stay small: a chart is a few kilobytes of paths, long
//! histories are thinned to [`MAX_POINTS`] per line (every marked point kept), and nothing
//! needs a script to be read.
//!
//! Every element a reader or a test counts has its own class: `point`, `whisker`, `band`,
//! `marker suspected|confirmed|resolved`, `rule environment|lineage`, `change-point`.

use std::fmt::Write;

/// Points per line beyond which a line is thinned (each bucket keeps its lowest and
/// highest point, so spikes and steps survive; marked points are always kept).
pub(crate) const MAX_POINTS: usize = 400;

/// The chart classes' look, shared by the HTML page and standalone SVG files. Colours come
/// from custom properties the page sets for light and dark mode.
pub(crate) const CHART_CSS: &str = "
svg.chart { font: 11px system-ui, sans-serif; }
svg.chart text { fill: var(--fg, #1b1f24); }
svg.chart .axis, svg.chart .tick { stroke: var(--muted, #6e7781); stroke-width: 1; }
svg.chart .grid { stroke: var(--grid, #d8dee4); stroke-width: 1; }
svg.chart .line { fill: none; stroke: var(--accent, #0969da); stroke-width: 1.5; }
svg.chart .line.p90 { stroke: var(--warn, #bf8700); }
svg.chart .line.p99 { stroke: var(--bad, #cf222e); }
svg.chart .point { fill: var(--accent, #0969da); }
svg.chart .point.failed { fill: var(--bad, #cf222e); }
svg.chart .point.quick, svg.chart .point.busy { fill: var(--muted, #6e7781); }
svg.chart .point.confirmation { fill: var(--bg, #ffffff); stroke: var(--accent, #0969da); stroke-width: 1.5; }
svg.chart .whisker { stroke: var(--accent, #0969da); stroke-width: 1; opacity: 0.6; }
svg.chart .band { fill: var(--good, #1a7f37); opacity: 0.15; }
svg.chart .band-level { stroke: var(--good, #1a7f37); stroke-dasharray: 4 3; }
svg.chart .marker.suspected { fill: var(--warn, #bf8700); }
svg.chart .marker.confirmed { fill: var(--bad, #cf222e); }
svg.chart .marker.resolved { fill: var(--good, #1a7f37); }
svg.chart .rule.environment { stroke: var(--env, #8250df); stroke-width: 1.5; stroke-dasharray: 2 2; }
svg.chart .rule.lineage { stroke: var(--muted, #6e7781); stroke-width: 1.5; }
svg.chart .change-point { stroke: var(--bad, #cf222e); stroke-width: 1; stroke-dasharray: 6 3; }
svg.chart .box { fill: var(--accent, #0969da); fill-opacity: 0.15; stroke: var(--accent, #0969da); }
svg.chart .box.after { fill: var(--bad, #cf222e); stroke: var(--bad, #cf222e); }
svg.chart .sample { fill: var(--accent, #0969da); opacity: 0.5; }
svg.chart .sample.after { fill: var(--bad, #cf222e); }
svg.chart .median-mark { stroke: var(--fg, #1b1f24); stroke-width: 2; }
svg.spark .line { fill: none; stroke-width: 1.5; stroke: var(--muted, #6e7781); }
svg.spark.regression .line { stroke: var(--bad, #cf222e); }
svg.spark.suspected .line { stroke: var(--warn, #bf8700); }
svg.spark.improvement .line { stroke: var(--good, #1a7f37); }
svg.spark.ok .line { stroke: var(--accent, #0969da); }
";

/// Escapes text for XML and HTML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// One point of a line over time.
#[derive(Debug, Clone)]
pub(crate) struct TimePoint {
    /// Seconds since the epoch.
    pub x: f64,
    pub y: f64,
    /// Its interval, drawn as a whisker.
    pub interval: Option<(f64, f64)>,
    /// Extra classes of the dot (`failed`, `quick`, `busy`, `confirmation`).
    pub class: &'static str,
    /// Hover text and text alternative of the dot.
    pub label: String,
    /// Never thinned away (a marked run).
    pub keep: bool,
}

/// One line of a time chart.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    /// Extra class of the path (`p90`, `p99`), empty for the main line.
    pub class: &'static str,
    pub name: String,
    /// Drawn as steps (a level holds until the next run) rather than straight segments.
    pub steps: bool,
    /// Dots at each point.
    pub dots: bool,
    pub points: Vec<TimePoint>,
}

/// The baseline band: level ± the effective tolerance, over the runs it covers.
#[derive(Debug, Clone)]
pub(crate) struct Band {
    pub from: f64,
    pub to: f64,
    pub level: f64,
    pub low: f64,
    pub high: f64,
    pub label: String,
}

/// A vertical rule across the chart at a moment.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub x: f64,
    /// `environment`, `lineage` or `change-point`.
    pub class: &'static str,
    pub label: String,
}

/// A regression's transition at a run.
#[derive(Debug, Clone)]
pub(crate) struct Marker {
    pub x: f64,
    pub y: f64,
    /// `suspected`, `confirmed` or `resolved`.
    pub class: &'static str,
    pub label: String,
}

/// A chart of values over time with everything a regression needs around them.
pub(crate) struct TimeChart<'a> {
    pub title: String,
    /// The text alternative: what the chart shows, in words.
    pub description: String,
    pub lines: Vec<Line>,
    pub bands: Vec<Band>,
    pub rules: Vec<Rule>,
    pub markers: Vec<Marker>,
    /// Tick labels of the value axis.
    pub value_label: &'a dyn Fn(f64) -> String,
    pub width: f64,
    pub height: f64,
}

const LEFT: f64 = 116.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 22.0;
const BOTTOM: f64 = 30.0;

/// Linear map of `[d0, d1]` onto `[r0, r1]`.
#[derive(Clone, Copy)]
struct Scale {
    d0: f64,
    d1: f64,
    r0: f64,
    r1: f64,
}

impl Scale {
    fn at(&self, v: f64) -> f64 {
        if self.d1 == self.d0 {
            return (self.r0 + self.r1) / 2.0;
        }
        self.r0 + (v - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0)
    }
}

/// `[min, max]` of `values` widened so a flat series still has a visible range.
fn padded_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return None;
    }
    let span = hi - lo;
    let pad = if span > 0.0 {
        span * 0.08
    } else if lo != 0.0 {
        lo.abs() * 0.05
    } else {
        1.0
    };
    Some((lo - pad, hi + pad))
}

/// About `n` round tick values over `[lo, hi]`.
fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let span = hi - lo;
    if span <= 0.0 || !span.is_finite() {
        return vec![lo];
    }
    let raw = span / n as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let mut v = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while v <= hi + step * 1e-9 && out.len() < 20 {
        out.push(v);
        v += step;
    }
    out
}

/// Thins `points` to at most about [`MAX_POINTS`]: per bucket of consecutive points, the
/// lowest and the highest (in order), and every point marked `keep`.
pub(crate) fn thin(points: &[TimePoint]) -> Vec<TimePoint> {
    if points.len() <= MAX_POINTS {
        return points.to_vec();
    }
    let buckets = MAX_POINTS / 2;
    let size = points.len().div_ceil(buckets);
    let mut out = Vec::with_capacity(MAX_POINTS + 16);
    for chunk in points.chunks(size) {
        let lowest = (0..chunk.len())
            .min_by(|a, b| chunk[*a].y.total_cmp(&chunk[*b].y))
            .unwrap_or(0);
        let highest = (0..chunk.len())
            .max_by(|a, b| chunk[*a].y.total_cmp(&chunk[*b].y))
            .unwrap_or(0);
        for (i, p) in chunk.iter().enumerate() {
            if i == lowest || i == highest || p.keep {
                out.push(p.clone());
            }
        }
    }
    out
}

fn date_label(x: f64) -> String {
    chrono::DateTime::from_timestamp(x as i64, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

impl TimeChart<'_> {
    /// The chart as one `<svg>` element.
    pub(crate) fn render(&self) -> String {
        let lines: Vec<Line> = self
            .lines
            .iter()
            .map(|l| Line {
                points: thin(&l.points),
                ..l.clone()
            })
            .collect();
        let all_x = lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.x))
            .chain(self.rules.iter().map(|r| r.x))
            .chain(self.markers.iter().map(|m| m.x));
        let (mut x0, mut x1) = (f64::INFINITY, f64::NEG_INFINITY);
        for x in all_x.filter(|x| x.is_finite()) {
            x0 = x0.min(x);
            x1 = x1.max(x);
        }
        if x0 > x1 {
            (x0, x1) = (0.0, 1.0);
        }
        if x1 - x0 < 3600.0 {
            // One run (or a few within the hour): a day either side.
            x0 -= 86_400.0;
            x1 += 86_400.0;
        }
        let values = lines
            .iter()
            .flat_map(|l| {
                l.points.iter().flat_map(|p| {
                    [p.y]
                        .into_iter()
                        .chain(p.interval.into_iter().flat_map(|(a, b)| [a, b]))
                })
            })
            .chain(self.bands.iter().flat_map(|b| [b.low, b.high]))
            .chain(self.markers.iter().map(|m| m.y));
        let (y0, y1) = padded_range(values).unwrap_or((0.0, 1.0));
        let xs = Scale {
            d0: x0,
            d1: x1,
            r0: LEFT,
            r1: self.width - RIGHT,
        };
        let ys = Scale {
            d0: y0,
            d1: y1,
            r0: self.height - BOTTOM,
            r1: TOP,
        };
        let mut s = String::new();
        let id = chart_id(&self.title);
        let _ = write!(
            s,
            r#"<svg class="chart" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}" aria-labelledby="{id}-t {id}-d"><title id="{id}-t">{title}</title><desc id="{id}-d">{desc}</desc>"#,
            w = self.width,
            h = self.height,
            title = escape(&self.title),
            desc = escape(&self.description),
        );
        // Grid and value axis.
        for t in ticks(y0, y1, 4) {
            let y = ys.at(t);
            let _ = write!(
                s,
                r#"<line class="grid" x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                self.width - RIGHT,
                LEFT - 6.0,
                y + 3.5,
                escape(&(self.value_label)(t))
            );
        }
        let bottom = self.height - BOTTOM;
        let _ = write!(
            s,
            r#"<line class="axis" x1="{LEFT}" x2="{:.1}" y1="{bottom:.1}" y2="{bottom:.1}"/>"#,
            self.width - RIGHT
        );
        let date_ticks = if x1 - x0 > 2.0 * 86_400.0 { 4 } else { 2 };
        for i in 0..=date_ticks {
            let x = x0 + (x1 - x0) * i as f64 / date_ticks as f64;
            let anchor = match i {
                0 => "start",
                i if i == date_ticks => "end",
                _ => "middle",
            };
            let _ = write!(
                s,
                r#"<line class="tick" x1="{px:.1}" x2="{px:.1}" y1="{bottom:.1}" y2="{:.1}"/><text x="{px:.1}" y="{:.1}" text-anchor="{anchor}">{}</text>"#,
                bottom + 4.0,
                bottom + 16.0,
                date_label(x),
                px = xs.at(x),
            );
        }
        for b in &self.bands {
            let (bx0, bx1) = (xs.at(b.from), xs.at(b.to).max(xs.at(b.from) + 2.0));
            let _ = write!(
                s,
                r#"<g><title>{}</title><rect class="band" x="{bx0:.1}" y="{:.1}" width="{:.1}" height="{:.1}"/><line class="band-level" x1="{bx0:.1}" x2="{bx1:.1}" y1="{ly:.1}" y2="{ly:.1}"/></g>"#,
                escape(&b.label),
                ys.at(b.high),
                bx1 - bx0,
                (ys.at(b.low) - ys.at(b.high)).max(1.0),
                ly = ys.at(b.level),
            );
        }
        for r in &self.rules {
            let x = xs.at(r.x);
            let _ = write!(
                s,
                r#"<line class="rule {class}" x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{bottom:.1}"><title>{label}</title></line>"#,
                class = r.class,
                label = escape(&r.label)
            );
        }
        for line in &lines {
            if line.points.is_empty() {
                continue;
            }
            let mut d = String::new();
            for (i, p) in line.points.iter().enumerate() {
                let (px, py) = (xs.at(p.x), ys.at(p.y));
                if i == 0 {
                    let _ = write!(d, "M{px:.1},{py:.1}");
                } else if line.steps {
                    let _ = write!(d, "H{px:.1}V{py:.1}");
                } else {
                    let _ = write!(d, "L{px:.1},{py:.1}");
                }
            }
            let _ = write!(
                s,
                r#"<path class="line {}" d="{d}"><title>{}</title></path>"#,
                line.class,
                escape(&line.name)
            );
            for p in line.points.iter().filter(|_| line.dots) {
                let px = xs.at(p.x);
                if let Some((lo, hi)) = p.interval {
                    let _ = write!(
                        s,
                        r#"<line class="whisker" x1="{px:.1}" x2="{px:.1}" y1="{:.1}" y2="{:.1}"/>"#,
                        ys.at(lo),
                        ys.at(hi)
                    );
                }
                let _ = write!(
                    s,
                    r#"<circle class="point {}" cx="{px:.1}" cy="{:.1}" r="3"><title>{}</title></circle>"#,
                    p.class,
                    ys.at(p.y),
                    escape(&p.label)
                );
            }
        }
        for m in &self.markers {
            let (mx, my) = (xs.at(m.x), ys.at(m.y) - 9.0);
            // A downward triangle above the run it marks.
            let _ = write!(
                s,
                r#"<path class="marker {}" d="M{:.1},{:.1}L{:.1},{:.1}L{mx:.1},{:.1}Z"><title>{}</title></path>"#,
                m.class,
                mx - 5.0,
                my - 5.0,
                mx + 5.0,
                my - 5.0,
                my + 3.0,
                escape(&m.label)
            );
        }
        s.push_str("</svg>");
        s
    }
}

/// A stable id for a chart's title and description (unique enough within one page, as the
/// titles are).
fn chart_id(title: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    title.hash(&mut h);
    format!("c{:x}", h.finish() & 0xffff_ffff)
}

/// A sparkline: one line, no axes, coloured by its class (`ok`, `regression`,
/// `suspected`, `improvement`, `none`).
pub(crate) fn sparkline(values: &[f64], class: &str, label: &str) -> String {
    let (w, h) = (140.0, 28.0);
    let points: Vec<TimePoint> = values
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .map(|(i, v)| TimePoint {
            x: i as f64,
            y: *v,
            interval: None,
            class: "",
            label: String::new(),
            keep: false,
        })
        .collect();
    let points = thin(&points);
    let mut s = format!(
        r#"<svg class="spark {class}" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}"><title>{}</title>"#,
        escape(label)
    );
    if let Some((y0, y1)) = padded_range(points.iter().map(|p| p.y)) {
        let xs = Scale {
            d0: 0.0,
            d1: values.len().saturating_sub(1).max(1) as f64,
            r0: 2.0,
            r1: w - 2.0,
        };
        let ys = Scale {
            d0: y0,
            d1: y1,
            r0: h - 2.0,
            r1: 2.0,
        };
        let mut d = String::new();
        for (i, p) in points.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.1},{:.1}",
                if i == 0 { "M" } else { "L" },
                xs.at(p.x),
                ys.at(p.y)
            );
        }
        if points.len() == 1 {
            let _ = write!(d, "h1");
        }
        let _ = write!(s, r#"<path class="line" d="{d}"/>"#);
    }
    s.push_str("</svg>");
    s
}

/// Samples drawn as a strip of dots, at most this many per group (evenly spaced quantiles
/// of the sorted samples beyond it).
const MAX_DOTS: usize = 300;

/// One group of raw samples for [`distributions`].
pub(crate) struct SampleGroup<'a> {
    pub name: String,
    /// `before` or `after`.
    pub class: &'static str,
    pub samples: &'a [f64],
}

/// The quantile `q` of sorted `v` (linear interpolation).
fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let pos = q * (v.len() - 1) as f64;
    let (i, f) = (pos.floor() as usize, pos.fract());
    if i + 1 < v.len() {
        v[i] * (1.0 - f) + v[i + 1] * f
    } else {
        v[i]
    }
}

/// Before/after distributions on one value axis: per group a box (quartiles, median,
/// whiskers to the 5th and 95th percentiles) over a strip of its samples.
pub(crate) fn distributions(
    title: &str,
    description: &str,
    groups: &[SampleGroup],
    value_label: &dyn Fn(f64) -> String,
) -> String {
    let (w, row) = (720.0, 44.0);
    let h = TOP + row * groups.len() as f64 + BOTTOM;
    let sorted: Vec<Vec<f64>> = groups
        .iter()
        .map(|g| {
            let mut v: Vec<f64> = g
                .samples
                .iter()
                .copied()
                .filter(|x| x.is_finite())
                .collect();
            v.sort_by(f64::total_cmp);
            v
        })
        .collect();
    let (x0, x1) = padded_range(sorted.iter().flatten().copied()).unwrap_or((0.0, 1.0));
    let left = 110.0;
    let xs = Scale {
        d0: x0,
        d1: x1,
        r0: left,
        // Room for half of the last tick's label.
        r1: w - RIGHT - 40.0,
    };
    let id = chart_id(title);
    let mut s = format!(
        r#"<svg class="chart" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}" aria-labelledby="{id}-t {id}-d"><title id="{id}-t">{}</title><desc id="{id}-d">{}</desc>"#,
        escape(title),
        escape(description)
    );
    let bottom = h - BOTTOM;
    for t in ticks(x0, x1, 5) {
        let x = xs.at(t);
        let _ = write!(
            s,
            r#"<line class="grid" x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{bottom:.1}"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            bottom + 16.0,
            escape(&value_label(t))
        );
    }
    for (i, (group, v)) in groups.iter().zip(&sorted).enumerate() {
        let mid = TOP + row * (i as f64 + 0.5);
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 8.0,
            mid + 4.0,
            escape(&group.name)
        );
        if v.is_empty() {
            continue;
        }
        let dots: Vec<f64> = if v.len() > MAX_DOTS {
            (0..MAX_DOTS)
                .map(|k| quantile(v, k as f64 / (MAX_DOTS - 1) as f64))
                .collect()
        } else {
            v.clone()
        };
        for (k, d) in dots.iter().enumerate() {
            // A fixed jitter across the row, so the strip shows density without randomness.
            let jitter = ((k * 7919) % 17) as f64 / 16.0 - 0.5;
            let _ = write!(
                s,
                r#"<circle class="sample {}" cx="{:.1}" cy="{:.1}" r="1.6"/>"#,
                group.class,
                xs.at(*d),
                mid + jitter * row * 0.7
            );
        }
        let (p5, q1, med, q3, p95) = (
            quantile(v, 0.05),
            quantile(v, 0.25),
            quantile(v, 0.5),
            quantile(v, 0.75),
            quantile(v, 0.95),
        );
        let _ = write!(
            s,
            r#"<g><title>{name}: median {m}, quartiles {a} – {b}, 5th–95th percentile {c} – {d}, {n} samples</title><line class="whisker" x1="{:.1}" x2="{:.1}" y1="{mid:.1}" y2="{mid:.1}"/><rect class="box {class}" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}"/><line class="median-mark" x1="{mx:.1}" x2="{mx:.1}" y1="{:.1}" y2="{:.1}"/></g>"#,
            xs.at(p5),
            xs.at(p95),
            xs.at(q1),
            mid - row * 0.22,
            (xs.at(q3) - xs.at(q1)).max(1.0),
            row * 0.44,
            mid - row * 0.3,
            mid + row * 0.3,
            name = escape(&group.name),
            m = escape(&value_label(med)),
            a = escape(&value_label(q1)),
            b = escape(&value_label(q3)),
            c = escape(&value_label(p5)),
            d = escape(&value_label(p95)),
            n = v.len(),
            class = group.class,
            mx = xs.at(med),
        );
    }
    s.push_str("</svg>");
    s
}

/// A chart-sized note where a chart has nothing to draw.
pub(crate) fn message(text: &str) -> String {
    format!(
        r#"<svg class="chart" role="img" viewBox="0 0 720 80" width="720" height="80"><title>{t}</title><desc>{t}</desc><text x="360" y="44" text-anchor="middle">{t}</text></svg>"#,
        t = escape(text)
    )
}

/// A chart on its own, as `history --format svg` writes it: the chart with its stylesheet
/// and an XML declaration, readable by any SVG viewer.
pub(crate) fn standalone(chart: &str) -> String {
    // Inline in HTML an <svg> needs no namespace; a file on its own does.
    let chart = chart.replacen("<svg ", "<svg xmlns=\"http://www.w3.org/2000/svg\" ", 1);
    let styled = chart.replacen(
        "</desc>",
        &format!(
            "</desc><style>{CHART_CSS}</style><rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>"
        ),
        1,
    );
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{styled}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(x: f64, y: f64) -> TimePoint {
        TimePoint {
            x,
            y,
            interval: Some((y - 1.0, y + 1.0)),
            class: "",
            label: format!("run at {x}"),
            keep: false,
        }
    }

    #[test]
    fn a_chart_draws_every_point_marker_band_and_rule() {
        let label = |v: f64| format!("{v:.0}");
        let chart = TimeChart {
            title: "a & b".into(),
            description: "medians".into(),
            lines: vec![Line {
                class: "",
                name: "median".into(),
                steps: true,
                dots: true,
                points: (0..10).map(|i| point(i as f64 * 86_400.0, 10.0)).collect(),
            }],
            bands: vec![Band {
                from: 0.0,
                to: 5.0 * 86_400.0,
                level: 10.0,
                low: 9.5,
                high: 10.5,
                label: "baseline".into(),
            }],
            rules: vec![Rule {
                x: 6.0 * 86_400.0,
                class: "environment",
                label: "kernel 6.1 → 6.2".into(),
            }],
            markers: vec![
                Marker {
                    x: 7.0 * 86_400.0,
                    y: 10.0,
                    class: "suspected",
                    label: "suspected".into(),
                },
                Marker {
                    x: 8.0 * 86_400.0,
                    y: 10.0,
                    class: "confirmed",
                    label: "confirmed".into(),
                },
            ],
            value_label: &label,
            width: 640.0,
            height: 220.0,
        };
        let svg = chart.render();
        assert_eq!(svg.matches(r#"class="point "#).count(), 10);
        assert_eq!(svg.matches(r#"class="whisker""#).count(), 10);
        assert_eq!(svg.matches(r#"class="band""#).count(), 1);
        assert_eq!(svg.matches(r#"class="marker "#).count(), 2);
        assert_eq!(svg.matches(r#"class="rule environment""#).count(), 1);
        assert!(svg.contains("<title id=") && svg.contains("a &amp; b"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }

    #[test]
    fn thinning_keeps_extremes_and_marked_points() {
        let mut points: Vec<TimePoint> = (0..10_000).map(|i| point(i as f64, 1.0)).collect();
        points[5_000].y = 50.0;
        points[7_777].keep = true;
        let thin = thin(&points);
        assert!(thin.len() <= MAX_POINTS + 10, "{}", thin.len());
        assert!(thin.iter().any(|p| p.y == 50.0));
        assert!(thin.iter().any(|p| p.x == 7_777.0));
        assert!(thin.windows(2).all(|w| w[0].x < w[1].x));
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(ticks(0.0, 10.0, 4), vec![0.0, 2.5, 5.0, 7.5, 10.0]);
        assert_eq!(ticks(5.0, 5.0, 4), vec![5.0]);
    }

    #[test]
    fn distributions_draw_a_box_per_group_and_bounded_dots() {
        let before: Vec<f64> = (0..1000).map(|i| 100.0 + (i % 10) as f64).collect();
        let after: Vec<f64> = (0..40).map(|i| 110.0 + (i % 10) as f64).collect();
        let label = |v: f64| format!("{v:.0}");
        let svg = distributions(
            "before/after",
            "samples",
            &[
                SampleGroup {
                    name: "before".into(),
                    class: "before",
                    samples: &before,
                },
                SampleGroup {
                    name: "after".into(),
                    class: "after",
                    samples: &after,
                },
            ],
            &label,
        );
        assert_eq!(svg.matches("class=\"box ").count(), 2);
        assert_eq!(svg.matches("class=\"sample before\"").count(), MAX_DOTS);
        assert_eq!(svg.matches("class=\"sample after\"").count(), 40);
    }

    #[test]
    fn escape_covers_markup_and_control_characters() {
        assert_eq!(
            escape("<a href=\"x\">'&'\u{1b}"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;\u{fffd}"
        );
    }
}
