//! `--config cameras.toml`: several cameras in one run, each with its own
//! source and settings (the rest of the command line applies to all).
//!
//! ```toml
//! [[camera]]
//! name = "porch"                     # in JSON `source`, events, MQTT topics
//! source = "rtsp://user:pass@192.168.1.20:554/stream1"   # or device = "/dev/video0"
//! threshold = 0.5
//! classes = ["person"]
//! min_size = 40
//! detect = "motion"                  # auto | always | motion
//! zones = ["door=100,200,300,200,300,400,100,400"]
//! lines = ["gate=0,300,640,300"]
//! motion_mask = ["0,0,640,0,640,40,0,40"]
//! ```
//!
//! Every error is one line naming the file's line (TOML syntax), or the
//! camera and the field.

use crate::zones::{parse_mask, Line, Zone};

/// One camera of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraConfig {
    /// Its name in outputs.
    pub name: String,
    /// `device` (true) or `source`.
    pub device: bool,
    /// The device path or source spec.
    pub input: String,
    /// Score threshold.
    pub threshold: Option<f32>,
    /// Classes kept (labels or ids); empty: all.
    pub classes: Vec<String>,
    /// Least box side, pixels.
    pub min_size: Option<f32>,
    /// `auto`, `always` or `motion`.
    pub detect: Option<String>,
    /// Zones for events.
    pub zones: Vec<Zone>,
    /// Counting lines for events.
    pub lines: Vec<Line>,
    /// Where motion is ignored.
    pub motion_mask: Vec<Zone>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCamera {
    name: Option<String>,
    source: Option<String>,
    device: Option<String>,
    threshold: Option<f64>,
    #[serde(default)]
    classes: Vec<String>,
    min_size: Option<f64>,
    detect: Option<String>,
    #[serde(default)]
    zones: Vec<String>,
    #[serde(default)]
    lines: Vec<String>,
    #[serde(default)]
    motion_mask: Vec<String>,
}

/// Whether `name` may name a camera: 1 to 64 letters, digits, `-`, `_`, `.`
/// (it becomes a topic level and a folder name).
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!("'{name}': a name is 1 to 64 letters, digits, '-', '_' or '.'"))
    }
}

/// Parses a cameras file.
pub fn parse_cameras(text: &str) -> Result<Vec<CameraConfig>, String> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let line = e.span().map_or(0, |s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        format!("line {line}: {}", e.message().trim())
    })?;
    if let Some(key) = table.keys().find(|k| *k != "camera") {
        return Err(format!("unknown key '{key}': the file holds [[camera]] tables"));
    }
    let cameras =
        table.get("camera").and_then(toml::Value::as_array).filter(|c| !c.is_empty()).ok_or("no [[camera]] table")?;
    let mut out: Vec<CameraConfig> = Vec::with_capacity(cameras.len());
    for (i, value) in cameras.iter().enumerate() {
        let who = value
            .get("name")
            .and_then(toml::Value::as_str)
            .map_or_else(|| format!("camera #{}", i + 1), |n| format!("camera '{n}'"));
        let camera = one(value, &who)?;
        if out.iter().any(|c| c.name == camera.name) {
            return Err(format!("{who}: name: two cameras are called '{}'", camera.name));
        }
        out.push(camera);
    }
    Ok(out)
}

fn one(value: &toml::Value, who: &str) -> Result<CameraConfig, String> {
    let raw: RawCamera = serde::Deserialize::deserialize(value.clone()).map_err(|e: toml::de::Error| {
        let message = e.message().trim().to_owned();
        format!("{who}: {message}")
    })?;
    let field = |name: &str, e: String| format!("{who}: {name}: {e}");
    let name = raw.name.ok_or_else(|| field("name", "missing (every camera needs one)".into()))?;
    check_name(&name).map_err(|e| field("name", e))?;
    let (device, input) = match (raw.source, raw.device) {
        (Some(s), None) if !s.trim().is_empty() => (false, s),
        (None, Some(d)) if !d.trim().is_empty() => (true, d),
        (Some(_), Some(_)) => return Err(field("source", "give source or device, not both".into())),
        _ => return Err(field("source", "missing (give source = \"…\" or device = \"/dev/videoN\")".into())),
    };
    if let Some(t) = raw.threshold.filter(|t| !(0.0..=1.0).contains(t)) {
        return Err(field("threshold", format!("{t} is not between 0 and 1")));
    }
    if let Some(m) = raw.min_size.filter(|m| !(m.is_finite() && *m >= 0.0)) {
        return Err(field("min_size", format!("{m} is not a size in pixels")));
    }
    if let Some(d) = raw.detect.as_deref().filter(|d| !["auto", "always", "motion"].contains(d)) {
        return Err(field("detect", format!("'{d}' is not auto, always or motion")));
    }
    let zones = raw.zones.iter().map(|z| Zone::parse(z)).collect::<Result<_, _>>().map_err(|e| field("zones", e))?;
    let lines = raw.lines.iter().map(|l| Line::parse(l)).collect::<Result<_, _>>().map_err(|e| field("lines", e))?;
    let motion_mask =
        raw.motion_mask.iter().map(|m| parse_mask(m)).collect::<Result<_, _>>().map_err(|e| field("motion_mask", e))?;
    Ok(CameraConfig {
        name,
        device,
        input,
        threshold: raw.threshold.map(|t| t as f32),
        classes: raw.classes,
        min_size: raw.min_size.map(|m| m as f32),
        detect: raw.detect,
        zones,
        lines,
        motion_mask,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[camera]]
name = "porch"
source = "demo:fps=30"
threshold = 0.5
classes = ["circle"]
zones = ["door=0,0,100,0,100,100,0,100"]

[[camera]]
name = "garage"
device = "/dev/video2"
detect = "always"
"#;

    #[test]
    fn a_good_file_gives_each_camera_its_settings() {
        let c = parse_cameras(GOOD).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].name.as_str(), c[0].device, c[0].input.as_str()), ("porch", false, "demo:fps=30"));
        assert_eq!(c[0].threshold, Some(0.5));
        assert_eq!(c[0].classes, vec!["circle".to_string()]);
        assert_eq!(c[0].zones.len(), 1);
        assert_eq!((c[1].device, c[1].input.as_str(), c[1].detect.as_deref()), (true, "/dev/video2", Some("always")));
        assert!(c[1].zones.is_empty() && c[1].threshold.is_none());
    }

    #[test]
    fn each_bad_entry_is_one_line_naming_the_camera_and_the_field() {
        let cases = [
            (
                GOOD.replace("threshold = 0.5", "threshold = 1.5"),
                "camera 'porch': threshold: 1.5 is not between 0 and 1",
            ),
            (GOOD.replace("threshold = 0.5", "treshold = 0.5"), "camera 'porch': unknown field `treshold`"),
            (GOOD.replace("detect = \"always\"", "detect = \"never\""), "camera 'garage': detect: 'never'"),
            (GOOD.replace("door=0,0,100,0,100,100,0,100", "door=0,0"), "camera 'porch': zones: "),
            (GOOD.replace("name = \"garage\"", "name = \"porch\""), "camera 'porch': name: two cameras"),
            (GOOD.replace("name = \"garage\"\n", ""), "camera #2: name: missing"),
            (GOOD.replace("device = \"/dev/video2\"", ""), "camera 'garage': source: missing"),
            (GOOD.replace("name = \"garage\"", "name = \"a/b\""), "camera 'a/b': name: 'a/b'"),
            (GOOD.replace("threshold = 0.5", "threshold = \"high\""), "camera 'porch': invalid type"),
            (GOOD.replace("[[camera]]\nname = \"garage\"", "[[camera]\nname = \"garage\""), "line 9: "),
            ("[other]\nx = 1\n".to_string(), "unknown key 'other'"),
            (String::new(), "no [[camera]] table"),
        ];
        for (text, want) in cases {
            let err = parse_cameras(&text).unwrap_err();
            assert!(err.starts_with(want), "{err:?} does not start with {want:?}");
            assert!(!err.contains('\n'), "{err:?} is not one line");
        }
    }
}
