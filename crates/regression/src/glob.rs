//! Globs over metric ids.
//!
//! `*` matches any run of characters within one path segment, `**` matches anything, every other
//! character matches itself. Segments are separated by the dots *outside* `[...]` identity labels,
//! so `summary[*].f1_mean` also matches an element whose identity holds a dot (`model=v1.2`).

#[derive(Debug, Clone, Copy, PartialEq)]
enum Token {
    Star,
    DoubleStar,
    Char(char),
}

fn tokens(pattern: &str) -> Vec<Token> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '*' {
            if chars.get(i + 1) == Some(&'*') {
                out.push(Token::DoubleStar);
                i += 2;
            } else {
                out.push(Token::Star);
                i += 1;
            }
        } else {
            out.push(Token::Char(chars[i]));
            i += 1;
        }
    }
    out
}

/// For each character of an id: is it a dot that separates path segments?
fn separators(text: &[char]) -> Vec<bool> {
    let mut depth = 0usize;
    text.iter()
        .map(|&c| {
            match c {
                '[' => depth += 1,
                ']' => depth = depth.saturating_sub(1),
                _ => {}
            }
            c == '.' && depth == 0
        })
        .collect()
}

/// Whether `pattern` matches the whole of `text`.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let pat = tokens(pattern);
    let txt: Vec<char> = text.chars().collect();
    let sep = separators(&txt);
    // reach[j]: the pattern prefix seen so far can end right before txt[j].
    let mut reach = vec![false; txt.len() + 1];
    reach[0] = true;
    for token in pat {
        let mut next = vec![false; txt.len() + 1];
        match token {
            Token::Char(c) => {
                for j in 0..txt.len() {
                    if reach[j] && txt[j] == c {
                        next[j + 1] = true;
                    }
                }
            }
            Token::DoubleStar => {
                let mut on = false;
                for j in 0..=txt.len() {
                    on |= reach[j];
                    next[j] = on;
                }
            }
            Token::Star => {
                let mut on = false;
                for j in 0..=txt.len() {
                    on |= reach[j];
                    next[j] = on;
                    // A separator ends the run `*` may extend over.
                    if j < txt.len() && sep[j] {
                        on = false;
                    }
                }
            }
        }
        reach = next;
    }
    reach[txt.len()]
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn literal_patterns_match_exactly() {
        assert!(glob_match("models.A2.test_rmse", "models.A2.test_rmse"));
        assert!(!glob_match("models.A2.test_rmse", "models.A2.test_rmse_weighted"));
        assert!(!glob_match("models.A2", "models.A2.test_rmse"));
    }

    #[test]
    fn single_star_stays_within_one_segment() {
        assert!(glob_match("models.*.test_rmse", "models.A1.test_rmse"));
        assert!(!glob_match("models.*.test_rmse", "models.A1.history[epoch=0].test_rmse"));
        assert!(glob_match("summary[*].f1_mean", "summary[dataset=alcock,model=A2 max,spc=4].f1_mean"));
        assert!(glob_match("summary[*].f1_per_window.mean", "summary[dataset=a,spc=4].f1_per_window.mean"));
        assert!(!glob_match("summary[*].mean", "summary[dataset=a].f1_per_window.mean"));
        assert!(glob_match("*_rmse", "test_rmse"));
        assert!(glob_match("runs[*]*.f1", "runs[fold=0]#2.f1"));
    }

    #[test]
    fn dots_inside_identity_labels_do_not_split_segments() {
        assert!(glob_match("summary[*].f1_mean", "summary[model=v1.2].f1_mean"));
        assert!(glob_match("*.f1_mean", "summary[model=v1.2].f1_mean"));
    }

    #[test]
    fn double_star_crosses_segments() {
        assert!(glob_match("**", "a.b[c=d].e"));
        assert!(glob_match("models.**.val_rmse", "models.A1.history[epoch=0].val_rmse"));
        assert!(glob_match("**rmse", "models.A1.test_rmse"));
        assert!(!glob_match("**.r2", "models.A1.test_rmse"));
    }
}
