//! `--mqtt URL`: `mqtt[s]://[user[:password]@]host[:port][/prefix]`, the
//! user and password percent-decoded (`p%40ss` is `p@ss`).

/// A parsed `--mqtt` URL. Its `Display` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct MqttUrl {
    /// `mqtts://`: TLS.
    pub tls: bool,
    /// Broker host name or address.
    pub host: String,
    /// Broker port (1883, or 8883 with TLS, when the URL has none).
    pub port: u16,
    /// User name and password, if given.
    pub login: Option<(String, String)>,
    /// Topic prefix (`ssd-cam` when the URL has no path).
    pub prefix: String,
}

impl std::fmt::Debug for MqttUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

impl std::fmt::Display for MqttUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        let user = self
            .login
            .as_ref()
            .map(|(u, _)| format!("{}:{}@", crate::secrets::percent_encode(u), crate::secrets::HIDDEN))
            .unwrap_or_default();
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        write!(f, "{scheme}://{user}{host}:{}/{}", self.port, self.prefix)
    }
}

impl MqttUrl {
    /// Parses `mqtt[s]://[user[:password]@]host[:port][/prefix]`. Errors
    /// never repeat the password.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let safe = crate::secrets::redact(spec);
        let bad = |why: &str| format!("'{safe}': {why} (expected mqtt://[user:pass@]host[:port]/prefix)");
        let (scheme, rest) = spec.split_once("://").ok_or_else(|| bad("not a URL"))?;
        let tls = match scheme {
            "mqtt" | "tcp" => false,
            "mqtts" | "ssl" => true,
            _ => return Err(bad("the scheme must be mqtt or mqtts")),
        };
        let (authority, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let (login, hostport) = match authority.rsplit_once('@') {
            Some((info, hostport)) => {
                let (user, pass) = info.split_once(':').unwrap_or((info, ""));
                if user.is_empty() {
                    return Err(bad("empty user name"));
                }
                let decode = |part: &str, what: &str| {
                    crate::secrets::percent_decode(part).map_err(|e| bad(&format!("the {what}: {e}")))
                };
                (Some((decode(user, "user name")?, decode(pass, "password")?)), hostport)
            }
            None => (None, authority),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or_else(|| bad("text after ]"))?),
            };
            (host, port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        let bracketed = hostport.starts_with('[');
        if host.is_empty()
            || host.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '@' | '[' | ']'))
            || (!bracketed && host.contains(':'))
        {
            return Err(bad("no valid host"));
        }
        let port = match port {
            Some(p) => p.parse::<u16>().ok().filter(|&p| p > 0).ok_or_else(|| bad("the port must be 1 to 65535"))?,
            None if tls => 8883,
            None => 1883,
        };
        let prefix = prefix.trim_end_matches('/');
        if prefix.contains(['+', '#', '\0']) || prefix.split('/').any(str::is_empty) && !prefix.is_empty() {
            return Err(bad("the topic prefix must not hold +, # or empty levels"));
        }
        let prefix = if prefix.is_empty() { "ssd-cam".to_owned() } else { prefix.to_owned() };
        Ok(Self { tls, host: host.to_owned(), port, login, prefix })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_defaults_and_hide_the_password() {
        let u = MqttUrl::parse("mqtt://cam:s3cret@broker.lan:1884/home/cams").unwrap();
        assert_eq!((u.tls, u.host.as_str(), u.port, u.prefix.as_str()), (false, "broker.lan", 1884, "home/cams"));
        assert_eq!(u.login, Some(("cam".into(), "s3cret".into())));
        assert_eq!(u.to_string(), "mqtt://cam:***@broker.lan:1884/home/cams");
        assert!(!format!("{u:?}").contains("s3cret"));
        let u = MqttUrl::parse("mqtt://cam%40home:p%40ss%3Aw%2Fd@broker.lan").unwrap();
        assert_eq!(u.login, Some(("cam@home".into(), "p@ss:w/d".into())));
        assert_eq!(u.host, "broker.lan");
        let u = MqttUrl::parse("mqtts://10.0.0.2").unwrap();
        assert_eq!((u.tls, u.port, u.prefix.as_str(), u.login), (true, 8883, "ssd-cam", None));
        let u = MqttUrl::parse("mqtt://[::1]:1883/").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 1883));
    }

    #[test]
    fn bad_urls_are_one_line_errors_without_the_password() {
        for bad in [
            "broker.lan",
            "http://broker.lan",
            "mqtt://",
            "mqtt://u:pw@",
            "mqtt://host:0",
            "mqtt://host:99999",
            "mqtt://host/a/+/b",
            "mqtt://host/a//b",
            "mqtt://:pw@host",
            "mqtt://a@b:]:1",
            "mqtt://a:b:1",
        ] {
            let e = MqttUrl::parse(bad).expect_err(bad);
            assert!(!e.contains('\n') && e.contains("mqtt://"), "{e}");
        }
        for bad in ["mqtt://u:hunter2@host:x/p", "mqtt://u:hunter2%zz@host/p"] {
            let e = MqttUrl::parse(bad).unwrap_err();
            assert!(!e.contains("hunter2"), "{e}");
        }
    }
}
