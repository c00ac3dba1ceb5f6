//! What the web server reads from a request before it knows who sent it:
//! the `Authorization` and `Cookie` headers and the login form's body, on
//! arbitrary bytes. Nothing panics, and nothing but the exact token or the
//! exact session opens the door.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssd_cam::web::auth::{constant_time_eq, cookie_value, form_value, Access, COOKIE};

const TOKEN: &str = "fuzz-token-0123456789";

fuzz_target!(|data: &[u8]| {
    let access = Access::new(Some(TOKEN.to_owned())).expect("random source");
    let bearer = data.strip_prefix(b"Bearer ").map(<[u8]>::trim_ascii);
    if access.allows(Some(data), None) {
        assert_eq!(bearer, Some(TOKEN.as_bytes()), "{data:?} let in as a bearer token");
    }
    // The session key is random: arbitrary cookies never match it.
    assert!(!access.allows(None, Some(data)) || cookie_value(data, COOKIE).is_some());
    if let Some(token) = form_value(data, "token") {
        assert!(token.len() <= data.len());
        assert_eq!(access.login(&token), token == TOKEN.as_bytes());
    }
    let half = data.len() / 2;
    assert_eq!(constant_time_eq(&data[..half], &data[half..]), data[..half] == data[half..]);
});
