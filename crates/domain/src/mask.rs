//! Masking of personal data for logs, spans and events: enough to tell two
//! records apart when debugging, never enough to identify a person.

/// `12345678950` → `*********50`.
pub fn national_id(raw: &str) -> String {
    keep_last(raw, 2)
}

/// `+905321234567` → `+90********67`.
pub fn phone(raw: &str) -> String {
    match raw.strip_prefix("+90") {
        Some(rest) => format!("+90{}", keep_last(rest, 2)),
        None => keep_last(raw, 2),
    }
}

/// `Ayşe Yılmaz` → `A*** Y***`.
pub fn name(raw: &str) -> String {
    raw.split_whitespace()
        .map(|w| {
            let first = w.chars().next().unwrap_or('*');
            format!("{first}***")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn keep_last(raw: &str, n: usize) -> String {
    let chars: Vec<char> = raw.chars().collect();
    let hidden = chars.len().saturating_sub(n);
    let mut out = "*".repeat(hidden);
    out.extend(&chars[hidden..]);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn masks() {
        assert_eq!(super::national_id("12345678950"), "*********50");
        assert_eq!(super::phone("+905321234567"), "+90********67");
        assert_eq!(super::name("Ayşe  Yılmaz"), "A*** Y***");
        assert_eq!(super::national_id("1"), "1");
    }
}
