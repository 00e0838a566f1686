//! Pre-registered claims: the paper's statements (and ours) as checkable comparisons over metric
//! ids, evaluated on a profile's results with a verdict of `holds`, `fails`, `inconclusive`
//! (the fold ranges of the two sides overlap) or `no data` (a metric the results do not have).
//!
//! A claim compares two expressions with a relation:
//!
//! ```toml
//! [[claim]]
//! id = "a2-skip-beats-a1-skip"
//! source = "Figs. 11-12"
//! statement = "A2 (skip head) classifies better than A1 (skip head) at every SPC"
//! left = "`e04-classify:runs[dataset={dataset},encoder=A2,head=skip,spc={spc},fold=*].per_window.f1`"
//! relation = ">"
//! right = "`e04-classify:runs[dataset={dataset},encoder=A1,head=skip,spc={spc},fold=*].per_window.f1`"
//! ```
//!
//! - A reference is `` `<results file stem>:<metric id pattern>` `` (ids as `cargo xtask check
//!   --all` prints them; the stem may be `compare/<variant>`). `*` in a pattern matches any run of
//!   characters within one id field or segment, so a pattern may match several metrics: a
//!   *sample* (e.g. the three folds), summarised by its range.
//! - `{name}` placeholders make one *instance* per value found in the results (the values of the
//!   first reference that holds the placeholder), or per value listed in `for_each`; a claim holds
//!   if every instance holds, fails if any fails, and is inconclusive otherwise.
//! - Expressions combine references and numbers with `+ - * /` and parentheses, element by element
//!   between samples of the same size (the folds of two references pair up in id order), a single
//!   value with every element of a sample.
//! - Relations: `>` and `<` (holds when the whole ranges are ordered, fails when they are ordered
//!   the other way or equal, inconclusive when they overlap), and `abs<` (holds when every |left|
//!   is below right, fails when none is).
//! - `profiles = ["smoke", "small"]` restricts a claim to some profiles (e.g. a statement about the
//!   last block, whose index depends on the profile's depth).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

/// The claims file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimsFile {
    #[serde(rename = "claim", default)]
    pub claims: Vec<Claim>,
}

/// One pre-registered claim.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    pub id: String,
    /// Where the paper says it (section, figure), or `ours`.
    pub source: String,
    pub statement: String,
    pub left: String,
    pub relation: Relation,
    pub right: String,
    /// Explicit values of placeholders (otherwise found in the results).
    #[serde(default)]
    pub for_each: BTreeMap<String, Vec<String>>,
    /// Profiles the claim applies to (all when empty).
    #[serde(default)]
    pub profiles: Vec<String>,
    /// Why the numbers chosen (thresholds, indices) test the statement.
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Relation {
    #[serde(rename = ">")]
    Greater,
    #[serde(rename = "<")]
    Less,
    #[serde(rename = "abs<")]
    AbsLess,
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Relation::Greater => ">",
            Relation::Less => "<",
            Relation::AbsLess => "abs<",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Holds,
    Fails,
    Inconclusive,
    NoData,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Holds => "holds",
            Verdict::Fails => "FAILS",
            Verdict::Inconclusive => "inconclusive",
            Verdict::NoData => "no data",
        })
    }
}

/// min, mean, max of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Range {
    pub min: f64,
    pub mean: f64,
    pub max: f64,
    pub n: usize,
}

impl Range {
    fn of(v: &[f64]) -> Range {
        let min = v.iter().copied().fold(f64::INFINITY, f64::min);
        let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Range {
            min,
            mean: v.iter().sum::<f64>() / v.len() as f64,
            max,
            n: v.len(),
        }
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.n == 1 || self.min == self.max {
            write!(f, "{:.4}", self.mean)
        } else {
            write!(f, "{:.4} [{:.4}–{:.4}]", self.mean, self.min, self.max)
        }
    }
}

/// One instance of a claim (one assignment of its placeholders).
#[derive(Debug, Clone, Serialize)]
pub struct Instance {
    /// `dataset=alcock, spc=20`; empty without placeholders.
    pub binding: String,
    pub left: Option<Range>,
    pub right: Option<Range>,
    pub verdict: Verdict,
    /// Why there is no data, when there is none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub problem: String,
}

/// A claim's evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub id: String,
    pub source: String,
    pub statement: String,
    pub relation: String,
    pub verdict: Verdict,
    pub instances: Vec<Instance>,
}

/// Errors in the claims file (not verdicts).
#[derive(Debug, thiserror::Error)]
pub enum ClaimsError {
    #[error("claims file {path}: {problem}")]
    File { path: String, problem: String },
    #[error("claim `{id}`: {problem}")]
    Claim { id: String, problem: String },
}

/// Parses a claims file; every claim's expressions are checked here, before any evaluation.
pub fn parse_claims(text: &str, path: &str) -> Result<ClaimsFile, ClaimsError> {
    let file: ClaimsFile = toml::from_str(text).map_err(|e| ClaimsError::File {
        path: path.to_string(),
        problem: e.to_string(),
    })?;
    let mut seen = BTreeSet::new();
    for c in &file.claims {
        if !seen.insert(c.id.clone()) {
            return Err(ClaimsError::File {
                path: path.to_string(),
                problem: format!("claim id `{}` appears twice", c.id),
            });
        }
        for side in [&c.left, &c.right] {
            parse_expr(side).map_err(|problem| ClaimsError::Claim { id: c.id.clone(), problem })?;
        }
        if c.source.trim().is_empty() || c.statement.trim().is_empty() {
            return Err(ClaimsError::Claim {
                id: c.id.clone(),
                problem: "needs a source and a statement".into(),
            });
        }
    }
    Ok(file)
}

/// Results by file stem (`e04-classify`, `compare/official-graph-mask-token`) → flattened metrics.
pub type Metrics = BTreeMap<String, BTreeMap<String, f64>>;

/// Evaluates the claims that apply to `profile`.
pub fn evaluate(file: &ClaimsFile, metrics: &Metrics, profile: &str) -> Result<Vec<Evaluation>, ClaimsError> {
    let mut out = Vec::new();
    for c in file.claims.iter().filter(|c| c.profiles.is_empty() || c.profiles.iter().any(|p| p == profile)) {
        out.push(evaluate_claim(c, metrics)?);
    }
    Ok(out)
}

fn evaluate_claim(c: &Claim, metrics: &Metrics) -> Result<Evaluation, ClaimsError> {
    let err = |problem: String| ClaimsError::Claim { id: c.id.clone(), problem };
    let left = parse_expr(&c.left).map_err(err)?;
    let right = parse_expr(&c.right).map_err(err)?;
    // Placeholders, in order of first appearance, and their values.
    let mut names: Vec<String> = Vec::new();
    for r in left.refs().into_iter().chain(right.refs()) {
        for n in placeholders(&r.pattern) {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    let mut values: Vec<(String, Vec<String>)> = Vec::new();
    for n in &names {
        if let Some(v) = c.for_each.get(n) {
            values.push((n.clone(), v.clone()));
            continue;
        }
        let r = left
            .refs()
            .into_iter()
            .chain(right.refs())
            .find(|r| placeholders(&r.pattern).contains(n))
            .expect("a placeholder comes from a reference");
        let mut found = BTreeSet::new();
        if let Some(m) = metrics.get(&r.experiment) {
            for id in m.keys() {
                if let Some(b) = match_pattern(&r.pattern, id) {
                    if let Some(v) = b.get(n) {
                        found.insert(v.clone());
                    }
                }
            }
        }
        // Numbers in numeric order (spc 20 < 100 < 500), text alphabetically.
        let mut found: Vec<String> = found.into_iter().collect();
        found.sort_by(|a, b| match (a.parse::<f64>(), b.parse::<f64>()) {
            (Ok(x), Ok(y)) => x.total_cmp(&y),
            _ => a.cmp(b),
        });
        values.push((n.clone(), found));
    }
    if let Some((n, _)) = c.for_each.iter().find(|(n, _)| !names.contains(n)) {
        return Err(err(format!("for_each names `{n}`, which no reference uses")));
    }
    let mut instances = Vec::new();
    for binding in cartesian(&values) {
        let label = binding.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ");
        let l = left.eval(metrics, &binding);
        let r = right.eval(metrics, &binding);
        let inst = match (l, r) {
            (Ok(l), Ok(r)) => {
                let (lr, rr) = (Range::of(&l), Range::of(&r));
                Instance {
                    binding: label,
                    verdict: judge(c.relation, &l, &r),
                    left: Some(lr),
                    right: Some(rr),
                    problem: String::new(),
                }
            }
            (l, r) => Instance {
                binding: label,
                left: l.as_ref().ok().map(|v| Range::of(v)),
                right: r.as_ref().ok().map(|v| Range::of(v)),
                verdict: Verdict::NoData,
                problem: [l.err(), r.err()].into_iter().flatten().collect::<Vec<_>>().join("; "),
            },
        };
        instances.push(inst);
    }
    if instances.is_empty() {
        instances.push(Instance {
            binding: String::new(),
            left: None,
            right: None,
            verdict: Verdict::NoData,
            problem: format!("no values found for {}", names.join(", ")),
        });
    }
    let verdict = combine(instances.iter().map(|i| i.verdict));
    Ok(Evaluation {
        id: c.id.clone(),
        source: c.source.clone(),
        statement: c.statement.clone(),
        relation: format!("{} {} {}", c.left, c.relation, c.right),
        verdict,
        instances,
    })
}

/// All instances: fails if any fails; holds if every one holds; no data if none has data;
/// inconclusive otherwise.
fn combine(v: impl Iterator<Item = Verdict>) -> Verdict {
    let v: Vec<Verdict> = v.collect();
    if v.contains(&Verdict::Fails) {
        Verdict::Fails
    } else if v.iter().all(|x| *x == Verdict::Holds) {
        Verdict::Holds
    } else if v.iter().all(|x| *x == Verdict::NoData) {
        Verdict::NoData
    } else {
        Verdict::Inconclusive
    }
}

fn judge(rel: Relation, l: &[f64], r: &[f64]) -> Verdict {
    if l.iter().chain(r).any(|x| x.is_nan()) {
        return Verdict::Inconclusive;
    }
    let (lr, rr) = (Range::of(l), Range::of(r));
    match rel {
        Relation::Greater | Relation::Less => {
            let (hi, lo) = if rel == Relation::Greater { (lr, rr) } else { (rr, lr) };
            if hi.min > lo.max {
                Verdict::Holds
            } else if hi.max <= lo.min {
                Verdict::Fails
            } else {
                Verdict::Inconclusive
            }
        }
        Relation::AbsLess => {
            let bound = rr.min;
            let abs: Vec<f64> = l.iter().map(|x| x.abs()).collect();
            if abs.iter().all(|a| *a < bound) {
                Verdict::Holds
            } else if abs.iter().all(|a| *a >= bound) {
                Verdict::Fails
            } else {
                Verdict::Inconclusive
            }
        }
    }
}

fn cartesian(values: &[(String, Vec<String>)]) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for (name, vals) in values {
        let mut next = Vec::new();
        for prefix in &out {
            for v in vals {
                let mut p = prefix.clone();
                p.push((name.clone(), v.clone()));
                next.push(p);
            }
        }
        out = next;
    }
    out
}

// --- patterns -------------------------------------------------------------------------------------

fn placeholders(pattern: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = pattern;
    while let Some(i) = rest.find('{') {
        let Some(j) = rest[i..].find('}') else { break };
        out.push(rest[i + 1..i + j].to_string());
        rest = &rest[i + j + 1..];
    }
    out
}

/// Matches a metric id against a pattern with `*` (any run within one field or segment) and
/// `{name}` (the same, captured); returns the captures.
pub fn match_pattern(pattern: &str, id: &str) -> Option<BTreeMap<String, String>> {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = id.chars().collect();
    let mut caps = BTreeMap::new();
    if match_from(&p, 0, &t, 0, 0, &mut caps) {
        Some(caps)
    } else {
        None
    }
}

/// A wildcard may not cross a field or segment boundary: `.` and `[` outside brackets, `,` and
/// `]` inside.
fn is_boundary(c: char, depth: usize) -> bool {
    if depth == 0 {
        c == '.' || c == '['
    } else {
        c == ',' || c == ']'
    }
}

fn match_from(p: &[char], pi: usize, t: &[char], ti: usize, depth: usize, caps: &mut BTreeMap<String, String>) -> bool {
    if pi == p.len() {
        return ti == t.len();
    }
    let (wild_end, name) = match p[pi] {
        '*' => (pi + 1, None),
        '{' => match p[pi..].iter().position(|&c| c == '}') {
            Some(j) => (pi + j + 1, Some(p[pi + 1..pi + j].iter().collect::<String>())),
            None => return false,
        },
        c => {
            if ti < t.len() && t[ti] == c {
                let depth = match c {
                    '[' => depth + 1,
                    ']' => depth.saturating_sub(1),
                    _ => depth,
                };
                return match_from(p, pi + 1, t, ti + 1, depth, caps);
            }
            return false;
        }
    };
    // A wildcard: try every run of non-boundary characters, shortest first.
    let mut end = ti;
    loop {
        if let Some(n) = &name {
            match caps.get(n) {
                // A placeholder already bound must match the same text.
                Some(v) if *v != t[ti..end].iter().collect::<String>() => {}
                Some(_) => {
                    if match_from(p, wild_end, t, end, depth, caps) {
                        return true;
                    }
                }
                None => {
                    caps.insert(n.clone(), t[ti..end].iter().collect());
                    if match_from(p, wild_end, t, end, depth, caps) {
                        return true;
                    }
                    caps.remove(n);
                }
            }
        } else if match_from(p, wild_end, t, end, depth, caps) {
            return true;
        }
        if end == t.len() || is_boundary(t[end], depth) {
            return false;
        }
        end += 1;
    }
}

// --- expressions ----------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Ref {
    experiment: String,
    pattern: String,
}

#[derive(Debug, Clone)]
enum Expr {
    Num(f64),
    Ref(Ref),
    Bin(Box<Expr>, char, Box<Expr>),
}

impl Expr {
    fn refs(&self) -> Vec<Ref> {
        match self {
            Expr::Num(_) => Vec::new(),
            Expr::Ref(r) => vec![r.clone()],
            Expr::Bin(a, _, b) => {
                let mut v = a.refs();
                v.extend(b.refs());
                v
            }
        }
    }

    fn eval(&self, metrics: &Metrics, binding: &[(String, String)]) -> Result<Vec<f64>, String> {
        match self {
            Expr::Num(x) => Ok(vec![*x]),
            Expr::Ref(r) => {
                let mut pattern = r.pattern.clone();
                for (k, v) in binding {
                    pattern = pattern.replace(&format!("{{{k}}}"), v);
                }
                let m = metrics
                    .get(&r.experiment)
                    .ok_or_else(|| format!("no results file `{}`", r.experiment))?;
                let v: Vec<f64> = m
                    .iter()
                    .filter(|(id, _)| match_pattern(&pattern, id).is_some())
                    .map(|(_, v)| *v)
                    .collect();
                if v.is_empty() {
                    return Err(format!("no metric `{}:{pattern}`", r.experiment));
                }
                Ok(v)
            }
            Expr::Bin(a, op, b) => {
                let (a, b) = (a.eval(metrics, binding)?, b.eval(metrics, binding)?);
                let n = a.len().max(b.len());
                if a.len() != b.len() && a.len() != 1 && b.len() != 1 {
                    return Err(format!("samples of sizes {} and {} do not pair up", a.len(), b.len()));
                }
                let at = |v: &[f64], i: usize| if v.len() == 1 { v[0] } else { v[i] };
                Ok((0..n)
                    .map(|i| {
                        let (x, y) = (at(&a, i), at(&b, i));
                        match op {
                            '+' => x + y,
                            '-' => x - y,
                            '*' => x * y,
                            _ => x / y,
                        }
                    })
                    .collect())
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Num(f64),
    Ref(String),
    Op(char),
    Open,
    Close,
}

fn tokenize(s: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            ' ' | '\t' => {}
            '`' => {
                let rest = &s[i + 1..];
                let j = rest.find('`').ok_or_else(|| format!("unclosed ` in `{s}`"))?;
                out.push(Token::Ref(rest[..j].to_string()));
                for _ in 0..rest[..=j].chars().count() {
                    chars.next();
                }
            }
            '+' | '-' | '*' | '/' => out.push(Token::Op(c)),
            '(' => out.push(Token::Open),
            ')' => out.push(Token::Close),
            c if c.is_ascii_digit() || c == '.' => {
                let mut end = i + c.len_utf8();
                let mut prev = c;
                while let Some(&(k, d)) = chars.peek() {
                    let sign_of_exponent = (d == '-' || d == '+') && (prev == 'e' || prev == 'E');
                    if d.is_ascii_digit() || d == '.' || d == 'e' || d == 'E' || sign_of_exponent {
                        end = k + d.len_utf8();
                        prev = d;
                        chars.next();
                    } else {
                        break;
                    }
                }
                let x = s[i..end].parse().map_err(|_| format!("bad number `{}`", &s[i..end]))?;
                out.push(Token::Num(x));
            }
            c => return Err(format!("unexpected `{c}` in `{s}` (metric references go between backticks)")),
        }
    }
    Ok(out)
}

fn parse_expr(s: &str) -> Result<Expr, String> {
    let tokens = tokenize(s)?;
    let mut pos = 0;
    let e = parse_sum(&tokens, &mut pos)?;
    if pos != tokens.len() {
        return Err(format!("trailing input in `{s}`"));
    }
    Ok(e)
}

fn parse_sum(t: &[Token], pos: &mut usize) -> Result<Expr, String> {
    let mut e = parse_product(t, pos)?;
    while let Some(Token::Op(op @ ('+' | '-'))) = t.get(*pos) {
        *pos += 1;
        e = Expr::Bin(Box::new(e), *op, Box::new(parse_product(t, pos)?));
    }
    Ok(e)
}

fn parse_product(t: &[Token], pos: &mut usize) -> Result<Expr, String> {
    let mut e = parse_atom(t, pos)?;
    while let Some(Token::Op(op @ ('*' | '/'))) = t.get(*pos) {
        *pos += 1;
        e = Expr::Bin(Box::new(e), *op, Box::new(parse_atom(t, pos)?));
    }
    Ok(e)
}

fn parse_atom(t: &[Token], pos: &mut usize) -> Result<Expr, String> {
    let tok = t.get(*pos).cloned().ok_or("expression ends too early")?;
    *pos += 1;
    match tok {
        Token::Num(x) => Ok(Expr::Num(x)),
        Token::Op('-') => Ok(Expr::Bin(Box::new(Expr::Num(0.0)), '-', Box::new(parse_atom(t, pos)?))),
        Token::Ref(r) => {
            let (experiment, pattern) = r
                .split_once(':')
                .ok_or_else(|| format!("reference `{r}` needs `<results file>:<metric id>`"))?;
            Ok(Expr::Ref(Ref {
                experiment: experiment.to_string(),
                pattern: pattern.to_string(),
            }))
        }
        Token::Open => {
            let e = parse_sum(t, pos)?;
            if t.get(*pos) != Some(&Token::Close) {
                return Err("missing `)`".into());
            }
            *pos += 1;
            Ok(e)
        }
        other => Err(format!("unexpected {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> Metrics {
        let mut e04 = BTreeMap::new();
        for (enc, base) in [("A2", 0.6), ("A1", 0.3)] {
            for spc in [20, 100] {
                for fold in 0..3 {
                    let v = base + 0.01 * fold as f64 + if spc == 100 { 0.1 } else { 0.0 };
                    e04.insert(format!("runs[dataset=alcock,encoder={enc},head=skip,spc={spc},fold={fold}].per_window.f1"), v);
                }
            }
        }
        // Overlapping ranges at atlas.
        for (enc, vals) in [("A2", [0.30, 0.40, 0.50]), ("A1", [0.35, 0.36, 0.37])] {
            for (fold, v) in vals.iter().enumerate() {
                e04.insert(format!("runs[dataset=atlas,encoder={enc},head=skip,spc=20,fold={fold}].per_window.f1"), *v);
            }
        }
        let mut e02 = BTreeMap::new();
        e02.insert("models.A2.test_rmse".into(), 0.2);
        e02.insert("models.A1.test_rmse".into(), 0.25);
        [("e04-classify".to_string(), e04), ("e02-pretrain".to_string(), e02)].into_iter().collect()
    }

    fn claim(left: &str, rel: &str, right: &str) -> String {
        format!("[[claim]]\nid = \"c\"\nsource = \"s\"\nstatement = \"t\"\nleft = \"{left}\"\nrelation = \"{rel}\"\nright = \"{right}\"\n")
    }

    fn run(text: &str) -> Evaluation {
        let f = parse_claims(text, "claims.toml").unwrap();
        evaluate(&f, &metrics(), "small").unwrap().remove(0)
    }

    #[test]
    fn patterns_match_within_fields_and_capture_placeholders() {
        let id = "runs[dataset=alcock,encoder=A2,head=skip,spc=20,fold=0].per_window.f1";
        let caps = match_pattern("runs[dataset={d},encoder=A2,head=skip,spc={spc},fold=*].per_window.f1", id).unwrap();
        assert_eq!(caps["d"], "alcock");
        assert_eq!(caps["spc"], "20");
        assert!(match_pattern("runs[dataset=*,fold=*].per_window.f1", id).is_none(), "* stays inside one field");
        assert!(match_pattern("runs[*].per_window.*", id).is_none());
        assert!(match_pattern("models.*.test_rmse", "models.A2.test_rmse").is_some());
        assert!(match_pattern("models.*.test_rmse", "models.A2.history.test_rmse").is_none());
        assert!(match_pattern("summary[dataset=*alcock*]", "summary[dataset=synthetic-alcock-small]").is_some());
    }

    #[test]
    fn scalar_claims_hold_or_fail() {
        let e = run(&claim("`e02-pretrain:models.A2.test_rmse`", "<", "`e02-pretrain:models.A1.test_rmse`"));
        assert_eq!(e.verdict, Verdict::Holds);
        let e = run(&claim("`e02-pretrain:models.A2.test_rmse`", ">", "`e02-pretrain:models.A1.test_rmse`"));
        assert_eq!(e.verdict, Verdict::Fails);
    }

    #[test]
    fn fold_ranges_decide_and_overlap_is_inconclusive() {
        let l = "`e04-classify:runs[dataset={d},encoder=A2,head=skip,spc={spc},fold=*].per_window.f1`";
        let r = "`e04-classify:runs[dataset={d},encoder=A1,head=skip,spc={spc},fold=*].per_window.f1`";
        let e = run(&claim(l, ">", r));
        // alcock 20, alcock 100, atlas 20 (atlas 100 has no data).
        let v: Vec<(String, Verdict)> = e.instances.iter().map(|i| (i.binding.clone(), i.verdict)).collect();
        assert_eq!(
            v,
            vec![
                ("d=alcock, spc=20".to_string(), Verdict::Holds),
                ("d=alcock, spc=100".to_string(), Verdict::Holds),
                ("d=atlas, spc=20".to_string(), Verdict::Inconclusive),
                ("d=atlas, spc=100".to_string(), Verdict::NoData),
            ]
        );
        assert_eq!(e.verdict, Verdict::Inconclusive);
        let r0 = e.instances[0].left.unwrap();
        assert!((r0.min - 0.6).abs() < 1e-12 && (r0.max - 0.62).abs() < 1e-12 && r0.n == 3);
    }

    #[test]
    fn arithmetic_pairs_folds_and_broadcasts_numbers() {
        // A2 − A1 per fold is 0.3 exactly at alcock; above 0.25, below 0.35.
        let diff = "`e04-classify:runs[dataset=alcock,encoder=A2,head=skip,spc=20,fold=*].per_window.f1` - `e04-classify:runs[dataset=alcock,encoder=A1,head=skip,spc=20,fold=*].per_window.f1`";
        assert_eq!(run(&claim(diff, ">", "0.25")).verdict, Verdict::Holds);
        assert_eq!(run(&claim(diff, "<", "0.25")).verdict, Verdict::Fails);
        assert_eq!(run(&claim(&format!("({diff}) * 2"), "abs<", "0.7")).verdict, Verdict::Holds);
        assert_eq!(run(&claim(diff, "abs<", "0.1")).verdict, Verdict::Fails);
        assert_eq!(run(&claim(diff, ">", "2.5e-1")).verdict, Verdict::Holds);
        assert_eq!(run(&claim(diff, "<", "35e-2")).verdict, Verdict::Holds);
    }

    #[test]
    fn missing_metrics_are_no_data_and_bad_claims_are_errors() {
        let e = run(&claim("`e09-none:x`", ">", "1"));
        assert_eq!(e.verdict, Verdict::NoData);
        assert!(e.instances[0].problem.contains("e09-none"), "{:?}", e.instances);
        for bad in [claim("models.A2", ">", "1"), claim("`x` +", ">", "1"), claim("`nocolon`", ">", "1")] {
            assert!(parse_claims(&bad, "claims.toml").is_err(), "{bad}");
        }
        let twice = format!("{}{}", claim("1", ">", "0"), claim("1", ">", "0"));
        assert!(parse_claims(&twice, "claims.toml").unwrap_err().to_string().contains("twice"));
    }

    #[test]
    fn profiles_and_for_each_restrict_the_instances() {
        let mut text = claim(
            "`e04-classify:runs[dataset={d},encoder=A2,head=skip,spc=20,fold=*].per_window.f1`",
            ">",
            "0",
        );
        text.push_str("for_each = { d = [\"alcock\"] }\nprofiles = [\"small\"]\n");
        let f = parse_claims(&text, "claims.toml").unwrap();
        let e = evaluate(&f, &metrics(), "small").unwrap();
        assert_eq!(e[0].instances.len(), 1);
        assert_eq!(e[0].verdict, Verdict::Holds);
        assert!(evaluate(&f, &metrics(), "paper").unwrap().is_empty());
    }
}
