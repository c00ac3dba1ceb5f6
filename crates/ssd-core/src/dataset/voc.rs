//! Pascal VOC layout: `Annotations/NAME.xml`, `JPEGImages/NAME.jpg`,
//! `ImageSets/Main/SPLIT.txt`. The synthetic generator writes it and the
//! trainer reads it, so both sides of the format live here.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::boxes::BBox;

/// One annotated object.
#[derive(Debug, Clone, PartialEq)]
pub struct VocObject {
    /// Class name.
    pub name: String,
    /// Box in pixels, VOC's 1-based inclusive corners converted to 0-based
    /// `[x1, x2)` form: `x1 = xmin − 1`, `x2 = xmax`.
    pub bbox: BBox,
    /// Marked difficult.
    pub difficult: bool,
}

/// One annotation file.
#[derive(Debug, Clone, PartialEq)]
pub struct VocAnnotation {
    /// Image file name (inside JPEGImages).
    pub filename: String,
    /// Image width.
    pub width: u32,
    /// Image height.
    pub height: u32,
    /// Objects.
    pub objects: Vec<VocObject>,
}

/// Why an annotation cannot be used; always names the file and, where
/// known, the line.
#[derive(Debug, thiserror::Error)]
pub enum VocError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Malformed XML or a missing or bad field.
    #[error("{path}:{line}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u32,
        /// What is wrong.
        message: String,
    },
    /// A bad record in a file without useful line numbers (COCO JSON is
    /// often one line), named by its id.
    #[error("{path}: {record}: {message}")]
    Record {
        /// The file.
        path: PathBuf,
        /// Which record, e.g. "annotation id 17".
        record: String,
        /// What is wrong.
        message: String,
    },
}

/// Renders an annotation as VOC XML: names escaped, coordinates written
/// exactly as held (whole pixels print as integers), so that whatever
/// [`parse`] accepted reads back to the same annotation.
pub fn to_xml(a: &VocAnnotation) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "<annotation>\n  <folder>JPEGImages</folder>\n  <filename>{}</filename>", escape(&a.filename));
    let _ = writeln!(s, "  <size><width>{}</width><height>{}</height><depth>3</depth></size>", a.width, a.height);
    for o in &a.objects {
        let _ = writeln!(
            s,
            "  <object><name>{}</name><difficult>{}</difficult><bndbox><xmin>{}</xmin><ymin>{}</ymin><xmax>{}</xmax><ymax>{}</ymax></bndbox></object>",
            escape(&o.name),
            u8::from(o.difficult),
            o.bbox.x1 + 1.0,
            o.bbox.y1 + 1.0,
            o.bbox.x2,
            o.bbox.y2
        );
    }
    s.push_str("</annotation>\n");
    s
}

/// XML text escaping: markup characters, and carriage returns, which a
/// reader would otherwise normalise to line feeds.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('\r', "&#13;")
}

/// Largest image side accepted, in pixels. Far beyond any camera, and small
/// enough that every coordinate up to it is a whole f32, so `xmin − 1` and
/// back are exact.
pub const MAX_IMAGE_SIDE: f32 = 1_048_576.0;

/// Parses VOC XML; `path` is used in messages. Boxes must lie inside the
/// image and have positive size.
pub fn parse(text: &str, path: &Path) -> Result<VocAnnotation, VocError> {
    let doc = roxmltree::Document::parse(text).map_err(|e| VocError::Invalid {
        path: path.to_owned(),
        line: e.pos().row,
        message: format!("malformed XML: {e}"),
    })?;
    let invalid = |node: roxmltree::Node<'_, '_>, message: String| VocError::Invalid {
        path: path.to_owned(),
        line: doc.text_pos_at(node.range().start).row,
        message,
    };
    let root = doc.root_element();
    if root.tag_name().name() != "annotation" {
        return Err(invalid(root, format!("root element is <{}>, expected <annotation>", root.tag_name().name())));
    }
    let text_of = |node: roxmltree::Node<'_, '_>, tag: &str| -> Result<String, VocError> {
        child(node, tag)
            .and_then(|c| c.text())
            .map(|t| t.trim().to_owned())
            .ok_or_else(|| invalid(node, format!("<{}> has no <{tag}>", node.tag_name().name())))
    };
    let number = |node: roxmltree::Node<'_, '_>, tag: &str| -> Result<f32, VocError> {
        let t = text_of(node, tag)?;
        t.parse::<f32>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| invalid(child(node, tag).unwrap_or(node), format!("<{tag}> is '{t}', not a number")))
    };
    let filename = text_of(root, "filename")?;
    let size = child(root, "size").ok_or_else(|| invalid(root, "no <size>".into()))?;
    let (width, height) = (number(size, "width")?, number(size, "height")?);
    if width < 1.0 || height < 1.0 {
        return Err(invalid(size, format!("image size {width}x{height} is empty")));
    }
    if width.fract() != 0.0 || height.fract() != 0.0 || width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return Err(invalid(
            size,
            format!("image size {width}x{height} is not whole pixels up to {MAX_IMAGE_SIDE} per side"),
        ));
    }
    let mut objects = Vec::new();
    for obj in root.children().filter(|c| c.has_tag_name("object")) {
        let name = text_of(obj, "name")?;
        let difficult = child(obj, "difficult").and_then(|d| d.text()).is_some_and(|t| t.trim() == "1");
        let b = child(obj, "bndbox").ok_or_else(|| invalid(obj, format!("object '{name}' has no <bndbox>")))?;
        let (xmin, ymin, xmax, ymax) = (number(b, "xmin")?, number(b, "ymin")?, number(b, "xmax")?, number(b, "ymax")?);
        if xmin < 1.0 || ymin < 1.0 || xmax > width || ymax > height {
            return Err(invalid(
                b,
                format!("box ({xmin}, {ymin})-({xmax}, {ymax}) of '{name}' is outside the {width}x{height} image"),
            ));
        }
        if xmax < xmin || ymax < ymin {
            return Err(invalid(b, format!("box ({xmin}, {ymin})-({xmax}, {ymax}) of '{name}' is inverted")));
        }
        objects.push(VocObject { name, bbox: BBox::new(xmin - 1.0, ymin - 1.0, xmax, ymax), difficult });
    }
    Ok(VocAnnotation { filename, width: width as u32, height: height as u32, objects })
}

fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, tag: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|c| c.has_tag_name(tag))
}

/// Reads and parses one annotation file.
pub fn read(path: &Path) -> Result<VocAnnotation, VocError> {
    let text = std::fs::read_to_string(path).map_err(|source| VocError::Io { path: path.to_owned(), source })?;
    parse(&text, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> VocAnnotation {
        VocAnnotation {
            filename: "000001.jpg".into(),
            width: 300,
            height: 200,
            objects: vec![
                VocObject { name: "star".into(), bbox: BBox::new(10.0, 20.0, 110.0, 80.0), difficult: false },
                VocObject { name: "circle".into(), bbox: BBox::new(0.0, 0.0, 300.0, 200.0), difficult: true },
            ],
        }
    }

    #[test]
    fn written_xml_reads_back_identically() {
        let a = sample();
        let xml = to_xml(&a);
        assert!(xml.contains("<xmin>11</xmin>") && xml.contains("<xmax>110</xmax>"), "1-based inclusive: {xml}");
        assert_eq!(parse(&xml, Path::new("a.xml")).unwrap(), a);
    }

    #[test]
    fn malformed_xml_names_file_and_line() {
        let err = parse("<annotation>\n<filename>x</filename>\n<size>\n</annotation>", Path::new("Annotations/b.xml"));
        let msg = err.unwrap_err().to_string();
        assert!(msg.starts_with("Annotations/b.xml:4: malformed XML"), "{msg}");
    }

    #[test]
    fn bad_boxes_and_missing_fields_name_the_line() {
        let mut a = sample();
        a.objects[0].bbox = BBox::new(10.0, 20.0, 400.0, 80.0);
        let msg = parse(&to_xml(&a), Path::new("c.xml")).unwrap_err().to_string();
        assert!(msg.starts_with("c.xml:5:") && msg.contains("outside the 300x200 image"), "{msg}");

        let xml =
            "<annotation><filename>x.jpg</filename>\n<size><width>10</width><height>ten</height></size></annotation>";
        let msg = parse(xml, Path::new("d.xml")).unwrap_err().to_string();
        assert!(msg.contains("d.xml:2:") && msg.contains("<height> is 'ten'"), "{msg}");

        let xml = "<annotation><filename>x.jpg</filename><size><width>10</width><height>10</height></size>\n<object><name>star</name></object></annotation>";
        let msg = parse(xml, Path::new("e.xml")).unwrap_err().to_string();
        assert!(msg.contains("e.xml:2:") && msg.contains("has no <bndbox>"), "{msg}");
    }

    #[test]
    fn names_with_markup_characters_and_fractional_boxes_read_back() {
        let mut a = sample();
        a.filename = "a&b<c>.jpg".into();
        a.objects[0].name = "R&D <crate>\rx".into();
        a.objects[0].bbox = BBox::new(0.6, 0.25, 1.7, 1.5);
        assert_eq!(parse(&to_xml(&a), Path::new("g.xml")).unwrap(), a);
    }

    #[test]
    fn image_sizes_must_be_whole_pixels() {
        let xml =
            "<annotation><filename>x.jpg</filename><size><width>10.5</width><height>10</height></size></annotation>";
        let msg = parse(xml, Path::new("h.xml")).unwrap_err().to_string();
        assert!(msg.contains("not whole pixels"), "{msg}");
        let xml =
            "<annotation><filename>x.jpg</filename><size><width>1e9</width><height>10</height></size></annotation>";
        assert!(parse(xml, Path::new("i.xml")).is_err());
    }

    #[test]
    fn an_annotation_without_objects_parses_to_an_empty_list() {
        let mut a = sample();
        a.objects.clear();
        assert!(parse(&to_xml(&a), Path::new("f.xml")).unwrap().objects.is_empty());
    }
}

/// What to do with an annotation that cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnBadAnnotation {
    /// Warn, leave the image out and go on.
    Skip,
    /// Stop with the error.
    Fail,
}

/// One image of a VOC dataset with its annotation.
#[derive(Debug, Clone, PartialEq)]
pub struct VocSample {
    /// The image file.
    pub image: PathBuf,
    /// Its annotation.
    pub annotation: VocAnnotation,
}

/// Loads the images listed in `ImageSets/Main/SPLIT.txt` under `root`, in
/// that order. Bad annotations are skipped with a warning or fail the load.
pub fn load_split(root: &Path, split: &str, on_bad: OnBadAnnotation) -> Result<Vec<VocSample>, VocError> {
    let list = root.join("ImageSets").join("Main").join(format!("{split}.txt"));
    let text = std::fs::read_to_string(&list).map_err(|source| VocError::Io { path: list.clone(), source })?;
    let mut samples = Vec::new();
    for id in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let xml = root.join("Annotations").join(format!("{id}.xml"));
        match read(&xml) {
            Ok(annotation) => {
                let image = root.join("JPEGImages").join(&annotation.filename);
                samples.push(VocSample { image, annotation });
            }
            Err(e) if on_bad == OnBadAnnotation::Skip => log::warn!("skipping {e}"),
            Err(e) => return Err(e),
        }
    }
    Ok(samples)
}

/// Writes `ImageSets/Main/SPLIT.txt` listing `ids`.
pub fn write_split(root: &Path, split: &str, ids: &[String]) -> std::io::Result<()> {
    let dir = root.join("ImageSets").join("Main");
    std::fs::create_dir_all(&dir)?;
    let mut text = ids.join("\n");
    text.push('\n');
    std::fs::write(dir.join(format!("{split}.txt")), text)
}
