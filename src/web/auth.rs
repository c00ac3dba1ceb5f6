//! Who may use the web viewer: a bearer token (scripts, Prometheus) or a
//! session cookie set by the login form (browsers). The token is never
//! logged; the cookie holds a random session key made at start, not the
//! token, so a leaked cookie ends with the run.

/// The name of the session cookie.
pub const COOKIE: &str = "ssd_cam_session";

/// What a request must show; `None` parts are not required (a loopback
/// address without a token, or `--http-insecure`).
#[derive(Clone)]
pub struct Access {
    token: Option<Vec<u8>>,
    session: String,
}

impl std::fmt::Debug for Access {
    // The token stays out of every log line and panic message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access").field("token", &self.token.as_ref().map(|_| "***")).finish_non_exhaustive()
    }
}

impl Access {
    /// Requires `token` when given. The session key comes from the system's
    /// random source.
    pub fn new(token: Option<String>) -> Result<Self, String> {
        let mut key = [0u8; 24];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
            .map_err(|_| "cannot read the system's random source for the session key".to_owned())?;
        let session = key.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self { token: token.map(String::into_bytes), session })
    }

    /// Whether requests must show the token.
    pub fn required(&self) -> bool {
        self.token.is_some()
    }

    /// Whether a request with these `Authorization` and `Cookie` header
    /// values may pass.
    pub fn allows(&self, authorization: Option<&[u8]>, cookie: Option<&[u8]>) -> bool {
        let Some(token) = &self.token else { return true };
        let bearer = authorization.and_then(|a| a.strip_prefix(b"Bearer ")).map(|t| t.trim_ascii());
        let by_token = bearer.is_some_and(|t| constant_time_eq(t, token));
        let by_cookie =
            cookie.and_then(|c| cookie_value(c, COOKIE)).is_some_and(|s| constant_time_eq(s, self.session.as_bytes()));
        by_token | by_cookie
    }

    /// Whether the login form's token is right.
    pub fn login(&self, given: &[u8]) -> bool {
        self.token.as_ref().is_none_or(|t| constant_time_eq(given, t))
    }

    /// The `Set-Cookie` value after a good login (`Secure` over TLS).
    pub fn cookie(&self, tls: bool) -> String {
        let secure = if tls { "; Secure" } else { "" };
        format!("{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{secure}", self.session)
    }
}

/// Compares in time that depends only on the lengths, so that a guess
/// learns nothing from how long the answer took about how much of it was
/// right.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i).copied().unwrap_or(0), b.get(i).copied().unwrap_or(0));
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie_value<'a>(header: &'a [u8], name: &str) -> Option<&'a [u8]> {
    header.split(|&b| b == b';').find_map(|pair| {
        let pair = pair.trim_ascii();
        let (k, v) = pair.split_at(pair.iter().position(|&b| b == b'=')?);
        (k == name.as_bytes()).then(|| &v[1..])
    })
}

/// The value of `name` in an `application/x-www-form-urlencoded` body,
/// decoded (`+` is a space, `%XX` a byte); `None` when absent or malformed.
pub fn form_value(body: &[u8], name: &str) -> Option<Vec<u8>> {
    let raw = body.split(|&b| b == b'&').find_map(|pair| {
        let at = pair.iter().position(|&b| b == b'=')?;
        (&pair[..at] == name.as_bytes()).then(|| &pair[at + 1..])
    })?;
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(raw.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_only_when_every_byte_and_the_length_match() {
        assert!(constant_time_eq(b"secret-token", b"secret-token"));
        assert!(!constant_time_eq(b"secret-token", b"secret-tokeN"));
        assert!(!constant_time_eq(b"secret-token", b"secret-token-"));
        assert!(!constant_time_eq(b"secret", b"secret\0"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn bearer_token_or_session_cookie_lets_in_nothing_else_does() {
        let access = Access::new(Some("s3cret-t0ken".into())).unwrap();
        assert!(access.required());
        assert!(access.allows(Some(b"Bearer s3cret-t0ken"), None));
        assert!(!access.allows(Some(b"Bearer s3cret-t0ke"), None));
        assert!(!access.allows(Some(b"Basic s3cret-t0ken"), None));
        assert!(!access.allows(Some(b"s3cret-t0ken"), None));
        assert!(!access.allows(None, None));
        let cookie = access.cookie(false);
        let value = cookie.split(';').next().unwrap();
        assert!(access.allows(None, Some(format!("theme=dark; {value}").as_bytes())));
        assert!(!access.allows(None, Some(format!("{COOKIE}=s3cret-t0ken").as_bytes())), "the token is not a session");
        assert!(!access.allows(None, Some(b"ssd_cam_session=")));
        assert!(!cookie.contains("s3cret"), "{cookie}");
        assert!(access.cookie(true).ends_with("; Secure"));
        assert!(access.login(b"s3cret-t0ken") && !access.login(b"guess"));
        assert!(!format!("{access:?}").contains("s3cret"));
    }

    #[test]
    fn without_a_token_everyone_passes() {
        let open = Access::new(None).unwrap();
        assert!(!open.required());
        assert!(open.allows(None, None));
    }

    #[test]
    fn sessions_differ_between_runs() {
        let (a, b) = (Access::new(None).unwrap(), Access::new(None).unwrap());
        assert_ne!(a.cookie(false), b.cookie(false));
    }

    #[test]
    fn form_fields_are_url_decoded() {
        assert_eq!(form_value(b"token=a%2Bb+c&x=1", "token").unwrap(), b"a+b c");
        assert_eq!(form_value(b"x=1&token=", "token").unwrap(), b"");
        assert_eq!(form_value(b"tokens=1", "token"), None);
        assert_eq!(form_value(b"token=%zz", "token"), None);
        assert_eq!(form_value(b"token=%4", "token"), None);
        assert_eq!(cookie_value(b"a=1; b=2", "b"), Some(&b"2"[..]));
        assert_eq!(cookie_value(b"ab=1", "b"), None);
    }
}
