//! Secrets in what the user gives: `${NAME}` taken from the environment,
//! passwords in URLs decoded where they are used and hidden wherever they
//! are shown (logs, errors, names, Debug output).

/// What a hidden secret is replaced with.
pub const HIDDEN: &str = "***";

/// Query keys whose values are secrets (`?user=admin&password=…`, as many
/// IP cameras take them), compared without case.
const SECRET_KEYS: [&str; 8] = ["password", "passwd", "pwd", "pass", "token", "secret", "key", "auth"];

/// `text` with each `${NAME}` replaced by the environment variable NAME.
/// `$${` stands for a literal `${`; any other `$` is kept. Errors name the
/// variable, never the text (which may hold a password).
pub fn expand_env(text: &str) -> Result<String, String> {
    expand_with(text, |name| std::env::var(name).ok())
}

/// [`expand_env`] with the variables looked up by `lookup`.
pub fn expand_with(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(literal) = after.strip_prefix("${") {
            out.push_str("${");
            rest = literal;
        } else if let Some(open) = after.strip_prefix('{') {
            let end = open.find('}').ok_or("an unclosed ${ (write ${NAME}, or $${ for a literal ${)")?;
            let name = &open[..end];
            let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err("${…} holds a variable name: letters, digits and _, not starting with a digit".into());
            }
            let value = lookup(name).ok_or_else(|| format!("${{{name}}}: {name} is not set in the environment"))?;
            out.push_str(&value);
            rest = &open[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// `text` with `%XX` escapes decoded (RFC 3986), for the user name and
/// password of a URL: a password with `@`, `:` or `/` is written `%40`,
/// `%3A`, `%2F`.
pub fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            let byte = hex
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("a % not followed by two hex digits (write %25 for a literal %)")?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "%-escapes that are not UTF-8".to_owned())
}

/// `text` with every byte but letters, digits and `-._~` written `%XX`:
/// the form a user name or password takes in a URL.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A URL cut around its `user[:password]@` part: the scheme, that part
/// (without the `@`) and what follows it. `None` when it has none.
pub fn userinfo(spec: &str) -> Option<(&str, &str, &str)> {
    let (scheme, rest) = spec.split_once("://")?;
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest[..host_end].rfind('@')?;
    Some((scheme, &rest[..at], &rest[at + 1..]))
}

/// The secrets a source spec holds, as written and decoded: the URL's
/// password and the values of secret query keys. ffmpeg may print any of
/// them; [`hide`] removes them from its lines.
pub fn secrets_of(spec: &str) -> Vec<String> {
    let mut found = Vec::new();
    if let Some((_, info, _)) = userinfo(spec) {
        if let Some((_, password)) = info.split_once(':') {
            found.push(password.to_owned());
        }
    }
    if spec.contains("://") {
        if let Some((_, query)) = spec.split_once('?') {
            let query = query.split('#').next().unwrap_or_default();
            for pair in query.split('&') {
                if let Some((key, value)) = pair.split_once('=') {
                    if is_secret_key(key) {
                        found.push(value.to_owned());
                    }
                }
            }
        }
    }
    let decoded: Vec<String> = found.iter().filter_map(|s| percent_decode(s).ok()).collect();
    found.extend(decoded);
    found.retain(|s| !s.is_empty());
    found.sort();
    found.dedup();
    found
}

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    // `api_key`, `access_token`, `camPassword`: hiding too much is harmless.
    SECRET_KEYS.iter().any(|k| key.ends_with(k))
}

/// `spec` as it may be shown: a URL's password and the values of secret
/// query keys replaced by `***`; anything else unchanged.
pub fn redact(spec: &str) -> String {
    let Some((scheme, rest)) = spec.split_once("://") else { return spec.to_owned() };
    let mut shown = match userinfo(spec) {
        Some((_, info, after)) => match info.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:{HIDDEN}@{after}"),
            None => spec.to_owned(),
        },
        None => format!("{scheme}://{rest}"),
    };
    if let Some(q) = shown.find('?') {
        let (head, query) = shown.split_at(q + 1);
        let (query, fragment) = query.split_once('#').map_or((query, None), |(q, f)| (q, Some(f)));
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if is_secret_key(key) => format!("{key}={HIDDEN}"),
                _ => pair.to_owned(),
            })
            .collect();
        shown = format!("{head}{}{}", pairs.join("&"), fragment.map(|f| format!("#{f}")).unwrap_or_default());
    }
    shown
}

/// `line` with every one of `secrets` replaced by `***`.
pub fn hide(line: &str, secrets: &[String]) -> String {
    let mut line = line.to_owned();
    // Longest first, so that a secret holding another is hidden whole.
    let mut secrets: Vec<&String> = secrets.iter().filter(|s| !s.is_empty()).collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets {
        line = line.replace(secret.as_str(), HIDDEN);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "PW" => Some("s3cr3t".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_variables_and_keeps_other_dollars() {
        assert_eq!(expand_with("rtsp://admin:${PW}@cam/s", env).unwrap(), "rtsp://admin:s3cr3t@cam/s");
        assert_eq!(expand_with("a${EMPTY}b", env).unwrap(), "ab");
        assert_eq!(expand_with("pa$$word $5 $", env).unwrap(), "pa$$word $5 $");
        assert_eq!(expand_with("$${PW}", env).unwrap(), "${PW}");
        assert_eq!(expand_with("${PW}${PW}", env).unwrap(), "s3cr3ts3cr3t");
    }

    #[test]
    fn an_unset_or_malformed_variable_is_named_and_the_text_is_not() {
        let e = expand_with("rtsp://admin:hunter2@cam/${CAM_PASSWORD}", env).unwrap_err();
        assert_eq!(e, "${CAM_PASSWORD}: CAM_PASSWORD is not set in the environment");
        for bad in ["x${PW", "${}", "${1A}", "${A-B}"] {
            let e = expand_with(bad, env).unwrap_err();
            assert!(!e.contains(bad), "{e}");
        }
    }

    #[test]
    fn percent_escapes_decode_and_bad_ones_are_refused() {
        assert_eq!(percent_decode("p%40ss%3Aw%2Fd").unwrap(), "p@ss:w/d");
        assert_eq!(percent_decode("plain").unwrap(), "plain");
        assert_eq!(percent_decode("%C3%A9").unwrap(), "é");
        assert_eq!(percent_encode("p@ss:w/d é"), "p%40ss%3Aw%2Fd%20%C3%A9");
        assert_eq!(percent_decode(&percent_encode("p@ss:w/d é%")).unwrap(), "p@ss:w/d é%");
        for bad in ["%", "%4", "%zz", "%FF"] {
            assert!(percent_decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redacts_passwords_and_secret_query_values() {
        assert_eq!(redact("rtsp://admin:pw@cam:554/s"), "rtsp://admin:***@cam:554/s");
        assert_eq!(redact("rtsp://admin@cam/s"), "rtsp://admin@cam/s");
        assert_eq!(
            redact("http://cam/video.cgi?user=admin&pwd=x1&channel=2#t"),
            "http://cam/video.cgi?user=admin&pwd=***&channel=2#t"
        );
        assert_eq!(redact("rtsp://u:p@h/s?token=abc"), "rtsp://u:***@h/s?token=***");
        assert_eq!(redact("videos/a?b.mp4"), "videos/a?b.mp4");
        assert_eq!(redact("demo"), "demo");
    }

    #[test]
    fn finds_every_secret_of_a_spec_raw_and_decoded() {
        assert_eq!(secrets_of("rtsp://u:p%40ss@h/s?api_key=k1"), vec!["k1", "p%40ss", "p@ss"]);
        assert!(secrets_of("rtsp://u@h/s").is_empty());
        assert_eq!(hide("auth p@ss and p%40ss", &secrets_of("rtsp://u:p%40ss@h/")), "auth *** and ***");
    }
}
