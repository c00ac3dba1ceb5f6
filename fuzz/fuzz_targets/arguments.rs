//! Parsers of command-line values on arbitrary text: `--filter` (what
//! parses has a label and scores between 0 and 1), `--zone`, `--line` and `--zones-file`
//! (what parses is put to work: containment and crossing tests never
//! panic), `--mqtt` (what parses prints as a URL that parses the same,
//! without the password) and `--config` cameras files (every camera that
//! parses has a good name, one source, and a threshold in range; their
//! `[engine]` table's errors are one line, and a file without one keeps the
//! flags' engine), and the
//! secret handling: `${NAME}` expansion (text without `$` is unchanged, an
//! error is one line), percent-decoding (what encodes decodes back), and
//! the names made from a source (always a valid camera name).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssd_cam::mqtt::MqttUrl;
use ssd_cam::zones::{parse_places, Line, Zone};

/// The command line's camera, which a cameras file is laid over (made
/// once: parsing the arguments for every input slowed the target tenfold).
fn base() -> &'static ssd_cam::config::Camera {
    static BASE: std::sync::OnceLock<ssd_cam::config::Camera> = std::sync::OnceLock::new();
    BASE.get_or_init(|| {
        let input = ssd_cam::config::Input::Source("demo".into());
        ssd_cam::cli::default_camera(input).expect("the default camera builds")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    secrets(text);
    if let Ok(f) = ssd_cam::filters::ObjectFilter::parse(text) {
        assert!(!f.label.trim().is_empty() && f.check().is_ok());
        for score in [f.limits.min_score, f.threshold].into_iter().flatten() {
            assert!((0.0..=1.0).contains(&score), "{text}: {score}");
        }
        assert!(f.required_zones.iter().all(|z| !z.is_empty()));
    }
    let probe = [[0.0, 0.0], [1e30, -1e30], [-5.5, 7.25], [f32::MAX, f32::MIN]];
    if let Ok(z) = Zone::parse(text) {
        assert!(z.polygon.len() >= 3 && !z.name.is_empty());
        for p in probe {
            let _ = z.contains(p);
        }
    }
    if let Ok(l) = Line::parse(text) {
        assert!(l.a != l.b);
        // Named ways are two different, non-empty names.
        assert!(l.sides.as_ref().is_none_or(|[a, b]| a != b && !a.is_empty() && !b.is_empty()));
        for w in probe.windows(2) {
            if let Some(way) = l.crossed(w[0], w[1]) {
                assert!(!l.way_name(way).is_empty());
            }
        }
    }
    if let Ok((zones, lines)) = parse_places(text) {
        assert!(zones.iter().all(|z| z.polygon.len() >= 3) && lines.iter().all(|l| l.a != l.b));
    }
    match ssd_cam::config::parse_cameras_over(text, base()) {
        Ok(cameras) => {
            for c in &cameras {
                let name = c.name.as_deref().unwrap_or_default();
                assert!(ssd_cam::config::check_name(name).is_ok() && !c.input.spec().trim().is_empty());
                assert!(c.detection.threshold.is_none_or(|t| (0.0..=1.0).contains(&t)));
            }
        }
        Err(e) => assert!(!e.contains('\n'), "{e:?} is more than one line"),
    }
    let flags = ssd_cam::cli::EngineArgs::default();
    match ssd_cam::config::parse_engine_over(text, flags) {
        // A file that cannot name an [engine] table (no escapes either) keeps the flags' engine.
        Ok(engine) if !text.contains("engine") && !text.contains('\\') => assert_eq!(engine, flags),
        Ok(_) => {}
        Err(e) => assert!(!e.contains('\n'), "{e:?} is more than one line"),
    }
    if let Ok(url) = MqttUrl::parse(text) {
        let shown = url.to_string();
        let again = MqttUrl::parse(&shown).unwrap_or_else(|e| panic!("{shown:?} does not parse again: {e}"));
        let user = |u: &MqttUrl| u.login.as_ref().map(|(user, _)| user.clone());
        assert_eq!((&again.host, again.port, again.tls, &again.prefix), (&url.host, url.port, url.tls, &url.prefix));
        assert_eq!(user(&again), user(&url));
        if let Some((_, pw)) = url.login.as_ref().filter(|(_, pw)| pw != "***") {
            // The prefix may hold the same text; the login part must not.
            let login = shown.split_once("://").map_or("", |(_, rest)| rest.split('/').next().unwrap_or_default());
            assert!(!login.contains(&format!(":{pw}@")), "{shown:?} shows the password");
        }
    }
});

fn secrets(text: &str) {
    use ssd_cam::secrets::*;
    match expand_with(text, |name| (name.len() % 2 == 0).then(|| name.to_lowercase())) {
        Ok(expanded) => assert!(text.contains('$') || expanded == text),
        Err(e) => assert!(!e.contains('\n'), "{e:?} is more than one line"),
    }
    if let Ok(decoded) = percent_decode(text) {
        assert_eq!(percent_decode(&percent_encode(&decoded)).as_deref(), Ok(decoded.as_str()));
    }
    let _ = hide(&redact(text), &secrets_of(text));
    for input in [ssd_cam::config::Input::Source(text.into()), ssd_cam::config::Input::Device(text.into())] {
        let name = input.default_name();
        assert!(ssd_cam::config::check_name(&name).is_ok(), "{text:?} named {name:?}");
    }
}
