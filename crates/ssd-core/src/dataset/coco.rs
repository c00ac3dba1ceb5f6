//! COCO `instances_*.json` annotations, read into the same samples as the
//! VOC loader so training and evaluation take either.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::voc::{OnBadAnnotation, VocAnnotation, VocError, VocObject, VocSample};
use crate::boxes::BBox;

#[derive(Debug, Deserialize)]
struct Instances {
    images: Vec<Image>,
    #[serde(default)]
    annotations: Vec<Annotation>,
    categories: Vec<Category>,
}

#[derive(Debug, Deserialize)]
struct Image {
    id: u64,
    file_name: String,
    width: u32,
    height: u32,
}

#[derive(Debug, Deserialize)]
struct Annotation {
    #[serde(default)]
    id: u64,
    image_id: u64,
    category_id: u64,
    bbox: [f64; 4],
    #[serde(default)]
    iscrowd: u8,
}

#[derive(Debug, Deserialize)]
struct Category {
    id: u64,
    name: String,
}

/// Parses a COCO instances file. Images come out in the file's order with
/// their objects; crowd regions are kept as `difficult` (ignored by training
/// and by the metrics). A syntax error names the file, line and column; a bad
/// annotation (unknown image or category, a box outside its image or empty)
/// names the file and annotation id and is skipped or fails as asked.
pub fn parse(text: &str, path: &Path, images_dir: &Path, on_bad: OnBadAnnotation) -> Result<Vec<VocSample>, VocError> {
    let file: Instances = serde_json::from_str(text).map_err(|e| VocError::Invalid {
        path: path.to_owned(),
        line: e.line() as u32,
        message: {
            let text = e.to_string();
            let message = text.rsplit_once(" at line ").map_or(text.as_str(), |(m, _)| m);
            format!("column {}: {message}", e.column())
        },
    })?;
    let categories: HashMap<u64, &str> = file.categories.iter().map(|c| (c.id, c.name.as_str())).collect();
    let index: HashMap<u64, usize> = file.images.iter().enumerate().map(|(i, im)| (im.id, i)).collect();
    let mut objects: Vec<Vec<VocObject>> = vec![Vec::new(); file.images.len()];
    for a in &file.annotations {
        let checked = check(a, &index, &file.images, &categories);
        match checked {
            Ok((i, object)) => objects[i].push(object),
            Err(message) => {
                let e = VocError::Record { path: path.to_owned(), record: format!("annotation id {}", a.id), message };
                match on_bad {
                    OnBadAnnotation::Skip => log::warn!("skipping {e}"),
                    OnBadAnnotation::Fail => return Err(e),
                }
            }
        }
    }
    Ok(file
        .images
        .into_iter()
        .zip(objects)
        .map(|(im, objects)| VocSample {
            image: images_dir.join(&im.file_name),
            annotation: VocAnnotation { filename: im.file_name, width: im.width, height: im.height, objects },
        })
        .collect())
}

fn check(
    a: &Annotation,
    index: &HashMap<u64, usize>,
    images: &[Image],
    categories: &HashMap<u64, &str>,
) -> Result<(usize, VocObject), String> {
    let &i = index.get(&a.image_id).ok_or_else(|| format!("image_id {} is not among the images", a.image_id))?;
    let name = categories.get(&a.category_id).ok_or_else(|| format!("category_id {} is unknown", a.category_id))?;
    let [x, y, w, h] = a.bbox;
    let im = &images[i];
    // Half a pixel of slack: exporters round box corners.
    let (iw, ih) = (f64::from(im.width) + 0.5, f64::from(im.height) + 0.5);
    if !(w > 0.0 && h > 0.0) {
        return Err(format!("box {:?} of '{name}' is empty", a.bbox));
    }
    if x < -0.5 || y < -0.5 || x + w > iw || y + h > ih {
        return Err(format!(
            "box {:?} of '{name}' is outside the {}x{} image {}",
            a.bbox, im.width, im.height, im.file_name
        ));
    }
    let bbox = BBox::new(x as f32, y as f32, (x + w) as f32, (y + h) as f32).clip(im.width as f32, im.height as f32);
    Ok((i, VocObject { name: (*name).to_owned(), bbox, difficult: a.iscrowd != 0 }))
}

/// Reads a COCO instances file; images are looked up in `images_dir`.
pub fn read(path: &Path, images_dir: &Path, on_bad: OnBadAnnotation) -> Result<Vec<VocSample>, VocError> {
    let text = std::fs::read_to_string(path).map_err(|source| VocError::Io { path: path.to_owned(), source })?;
    parse(&text, path, images_dir, on_bad)
}

/// Where a dataset argument points: a VOC root folder, or a COCO JSON file
/// whose images are in `images` (default: the `images` folder next to it).
pub fn load_dataset(
    data: &Path,
    split: &str,
    images: Option<&Path>,
    on_bad: OnBadAnnotation,
) -> Result<Vec<VocSample>, VocError> {
    if data.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
        let dir: PathBuf = match images {
            Some(d) => d.to_owned(),
            None => data.parent().unwrap_or(Path::new(".")).join("images"),
        };
        read(data, &dir, on_bad)
    } else {
        super::voc::load_split(data, split, on_bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{
  "images": [
    {"id": 7, "file_name": "a.jpg", "width": 100, "height": 50},
    {"id": 9, "file_name": "b.jpg", "width": 40, "height": 40}
  ],
  "annotations": [
    {"id": 1, "image_id": 9, "category_id": 3, "bbox": [10, 5, 20, 30], "iscrowd": 0},
    {"id": 2, "image_id": 7, "category_id": 1, "bbox": [0, 0, 100, 50], "iscrowd": 1}
  ],
  "categories": [{"id": 1, "name": "circle"}, {"id": 3, "name": "star"}]
}"#;

    fn load(text: &str, on_bad: OnBadAnnotation) -> Result<Vec<VocSample>, VocError> {
        parse(text, Path::new("instances.json"), Path::new("imgs"), on_bad)
    }

    #[test]
    fn images_keep_file_order_with_boxes_in_corner_form() {
        let s = load(GOOD, OnBadAnnotation::Fail).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].image, Path::new("imgs/a.jpg"));
        assert_eq!(s[0].annotation.objects[0].name, "circle");
        assert!(s[0].annotation.objects[0].difficult, "crowd regions are difficult");
        assert_eq!(s[1].annotation.objects[0].bbox, BBox::new(10.0, 5.0, 30.0, 35.0));
        assert!(!s[1].annotation.objects[0].difficult);
    }

    #[test]
    fn malformed_json_names_file_and_line() {
        let broken = GOOD.replace("\"width\": 40,", "\"width\": 40");
        let e = load(&broken, OnBadAnnotation::Skip).unwrap_err().to_string();
        assert_eq!(e, "instances.json:4: column 49: expected `,` or `}`");
    }

    #[test]
    fn a_box_outside_its_image_fails_or_is_skipped() {
        let bad = GOOD.replace("[10, 5, 20, 30]", "[30, 5, 20, 30]");
        let e = load(&bad, OnBadAnnotation::Fail).unwrap_err().to_string();
        assert!(e.contains("instances.json: annotation id 1:") && e.contains("outside the 40x40 image"), "{e}");
        let s = load(&bad, OnBadAnnotation::Skip).unwrap();
        assert!(s[1].annotation.objects.is_empty());
        assert_eq!(s[0].annotation.objects.len(), 1, "the good annotation stays");
    }

    #[test]
    fn unknown_category_and_empty_box_are_reported() {
        let e = load(&GOOD.replace("\"category_id\": 3", "\"category_id\": 4"), OnBadAnnotation::Fail).unwrap_err();
        assert!(e.to_string().contains("category_id 4 is unknown"), "{e}");
        let e = load(&GOOD.replace("[10, 5, 20, 30]", "[10, 5, 0, 30]"), OnBadAnnotation::Fail).unwrap_err();
        assert!(e.to_string().contains("is empty"), "{e}");
    }
}
