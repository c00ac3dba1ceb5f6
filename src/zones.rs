//! Named zones (polygons) and counting lines in source pixels, for events:
//! `--zone door=100,200,300,200,300,400,100,400`, `--line gate=0,300,640,300`
//! (`--line door=0,300,640,300,in,out` names the two ways it is crossed).
//! An object is where its box's bottom centre is (its feet, for a person
//! seen from the side or above). Many places can come from a file
//! (`--zones-file`, [`parse_places`]).

use ssd_core::boxes::BBox;

/// The most zones a camera takes (an object's zones are a bit set).
pub const MAX_ZONES: usize = 64;

/// A camera's zones and counting lines as pictures show them, with each
/// line's crossings so far.
#[derive(Debug, Clone, Copy, Default)]
pub struct Places<'a> {
    /// The zones.
    pub zones: &'a [Zone],
    /// The counting lines.
    pub lines: &'a [Line],
    /// Per line: crossings left to right, right to left.
    pub counts: &'a [[u64; 2]],
}

impl Places<'_> {
    /// Whether there is nothing to draw.
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty() && self.lines.is_empty()
    }
}

/// A named polygon.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    /// Its name, as events report it.
    pub name: String,
    /// Corners in source pixels, at least three.
    pub polygon: Vec<[f32; 2]>,
    /// The labels it counts (`NAME:person+car=…`); empty: all.
    pub labels: Vec<String>,
}

/// A named counting line from `a` to `b`.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Its name, as events report it.
    pub name: String,
    /// Start, source pixels.
    pub a: [f32; 2],
    /// End, source pixels.
    pub b: [f32; 2],
    /// What the user calls a crossing each way (`in`, `out`): from the
    /// line's left to its right, and back. `None`: the geometric names.
    pub sides: Option<[String; 2]>,
}

/// Which way an object crossed a line, seen from `a` looking at `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From its left side to its right.
    LeftToRight,
    /// From its right side to its left.
    RightToLeft,
}

/// Where an object is: its box's bottom centre.
pub fn anchor(b: &BBox) -> [f32; 2] {
    [(b.x1 + b.x2) / 2.0, b.y2]
}

/// Whether `name` is a name places and sides may have: 1 to 64 letters,
/// digits, `_` or `-` (it becomes part of MQTT topics and JSON).
fn is_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `name=n1,n2,…` into the name and its numbers.
fn parse_named(spec: &str, what: &str) -> Result<(String, Vec<f32>), String> {
    let (name, numbers) =
        spec.split_once('=').ok_or_else(|| format!("{what} '{spec}': expected NAME=x1,y1,x2,y2,…"))?;
    parse_numbers(spec, what, name, numbers.split(','))
}

fn parse_numbers<'a>(
    spec: &str,
    what: &str,
    name: &str,
    numbers: impl Iterator<Item = &'a str>,
) -> Result<(String, Vec<f32>), String> {
    let name = name.trim();
    if !is_name(name) {
        return Err(format!("{what} '{spec}': the name must be 1 to 64 letters, digits, '_' or '-'"));
    }
    let numbers = numbers
        .map(|v| v.trim().parse::<f32>().ok().filter(|v| v.is_finite()))
        .collect::<Option<Vec<f32>>>()
        .ok_or_else(|| format!("{what} '{spec}': the coordinates must be numbers, x1,y1,x2,y2,…"))?;
    Ok((name.to_owned(), numbers))
}

/// Zones and lines from a file's text: one per line, `zone NAME=x1,y1,…`
/// or `line NAME=x1,y1,x2,y2[,IN,OUT]`; blank lines and `#` comments are skipped.
/// Errors name the line.
pub fn parse_places(text: &str) -> Result<(Vec<Zone>, Vec<Line>), String> {
    let (mut zones, mut lines) = (Vec::new(), Vec::new());
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let at = |e: String| format!("line {}: {e}", i + 1);
        match line.split_once(char::is_whitespace) {
            Some(("zone", spec)) => zones.push(Zone::parse(spec.trim()).map_err(at)?),
            Some(("line", spec)) => lines.push(Line::parse(spec.trim()).map_err(at)?),
            _ => return Err(at(format!("'{line}': expected 'zone NAME=x1,y1,…' or 'line NAME=x1,y1,x2,y2'"))),
        }
    }
    Ok((zones, lines))
}

/// A `--motion-mask` polygon, `x1,y1,x2,y2,x3,y3[,…]` (no name).
pub fn parse_mask(spec: &str) -> Result<Zone, String> {
    Zone::parse(&format!("mask={spec}")).map_err(|e| e.replacen("--zone 'mask=", "--motion-mask '", 1))
}

impl Zone {
    /// Parses `NAME=x1,y1,x2,y2,x3,y3[,…]`, or `NAME:LABEL[+LABEL…]=…` for
    /// a zone that counts only objects with those labels.
    pub fn parse(spec: &str) -> Result<Zone, String> {
        let Some((head, numbers)) = spec.split_once('=') else {
            return Err(format!("--zone '{spec}': expected NAME=x1,y1,x2,y2,…"));
        };
        let (name, labels) = match head.split_once(':') {
            Some((name, labels)) => {
                let labels: Vec<String> = labels.split('+').map(|l| l.trim().to_owned()).collect();
                if labels.iter().any(String::is_empty) {
                    return Err(format!("--zone '{spec}': expected NAME:LABEL[+LABEL…]=x1,y1,…"));
                }
                (name, labels)
            }
            None => (head, Vec::new()),
        };
        let (name, n) = parse_named(&format!("{name}={numbers}"), "--zone")
            .map_err(|e| e.replacen(&format!("'{name}={numbers}'"), &format!("'{spec}'"), 1))?;
        if n.len() < 6 || n.len() % 2 != 0 {
            return Err(format!("--zone '{spec}': a zone needs 3 or more x,y corners"));
        }
        Ok(Zone { name, polygon: n.chunks_exact(2).map(|p| [p[0], p[1]]).collect(), labels })
    }

    /// Whether `p` is inside (even-odd rule).
    pub fn contains(&self, p: [f32; 2]) -> bool {
        let mut inside = false;
        let n = self.polygon.len();
        for i in 0..n {
            let (a, b) = (self.polygon[i], self.polygon[(i + n - 1) % n]);
            if (a[1] > p[1]) != (b[1] > p[1]) {
                let x = a[0] + (p[1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1]);
                if p[0] < x {
                    inside = !inside;
                }
            }
        }
        inside
    }
}

impl Line {
    /// Parses `NAME=x1,y1,x2,y2`, or `NAME=x1,y1,x2,y2,IN,OUT` to name the
    /// crossings: `IN` from the line's left to its right (seen from
    /// `x1,y1` looking at `x2,y2`), `OUT` back.
    pub fn parse(spec: &str) -> Result<Line, String> {
        let (name, rest) =
            spec.split_once('=').ok_or_else(|| format!("--line '{spec}': expected NAME=x1,y1,x2,y2[,IN,OUT]"))?;
        let items: Vec<&str> = rest.split(',').map(str::trim).collect();
        let (numbers, sides) = match items.as_slice() {
            [n @ .., a, b] if items.len() == 6 && a.parse::<f32>().is_err() && b.parse::<f32>().is_err() => {
                if !is_name(a) || !is_name(b) || a == b {
                    return Err(format!(
                        "--line '{spec}': the sides' names must be two different names of letters, digits, '_' or '-'"
                    ));
                }
                (n, Some([a.to_string(), b.to_string()]))
            }
            [_, _, _, _, a] if a.parse::<f32>().is_err() => {
                return Err(format!(
                    "--line '{spec}': a line names both of its ways or neither: x1,y1,x2,y2,IN,OUT (one name given)"
                ));
            }
            n => (n, None),
        };
        let (name, n) = parse_numbers(spec, "--line", name, numbers.iter().copied())?;
        if n.len() != 4 {
            return Err(format!("--line '{spec}': a line is x1,y1,x2,y2, then optionally the names of its two ways"));
        }
        let (a, b) = ([n[0], n[1]], [n[2], n[3]]);
        if a == b {
            return Err(format!("--line '{spec}': the two ends are the same point"));
        }
        Ok(Line { name, a, b, sides })
    }

    /// What a crossing `way` is called: the user's name for it, or
    /// `left_to_right` / `right_to_left`.
    pub fn way_name(&self, way: Direction) -> &str {
        let i = usize::from(way == Direction::RightToLeft);
        match &self.sides {
            Some(names) => &names[i],
            None => ["left_to_right", "right_to_left"][i],
        }
    }

    /// Positive on the line's right (seen from `a` towards `b`, y down).
    fn side(&self, p: [f32; 2]) -> f32 {
        (self.b[0] - self.a[0]) * (p[1] - self.a[1]) - (self.b[1] - self.a[1]) * (p[0] - self.a[0])
    }

    /// The way a move from `from` to `to` crossed the segment, if it did.
    pub fn crossed(&self, from: [f32; 2], to: [f32; 2]) -> Option<Direction> {
        let (s0, s1) = (self.side(from), self.side(to));
        if s0 == 0.0 || (s0 > 0.0) == (s1 > 0.0) || s1 == 0.0 {
            return None;
        }
        // The segment's ends must lie on either side of the move, too.
        let along = |p: [f32; 2]| (to[0] - from[0]) * (p[1] - from[1]) - (to[1] - from[1]) * (p[0] - from[0]);
        if (along(self.a) > 0.0) == (along(self.b) > 0.0) {
            return None;
        }
        Some(if s0 < 0.0 { Direction::LeftToRight } else { Direction::RightToLeft })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_parse_and_contain_their_inside_only() {
        let z = Zone::parse("door=100,200,300,200,300,400,100,400").unwrap();
        assert!(z.labels.is_empty(), "a zone counts every label unless it lists some");
        let drive = Zone::parse("drive:car+truck=0,0,10,0,10,10").unwrap();
        assert_eq!((drive.name.as_str(), drive.labels.as_slice()), ("drive", &["car".to_string(), "truck".into()][..]));
        for bad in ["drive:=0,0,10,0,10,10", "drive:car+=0,0,10,0,10,10", ":car=0,0,10,0,10,10"] {
            assert!(Zone::parse(bad).unwrap_err().contains(bad), "{bad}");
        }
        assert_eq!((z.name.as_str(), z.polygon.len()), ("door", 4));
        assert!(z.contains([200.0, 300.0]));
        assert!(!z.contains([50.0, 300.0]) && !z.contains([200.0, 450.0]));
        // A concave L: the notch is outside.
        let l = Zone::parse("l=0,0,100,0,100,40,40,40,40,100,0,100").unwrap();
        assert!(l.contains([20.0, 80.0]) && !l.contains([80.0, 80.0]));
        for bad in
            ["door", "=1,2,3,4,5,6", "a b=1,2,3,4,5,6", "d=1,2,3,4", "d=1,2,3,4,5", "d=1,2,x,4,5,6", "d=1,2,3,4,5,inf"]
        {
            assert!(Zone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lines_count_crossings_by_direction_within_their_ends() {
        // A horizontal gate from x=0 to x=100 at y=50; "right" of a->b is below (y down).
        let g = Line::parse("gate=0,50,100,50").unwrap();
        assert_eq!(g.crossed([50.0, 40.0], [50.0, 60.0]), Some(Direction::LeftToRight));
        assert_eq!(g.crossed([50.0, 60.0], [50.0, 40.0]), Some(Direction::RightToLeft));
        assert_eq!(g.crossed([150.0, 40.0], [150.0, 60.0]), None, "past the line's end");
        assert_eq!(g.crossed([50.0, 40.0], [60.0, 45.0]), None, "no crossing");
        assert!(Line::parse("g=1,1,1,1").is_err() && Line::parse("g=1,2,3").is_err());
        assert_eq!(
            (g.way_name(Direction::LeftToRight), g.way_name(Direction::RightToLeft)),
            ("left_to_right", "right_to_left")
        );
    }

    #[test]
    fn the_user_names_a_lines_two_ways() {
        let door = Line::parse("door=0,50,100,50,in,out").unwrap();
        assert_eq!((door.a, door.b), ([0.0, 50.0], [100.0, 50.0]));
        assert_eq!(door.crossed([50.0, 40.0], [50.0, 60.0]).map(|w| door.way_name(w)), Some("in"));
        assert_eq!(door.crossed([50.0, 60.0], [50.0, 40.0]).map(|w| door.way_name(w)), Some("out"));
        for bad in ["d=0,0,1,1,in", "d=0,0,1,1,in,in", "d=0,0,1,1,in out,x", "d=0,0,1,in,out", "d=0,0,1,1,2,out"] {
            assert!(Line::parse(bad).is_err(), "{bad}");
        }
        // Issue 51, point 16: one way's name is not a coordinate.
        let one = Line::parse("gate=0,300,640,300,in").unwrap_err();
        assert!(one.contains("both of its ways or neither") && !one.contains("must be numbers"), "{one}");
    }

    #[test]
    fn an_object_stands_at_its_bottom_centre() {
        assert_eq!(anchor(&BBox::new(10.0, 20.0, 30.0, 80.0)), [20.0, 80.0]);
    }

    #[test]
    fn a_places_file_holds_zones_and_lines_and_errors_name_the_line() {
        let (zones, lines) =
            parse_places("# the porch\nzone door=0,0,10,0,10,10\n\nline gate=0,5,10,5  # across\nzone b=1,1,2,1,2,2\n")
                .unwrap();
        assert_eq!(zones.iter().map(|z| z.name.as_str()).collect::<Vec<_>>(), ["door", "b"]);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].b, [10.0, 5.0]);
        let e = parse_places("zone a=0,0,1,0,1,1\nzone b=1,2\n").unwrap_err();
        assert!(e.starts_with("line 2: ") && e.contains("3 or more"), "{e}");
        let e = parse_places("polygon a=0,0,1,0,1,1").unwrap_err();
        assert!(e.starts_with("line 1: "), "{e}");
    }
}
