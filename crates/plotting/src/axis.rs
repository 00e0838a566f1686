//! Axis ranges, tick positions and tick labels, computed here (not by plotters) so that linear,
//! logarithmic and categorical axes share one chart type: values are mapped to "plot space"
//! (identity, `log10`, or category index) and drawn on a linear `f64` coordinate whose key points
//! are our ticks.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

/// Maps a data value to plot space: `None` for non-finite values, and on a log axis for
/// non-positive ones.
pub(crate) fn tf(log: bool, v: f64) -> Option<f64> {
    if !v.is_finite() {
        return None;
    }
    if log {
        if v > 0.0 {
            Some(v.log10())
        } else {
            None
        }
    } else {
        Some(v)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Axis {
    pub log: bool,
    pub categorical: bool,
    /// Plot-space range.
    pub lo: f64,
    pub hi: f64,
    /// Plot-space tick positions and their labels.
    pub ticks: Vec<f64>,
    pub labels: Vec<String>,
    /// Plot-space minor grid positions (log axes).
    pub minor: Vec<f64>,
}

impl Axis {
    /// Data value -> plot space.
    pub fn tf(&self, v: f64) -> Option<f64> {
        tf(self.log, v)
    }

    /// Linear axis covering the data range `[min, max]` padded by `pad` (fraction of the span) on
    /// each side. With `zero` the range includes 0 and is not padded on the zero side (bars).
    pub fn linear(min: f64, max: f64, pad: f64, zero: bool) -> Axis {
        let (mut a, mut b) = (min, max);
        if !a.is_finite() || !b.is_finite() {
            a = 0.0;
            b = 1.0;
        }
        if zero {
            a = a.min(0.0);
            b = b.max(0.0);
        }
        if b <= a {
            let d = if a == 0.0 { 1.0 } else { a.abs() * 0.1 };
            a -= d;
            b += d;
        }
        let span = b - a;
        let lo = if zero && a == 0.0 {
            0.0
        } else {
            a - pad * span
        };
        let hi = if zero && b == 0.0 {
            0.0
        } else {
            b + pad * span
        };
        let (ticks, labels) = nice_ticks(lo, hi, 6);
        Axis {
            log: false,
            categorical: false,
            lo,
            hi,
            ticks,
            labels,
            minor: Vec::new(),
        }
    }

    /// Logarithmic axis covering the positive data range `[min, max]`, padded by `pad` (fraction
    /// of the span in decades). Tick labels show data values.
    pub fn log(min: f64, max: f64, pad: f64) -> Axis {
        let (mut a, mut b) = if min > 0.0 && max > 0.0 && min.is_finite() && max.is_finite() {
            (min.log10(), max.log10())
        } else {
            (0.0, 1.0)
        };
        if b <= a {
            a -= 0.5;
            b += 0.5;
        }
        let span = b - a;
        let lo = a - pad * span;
        let hi = b + pad * span;
        let eps = 1e-9;
        let k0 = (lo - eps).ceil() as i64;
        let k1 = (hi + eps).floor() as i64;
        let decades: Vec<i64> = if k1 >= k0 {
            (k0..=k1).collect()
        } else {
            Vec::new()
        };
        let mut minor = Vec::new();
        let (ticks, labels) = if decades.len() >= 2 {
            let need = ((decades.len() as f64 / 8.0).ceil() as i64).max(1);
            let step = [1, 2, 3, 4, 5, 10, 20, 25, 50, 100, 200, 250, 500]
                .into_iter()
                .find(|&c| c >= need)
                .unwrap_or(need);
            let ks: Vec<i64> = decades
                .iter()
                .copied()
                .filter(|k| k.rem_euclid(step) == 0)
                .collect();
            let ks = if ks.len() >= 2 { ks } else { decades.clone() };
            if step == 1 && hi - lo <= 8.0 {
                for k in (lo.floor() as i64)..=(hi.ceil() as i64) {
                    for m in 2..=9 {
                        let p = k as f64 + (m as f64).log10();
                        if p >= lo && p <= hi {
                            minor.push(p);
                        }
                    }
                }
            }
            let labels = ks.iter().map(|&k| pow10_label(k)).collect();
            (ks.iter().map(|&k| k as f64).collect(), labels)
        } else {
            // Less than two decades visible: 1-2-5 ticks, or linear ticks in data space.
            let mut t = Vec::new();
            let mut l = Vec::new();
            for k in (lo.floor() as i64 - 1)..=(hi.ceil() as i64) {
                for m in [1.0f64, 2.0, 5.0] {
                    let p = k as f64 + m.log10();
                    if p >= lo - eps && p <= hi + eps {
                        t.push(p);
                        l.push(fmt_fixed(m * 10f64.powi(k as i32), (-k).max(0) as usize));
                    }
                }
            }
            if t.len() >= 3 {
                (t, l)
            } else {
                let (vt, vl) = nice_ticks(10f64.powf(lo), 10f64.powf(hi), 5);
                let mut t = Vec::new();
                let mut l = Vec::new();
                for (v, s) in vt.into_iter().zip(vl) {
                    if v > 0.0 {
                        let p = v.log10();
                        if p >= lo - eps && p <= hi + eps {
                            t.push(p);
                            l.push(s);
                        }
                    }
                }
                (t, l)
            }
        };
        Axis {
            log: true,
            categorical: false,
            lo,
            hi,
            ticks,
            labels,
            minor,
        }
    }

    /// Either [`Axis::log`] or [`Axis::linear`] over a data range.
    pub fn auto(log: bool, min: f64, max: f64, pad: f64, zero: bool) -> Axis {
        if log {
            Axis::log(min, max, pad)
        } else {
            Axis::linear(min, max, pad, zero)
        }
    }

    /// Categories `0..n` centred on integer positions.
    pub fn categorical(labels: &[String]) -> Axis {
        let n = labels.len().max(1);
        let mut labels: Vec<String> = labels.to_vec();
        labels.resize(n, String::new());
        Axis {
            log: false,
            categorical: true,
            lo: -0.5,
            hi: n as f64 - 0.5,
            ticks: (0..n).map(|i| i as f64).collect(),
            labels,
            minor: Vec::new(),
        }
    }

    /// Label of the tick at plot-space position `v` (empty when `v` is not a tick).
    pub fn label_for(&self, v: f64) -> String {
        self.ticks
            .iter()
            .position(|&t| (t - v).abs() <= 1e-9 * (1.0 + t.abs()))
            .map(|i| self.labels[i].clone())
            .unwrap_or_default()
    }

    /// The plotters coordinate for this axis.
    pub fn coord(&self) -> TickCoord {
        TickCoord {
            lo: self.lo,
            hi: self.hi,
            ticks: self.ticks.clone(),
            minor: self.minor.clone(),
        }
    }
}

/// Linear `f64` coordinate whose tick (bold) and grid (light) points are given explicitly.
/// (plotters' `WithKeyPoints<RangedCoordf64>` cannot take a custom label formatter.)
#[derive(Debug, Clone)]
pub(crate) struct TickCoord {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    minor: Vec<f64>,
}

impl Ranged for TickCoord {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        // Same arithmetic as plotters' RangedCoordf64.
        if self.hi == self.lo {
            return (limit.1 - limit.0) / 2;
        }
        let logic = (*v - self.lo) / (self.hi - self.lo);
        let actual = limit.1 - limit.0;
        if actual == 0 {
            return limit.1;
        }
        if !logic.is_finite() {
            return if logic > 0.0 { limit.1 } else { limit.0 };
        }
        if actual > 0 {
            limit.0 + (actual as f64 * logic + 1e-3).floor() as i32
        } else {
            limit.0 + (actual as f64 * logic - 1e-3).ceil() as i32
        }
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor.clone()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// "Nice" 1-2-5 ticks inside `[lo, hi]`, about `target` of them, with labels.
pub(crate) fn nice_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, Vec<String>) {
    if !(hi > lo) || !lo.is_finite() || !hi.is_finite() {
        return (Vec::new(), Vec::new());
    }
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let mult = if norm < 1.5 {
        1.0
    } else if norm < 3.0 {
        2.0
    } else if norm < 7.0 {
        5.0
    } else {
        10.0
    };
    let step = mult * mag;
    if !step.is_finite() || step <= 0.0 {
        return (Vec::new(), Vec::new());
    }
    let decimals = (-(step.log10() + 1e-9).floor()).max(0.0) as usize;
    let k0 = (lo / step - 1e-9).ceil() as i64;
    let k1 = (hi / step + 1e-9).floor() as i64;
    let mut ticks = Vec::new();
    let mut labels = Vec::new();
    let mut k = k0;
    while k <= k1 && ticks.len() < 200 {
        let mut v = k as f64 * step;
        if v.abs() < step * 1e-9 {
            v = 0.0;
        }
        ticks.push(v);
        labels.push(fmt_fixed(v, decimals));
        k += 1;
    }
    (ticks, labels)
}

/// Fixed-point formatting with scientific notation for very large / very small magnitudes.
pub(crate) fn fmt_fixed(v: f64, decimals: usize) -> String {
    let a = v.abs();
    if a != 0.0 && (a >= 1e7 || a < 1e-4) {
        let s = format!("{:.1e}", v);
        return s.replace(".0e", "e");
    }
    let s = format!("{:.*}", decimals.min(10), v);
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// Label for `10^k`: plain for moderate exponents, `10ᵏ` otherwise.
pub(crate) fn pow10_label(k: i64) -> String {
    if (-3..=4).contains(&k) {
        fmt_fixed(10f64.powi(k as i32), (-k).max(0) as usize)
    } else {
        let sup: String = k
            .to_string()
            .chars()
            .map(|c| match c {
                '-' => '⁻',
                '0' => '⁰',
                '1' => '¹',
                '2' => '²',
                '3' => '³',
                '4' => '⁴',
                '5' => '⁵',
                '6' => '⁶',
                '7' => '⁷',
                '8' => '⁸',
                _ => '⁹',
            })
            .collect();
        format!("10{sup}")
    }
}

/// Short human formatting of a value (bar labels, heatmap cells, legends).
pub(crate) fn fmt_value(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    let a = v.abs();
    if v.fract() == 0.0 && a < 1e15 {
        return format!("{:.0}", v);
    }
    if a >= 1e6 || a < 1e-3 {
        return format!("{:.2e}", v);
    }
    let decimals = if a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        3
    };
    fmt_fixed(v, decimals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ticks_are_nice() {
        let a = Axis::linear(0.0, 9.3, 0.0, true);
        assert_eq!(a.lo, 0.0);
        assert_eq!(a.labels, vec!["0", "2", "4", "6", "8"]);
        let a = Axis::linear(0.11, 0.29, 0.0, false);
        assert!(
            a.labels.iter().all(|l| l.starts_with("0.")),
            "{:?}",
            a.labels
        );
        let a = Axis::linear(3.0, 3.0, 0.05, false);
        assert!(a.hi > a.lo && !a.ticks.is_empty());
    }

    #[test]
    fn log_ticks() {
        let a = Axis::log(1e-3, 1e3, 0.0);
        assert_eq!(
            a.labels,
            vec!["0.001", "0.01", "0.1", "1", "10", "100", "1000"]
        );
        assert!(!a.minor.is_empty());
        let a = Axis::log(1e-8, 1e8, 0.0);
        assert!(a.labels.len() <= 9 && a.labels.len() >= 2, "{:?}", a.labels);
        assert!(a.labels.contains(&"10⁻⁶".to_string()), "{:?}", a.labels);
        let a = Axis::log(0.12, 0.3, 0.02);
        assert!(a.ticks.len() >= 2, "{:?}", a.labels);
        let a = Axis::log(2.0, 30.0, 0.0);
        assert!(a.ticks.len() >= 3, "{:?}", a.labels);
    }

    #[test]
    fn formatting() {
        assert_eq!(fmt_fixed(-0.0001, 2), "0.00");
        assert_eq!(fmt_value(1234.0), "1234");
        assert_eq!(fmt_value(0.12345), "0.123");
        assert_eq!(fmt_value(f64::NAN), "");
        assert_eq!(pow10_label(-5), "10⁻⁵");
        assert_eq!(pow10_label(2), "100");
    }
}
