//! Topic names: every level made safe, all under `PREFIX/SOURCE/`.

/// `name` as one topic level: `/`, `+`, `#` and control characters become
/// `_`, so a source or label can never add levels or wildcards.
pub fn topic_safe(name: &str) -> String {
    let safe: String =
        name.chars().map(|c| if matches!(c, '/' | '+' | '#') || c.is_control() { '_' } else { c }).collect();
    if safe.is_empty() {
        "_".to_owned()
    } else {
        safe
    }
}

/// The topic base of camera `source` under the `--mqtt` prefix.
pub fn base(prefix: &str, source: &str) -> String {
    format!("{prefix}/{}", topic_safe(source))
}

#[derive(Debug, Clone)]
pub(crate) struct Topics {
    pub(crate) base: String,
}

impl Topics {
    pub(crate) fn stats(&self) -> String {
        format!("{}/stats", self.base)
    }
    pub(crate) fn switch(&self, switch: crate::switches::Switch, end: &str) -> String {
        format!("{}/{}/{end}", self.base, switch.name())
    }
    pub(crate) fn state(&self) -> String {
        format!("{}/state", self.base)
    }
    pub(crate) fn events(&self) -> String {
        format!("{}/events", self.base)
    }
    pub(crate) fn detections(&self) -> String {
        format!("{}/detections", self.base)
    }
    pub(crate) fn label(&self, label: &str) -> String {
        format!("{}/{}", self.base, topic_safe(label))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_single_topic_levels() {
        assert_eq!(topic_safe("rtsp://cam/1+#"), "rtsp:__cam_1__");
        assert_eq!(topic_safe("door.mp4"), "door.mp4");
        assert_eq!(topic_safe(""), "_");
    }
}
