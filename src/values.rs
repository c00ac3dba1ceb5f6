//! Values that flags and the cameras file both read, and the words their
//! errors use: at the bottom of the house, importing nothing of the app.

/// `WxH`, each side 1..=16384.
pub fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(|| format!("'{s}' is not WxH (e.g. 640x480)"))?;
    let side = |v: &str| v.parse::<u32>().ok().filter(|v| (1..=16384).contains(v));
    match (side(w), side(h)) {
        (Some(w), Some(h)) => Ok((w, h)),
        _ => Err(format!("'{s}' is not WxH with sides 1..=16384")),
    }
}

/// `line N, column M: ` of the first line that sets `key` (`key = …`) or
/// opens it as a table (`[key]`, `[[key]]`); empty when none does.
pub fn key_position(text: &str, key: &str) -> String {
    text.lines()
        .enumerate()
        .find_map(|(i, l)| {
            let body = l.trim_start();
            let sets = body.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('='));
            let opens = body.trim_start_matches('[').strip_prefix(key).is_some_and(|rest| rest.starts_with(']'));
            (sets || opens).then(|| format!("line {}, column {}: ", i + 1, l.len() - body.len() + 1))
        })
        .unwrap_or_default()
}

/// [`key_position`] within the `nth` table (from 0) whose header line is
/// `header` (`[web]`, `[[camera]]`): from that line on, numbered as the
/// file's lines.
pub fn key_position_in(text: &str, header: &str, nth: usize, key: &str) -> String {
    let start = text.lines().enumerate().filter(|(_, l)| l.trim() == header).nth(nth).map_or(0, |(i, _)| i);
    let rest: String = text.lines().skip(start).map(|l| format!("{l}\n")).collect();
    let found = key_position(&rest, key);
    match found.strip_prefix("line ").and_then(|r| r.split_once(',')) {
        Some((n, tail)) => n.parse::<usize>().map_or(found.clone(), |n| format!("line {},{tail}", n + start)),
        None => found,
    }
}

/// ` (did you mean 'K'?)` for the `known` key closest to `key` (at most
/// three edits away), else nothing.
pub fn did_you_mean(key: &str, known: &[&str]) -> String {
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .min()
        .filter(|(d, _)| *d <= 3)
        .map_or(String::new(), |(_, k)| format!(" (did you mean '{k}'?)"))
}

/// Levenshtein distance, for suggesting the key a typo meant.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}
