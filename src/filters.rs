//! Object filters per label, with Frigate's names: which detections are
//! objects at all (`min_score`, `min_area`/`max_area`, `min_ratio`/
//! `max_ratio`, applied by the decoder: [`ssd_core::postprocess::ShapeLimits`])
//! and which tracked objects count (`threshold`: the median of the
//! object's recent scores must reach it; `required_zones`: it must have
//! entered one of them; applied by [`crate::events`]). An object that does
//! not count has no event, no MQTT message, no Home Assistant count and no
//! snapshot.
//!
//! `--filter person:min_score=0.6,min_area=2000,required_zones=porch+drive`
//! or, in cameras.toml, a table per label:
//!
//! ```toml
//! [camera.filters.person]
//! min_score = 0.6
//! min_area = 0.01        # up to 1: a fraction of the frame
//! required_zones = ["porch"]
//! ```

use ssd_core::postprocess::{Area, ShapeLimits};

/// One label's filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectFilter {
    /// The label it applies to (any case).
    pub label: String,
    /// Limits on each detection.
    pub limits: ShapeLimits,
    /// The median of the object's recent scores must reach this before it
    /// counts: one high-scoring false frame is not a person.
    pub threshold: Option<f32>,
    /// It counts only once it has entered one of these zones.
    pub required_zones: Vec<String>,
}

/// The keys a filter takes.
pub const KEYS: &str = "min_score, min_area, max_area, min_ratio, max_ratio, threshold, required_zones";

impl ObjectFilter {
    /// A filter for `label` with nothing set.
    pub fn new(label: &str) -> Self {
        Self { label: label.to_owned(), ..Self::default() }
    }

    /// Parses `LABEL:KEY=VALUE[,KEY=VALUE…]` (`required_zones=a+b`).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let bad = |e: String| format!("--filter '{spec}': {e}");
        let (label, rest) = spec.split_once(':').ok_or_else(|| bad("expected LABEL:KEY=VALUE[,KEY=VALUE…]".into()))?;
        let label = label.trim();
        if label.is_empty() {
            return Err(bad("the label is empty".into()));
        }
        let mut filter = Self::new(label);
        for item in rest.split(',') {
            let (key, value) =
                item.split_once('=').ok_or_else(|| bad(format!("'{item}' is not KEY=VALUE (keys: {KEYS})")))?;
            let (key, value) = (key.trim(), value.trim());
            if key == "required_zones" {
                filter.set_zones(value.split('+').map(str::to_owned).collect()).map_err(bad)?;
            } else {
                let number = value.parse::<f64>().map_err(|_| bad(format!("{key}: '{value}' is not a number")))?;
                filter.set(key, number).map_err(bad)?;
            }
        }
        filter.check().map_err(bad)?;
        Ok(filter)
    }

    /// Sets a numeric key.
    pub fn set(&mut self, key: &str, value: f64) -> Result<(), String> {
        let unit = |v: f64| {
            (v.is_finite() && (0.0..=1.0).contains(&v)).then_some(v as f32).ok_or(format!("{key}: {v} is not 0 to 1"))
        };
        let above_zero = |v: f64| {
            (v.is_finite() && v > 0.0 && v <= 1e9).then_some(v as f32).ok_or(format!("{key}: {v} is not above 0"))
        };
        // Up to 1 is a share of the frame, as in Frigate.
        let area = |v: f64| above_zero(v).map(|a| if a <= 1.0 { Area::Fraction(a) } else { Area::Pixels(a) });
        let l = &mut self.limits;
        match key {
            "min_score" => l.min_score = Some(unit(value)?),
            "threshold" => self.threshold = Some(unit(value)?),
            "min_area" => l.min_area = Some(area(value)?),
            "max_area" => l.max_area = Some(area(value)?),
            "min_ratio" => l.min_ratio = Some(above_zero(value)?),
            "max_ratio" => l.max_ratio = Some(above_zero(value)?),
            "required_zones" => return Err("required_zones: a list of zone names, not a number".into()),
            _ => return Err(format!("unknown key '{key}' (keys: {KEYS})")),
        }
        Ok(())
    }

    /// Sets the required zones.
    pub fn set_zones(&mut self, zones: Vec<String>) -> Result<(), String> {
        if let Some(z) = zones.iter().find(|z| z.trim().is_empty()) {
            return Err(format!("required_zones: '{z}' is not a zone name"));
        }
        self.required_zones = zones.into_iter().map(|z| z.trim().to_owned()).collect();
        Ok(())
    }

    /// The limits agree with each other.
    pub fn check(&self) -> Result<(), String> {
        let l = &self.limits;
        if let (Some(min), Some(max)) = (l.min_ratio, l.max_ratio) {
            if min > max {
                return Err(format!("min_ratio {min} is above max_ratio {max}"));
            }
        }
        if let (Some(Area::Pixels(min)), Some(Area::Pixels(max)))
        | (Some(Area::Fraction(min)), Some(Area::Fraction(max))) = (l.min_area, l.max_area)
        {
            if min > max {
                return Err(format!("min_area {min} is above max_area {max}"));
            }
        }
        Ok(())
    }

    /// Lays `other`'s settings over this one's (a later `--filter` for the
    /// same label adds to an earlier one).
    pub fn merge(&mut self, other: &ObjectFilter) {
        let (l, o) = (&mut self.limits, &other.limits);
        l.min_score = o.min_score.or(l.min_score);
        l.min_area = o.min_area.or(l.min_area);
        l.max_area = o.max_area.or(l.max_area);
        l.min_ratio = o.min_ratio.or(l.min_ratio);
        l.max_ratio = o.max_ratio.or(l.max_ratio);
        self.threshold = other.threshold.or(self.threshold);
        if !other.required_zones.is_empty() {
            self.required_zones.clone_from(&other.required_zones);
        }
    }

    /// The filter from a cameras.toml table (`[camera.filters.LABEL]`).
    pub fn from_table(label: &str, table: &toml::Table) -> Result<Self, String> {
        let mut filter = Self::new(label);
        for (key, value) in table {
            match (key.as_str(), value) {
                ("required_zones", toml::Value::Array(zones)) => {
                    let names = zones
                        .iter()
                        .map(|z| z.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                        .ok_or("required_zones: a list of zone names")?;
                    filter.set_zones(names)?;
                }
                (_, toml::Value::Integer(i)) => filter.set(key, *i as f64)?,
                (_, toml::Value::Float(f)) => filter.set(key, *f)?,
                ("required_zones", _) => return Err("required_zones: a list of zone names".into()),
                _ => filter.set(key, f64::NAN).map_err(|e| {
                    if e.starts_with("unknown") {
                        e
                    } else {
                        format!("{key}: a number")
                    }
                })?,
            }
        }
        filter.check()?;
        Ok(filter)
    }
}

/// Adds `filter` to `filters`, merged with the one for the same label.
pub fn add(filters: &mut Vec<ObjectFilter>, filter: ObjectFilter) {
    match filters.iter_mut().find(|f| f.label.eq_ignore_ascii_case(&filter.label)) {
        Some(f) => f.merge(&filter),
        None => filters.push(filter),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_form_parses_and_says_what_is_wrong() {
        let f =
            ObjectFilter::parse("person:min_score=0.6,min_area=2000,max_area=0.5,required_zones=porch+drive").unwrap();
        assert_eq!(f.label, "person");
        assert_eq!(f.limits.min_score, Some(0.6));
        assert_eq!(f.limits.min_area, Some(Area::Pixels(2000.0)));
        assert_eq!(f.limits.max_area, Some(Area::Fraction(0.5)));
        assert_eq!(f.required_zones, ["porch", "drive"]);
        for (bad, says) in [
            ("person", "expected LABEL:"),
            (":min_score=0.5", "label is empty"),
            ("person:min_score", "not KEY=VALUE"),
            ("person:min_score=high", "not a number"),
            ("person:min_score=1.5", "not 0 to 1"),
            ("person:min_area=-3", "not above 0"),
            ("person:colour=3", "unknown key 'colour'"),
            ("person:min_ratio=2,max_ratio=1", "min_ratio 2 is above max_ratio 1"),
            ("person:required_zones=a++b", "not a zone name"),
        ] {
            let e = ObjectFilter::parse(bad).unwrap_err();
            assert!(e.contains(says) && e.starts_with("--filter '"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_toml_table_gives_the_same_filter_and_later_filters_merge() {
        let table: toml::Table =
            "min_score = 0.6\nmin_area = 2000\nthreshold = 0.7\nrequired_zones = [\"porch\"]".parse().unwrap();
        let from_toml = ObjectFilter::from_table("person", &table).unwrap();
        let from_cli = ObjectFilter::parse("person:min_score=0.6,min_area=2000,threshold=0.7,required_zones=porch");
        assert_eq!(Ok(from_toml), from_cli);
        let bad: toml::Table = "min_score = \"high\"".parse().unwrap();
        assert_eq!(ObjectFilter::from_table("person", &bad), Err("min_score: a number".into()));
        let bad: toml::Table = "size = 3".parse().unwrap();
        assert!(ObjectFilter::from_table("person", &bad).unwrap_err().starts_with("unknown key 'size'"));

        let mut all = Vec::new();
        add(&mut all, ObjectFilter::parse("person:min_score=0.6").unwrap());
        add(&mut all, ObjectFilter::parse("car:min_area=5000").unwrap());
        add(&mut all, ObjectFilter::parse("Person:threshold=0.7").unwrap());
        assert_eq!(all.len(), 2);
        assert_eq!((all[0].limits.min_score, all[0].threshold), (Some(0.6), Some(0.7)));
    }
}
