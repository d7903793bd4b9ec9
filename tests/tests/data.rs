//! Every data source end to end through `DataSource::load`, including broken files: each error
//! names the file and says what was expected and what was found.

use std::io::Write;
use std::path::Path;

use easel_core::data::{DataSource, FASHION_MNIST_DIR, fashion_mnist_installed};

fn idx_images(n: u32, side: u32) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [0x803u32, n, side, side] {
        b.extend(v.to_be_bytes());
    }
    b.extend((0..n * side * side).map(|i| (i % 251) as u8));
    b
}

fn idx_labels(n: u32) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [0x801u32, n] {
        b.extend(v.to_be_bytes());
    }
    b.extend((0..n).map(|i| (i % 10) as u8));
    b
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn write_idx(dir: &Path, train: u32, test: u32, gz: bool) {
    std::fs::create_dir_all(dir).unwrap();
    let files = [
        ("train-images-idx3-ubyte", idx_images(train, 28)),
        ("train-labels-idx1-ubyte", idx_labels(train)),
        ("t10k-images-idx3-ubyte", idx_images(test, 28)),
        ("t10k-labels-idx1-ubyte", idx_labels(test)),
    ];
    for (name, bytes) in files {
        if gz {
            std::fs::write(dir.join(format!("{name}.gz")), gzip(&bytes)).unwrap();
        } else {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
}

fn load_err(source: DataSource) -> String {
    source
        .load(28, 1, None)
        .expect_err("this input must be refused")
        .to_string()
}

#[test]
fn idx_raw_and_gzipped_keep_splits_apart() {
    let dir = tempfile::tempdir().unwrap();
    for gz in [false, true] {
        let d = dir.path().join(if gz { "gz" } else { "raw" });
        write_idx(&d, 30, 12, gz);
        let data = DataSource::Idx { path: d }.load(28, 1, None).unwrap();
        assert_eq!((data.train.len(), data.test.len()), (30, 12));
        assert_eq!(data.train.labels.as_ref().unwrap()[..3], [0, 1, 2]);
        assert_eq!(data.train.image(1)[0], (784 % 251) as u8);
        // Resized to the model's size and to RGB on demand.
        let rgb = DataSource::Idx {
            path: dir.path().join("raw"),
        }
        .load(16, 3, Some(5))
        .unwrap();
        assert_eq!(
            (rgb.train.len(), rgb.train.channels, rgb.train.height),
            (5, 3, 16)
        );
    }
}

#[test]
fn broken_idx_files_are_named_with_expected_and_found() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_idx(d, 10, 5, false);
    // Mismatched counts.
    std::fs::write(d.join("train-labels-idx1-ubyte"), idx_labels(9)).unwrap();
    let e = load_err(DataSource::Idx { path: d.into() });
    assert!(
        e.contains("train-labels-idx1-ubyte") && e.contains("10 labels") && e.contains("found 9"),
        "{e}"
    );
    // Truncated images.
    std::fs::write(d.join("train-labels-idx1-ubyte"), idx_labels(10)).unwrap();
    let mut images = idx_images(10, 28);
    images.truncate(500);
    std::fs::write(d.join("train-images-idx3-ubyte"), images).unwrap();
    let e = load_err(DataSource::Idx { path: d.into() });
    assert!(
        e.contains("train-images-idx3-ubyte") && e.contains("500 bytes"),
        "{e}"
    );
    // Wrong magic.
    let mut images = idx_images(10, 28);
    images[3] = 0x01;
    std::fs::write(d.join("train-images-idx3-ubyte"), images).unwrap();
    let e = load_err(DataSource::Idx { path: d.into() });
    assert!(e.contains("magic 0x803") && e.contains("0x801"), "{e}");
    // A damaged gzip stream.
    std::fs::remove_file(d.join("train-images-idx3-ubyte")).unwrap();
    let mut gz = gzip(&idx_images(10, 28));
    gz.truncate(gz.len() / 2);
    std::fs::write(d.join("train-images-idx3-ubyte.gz"), gz).unwrap();
    let e = load_err(DataSource::Idx { path: d.into() });
    assert!(
        e.contains("train-images-idx3-ubyte.gz") && e.contains("gzip"),
        "{e}"
    );
    // Empty file, missing folder, missing file.
    std::fs::write(d.join("train-images-idx3-ubyte.gz"), b"").unwrap();
    let e = load_err(DataSource::Idx { path: d.into() });
    assert!(e.contains("0 bytes"), "{e}");
    let e = load_err(DataSource::Idx {
        path: d.join("nope"),
    });
    assert!(e.contains("no such folder"), "{e}");
    std::fs::remove_file(d.join("train-images-idx3-ubyte.gz")).unwrap();
    let e = load_err(DataSource::Idx { path: d.into() });
    assert!(e.contains("no train-images-idx3-ubyte"), "{e}");
}

#[test]
fn cifar_batches_and_their_damage() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let record = |label: u8| {
        let mut r = vec![label];
        r.extend((0..3072).map(|i| (i % 256) as u8));
        r
    };
    std::fs::write(
        d.join("data_batch_1.bin"),
        [record(1), record(2), record(3)].concat(),
    )
    .unwrap();
    std::fs::write(d.join("data_batch_2.bin"), record(4)).unwrap();
    std::fs::write(d.join("test_batch.bin"), [record(5), record(6)].concat()).unwrap();
    let data = DataSource::Cifar10 { path: d.into() }
        .load(32, 3, None)
        .unwrap();
    assert_eq!((data.train.len(), data.test.len()), (4, 2));
    assert_eq!(data.train.labels.as_ref().unwrap(), &vec![1, 2, 3, 4]);
    assert_eq!(data.train.class_names[1], "automobile");
    std::fs::write(d.join("data_batch_2.bin"), &record(4)[..1000]).unwrap();
    let e = DataSource::Cifar10 { path: d.into() }
        .load(32, 3, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("data_batch_2.bin") && e.contains("1000 bytes"),
        "{e}"
    );
    let empty = tempfile::tempdir().unwrap();
    let e = DataSource::Cifar10 {
        path: empty.path().into(),
    }
    .load(32, 3, None)
    .unwrap_err()
    .to_string();
    assert!(e.contains("data_batch_"), "{e}");
}

#[test]
fn image_folders_with_classes_and_a_corrupt_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (class, colour) in [("cats", [200u8, 10, 10]), ("dogs", [10, 10, 200])] {
        std::fs::create_dir_all(d.join(class).join("deeper")).unwrap();
        for i in 0..6 {
            let img = image::RgbImage::from_pixel(40 + i, 30, image::Rgb(colour));
            let sub = if i % 2 == 0 {
                d.join(class)
            } else {
                d.join(class).join("deeper")
            };
            let ext = if i == 0 { "jpg" } else { "png" };
            img.save(sub.join(format!("{i}.{ext}"))).unwrap();
        }
    }
    std::fs::write(d.join("cats").join("notes.txt"), "not an image").unwrap();
    let data = DataSource::Folder { path: d.into() }
        .load(16, 3, None)
        .unwrap();
    assert_eq!(data.train.len() + data.test.len(), 12);
    assert_eq!(data.test.len(), 1, "every tenth image is held out");
    assert_eq!(data.train.class_names, vec!["cats", "dogs"]);
    let labels = data.train.labels.as_ref().unwrap();
    let first = data.train.image(0);
    assert_eq!(labels[0], 0);
    assert!(first[0] > 150 && first[2 * 256] < 60, "a cat image is red");
    assert_eq!(*labels.last().unwrap(), 1);

    std::fs::write(
        d.join("dogs").join("broken.png"),
        b"\x89PNG\r\n\x1a\n broken",
    )
    .unwrap();
    let e = DataSource::Folder { path: d.into() }
        .load(16, 3, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("broken.png") && e.contains("readable PNG or JPEG"),
        "{e}"
    );
    let empty = tempfile::tempdir().unwrap();
    let e = DataSource::Folder {
        path: empty.path().into(),
    }
    .load(16, 3, None)
    .unwrap_err()
    .to_string();
    assert!(e.contains("no PNG or JPEG"), "{e}");
}

fn save_square(path: &Path, colour: [u8; 3]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::from_pixel(24, 24, image::Rgb(colour))
        .save(path)
        .unwrap();
}

#[test]
fn caption_folders_in_both_layouts_and_their_mistakes() {
    // CUB-200 as the StackGAN repositories lay it out: images/<class>/x.jpg, text/<class>/x.txt.
    let cub = tempfile::tempdir().unwrap();
    let c = cub.path();
    for (class, colour) in [
        ("001.Red_bird", [200u8, 20, 20]),
        ("002.Blue_bird", [20, 20, 200]),
    ] {
        for i in 0..5 {
            save_square(&c.join(format!("images/{class}/{class}_{i}.jpg")), colour);
            let words = class
                .split('.')
                .nth(1)
                .unwrap()
                .replace('_', " ")
                .to_lowercase();
            let text = c.join(format!("text/{class}/{class}_{i}.txt"));
            std::fs::create_dir_all(text.parent().unwrap()).unwrap();
            std::fs::write(
                text,
                format!("a {words} number {i}\nthis {words} sits still\n"),
            )
            .unwrap();
        }
    }
    let data = DataSource::Folder { path: c.into() }
        .load(16, 3, None)
        .unwrap();
    assert_eq!(data.train.class_names, ["001.Red_bird", "002.Blue_bird"]);
    assert_eq!((data.train.len(), data.test.len()), (9, 1));
    let captions = data.train.captions.as_ref().unwrap();
    assert_eq!(captions.len(), 9);
    assert_eq!(
        captions.of(0).collect::<Vec<_>>(),
        ["a red bird number 0", "this red bird sits still"]
    );
    let labels = data.train.labels.as_ref().unwrap();
    for (i, &label) in labels.iter().enumerate() {
        let bird = if label == 0 { "red" } else { "blue" };
        assert!(
            captions.first(i).contains(bird),
            "caption {i} follows its image"
        );
    }
    assert_eq!(data.test.captions.as_ref().unwrap().len(), 1);
    // A text model's default prompts read the held-out captions without decoding any image.
    let source = DataSource::Folder { path: c.into() };
    let (held, held_labels) = source.held_out_captions(1000).unwrap();
    assert_same_captions(&held, data.test.captions.as_ref().unwrap());
    assert_eq!(held_labels, data.test.labels);
    let broken = c.join("images/002.Blue_bird/002.Blue_bird_4.jpg");
    std::fs::write(&broken, b"not a jpeg").unwrap();
    assert!(load_err(source.clone()).contains("002.Blue_bird_4.jpg"));
    assert_same_captions(&source.held_out_captions(1000).unwrap().0, &held);
    save_square(&broken, [20, 20, 200]);

    // An image without its caption file, then a caption file without its image.
    std::fs::remove_file(c.join("text/002.Blue_bird/002.Blue_bird_3.txt")).unwrap();
    let e = load_err(DataSource::Folder { path: c.into() });
    assert!(
        e.contains("002.Blue_bird_3.jpg") && e.contains("has none"),
        "{e}"
    );
    std::fs::remove_file(c.join("images/002.Blue_bird/002.Blue_bird_3.jpg")).unwrap();
    std::fs::write(c.join("text/002.Blue_bird/stray.txt"), "a bird").unwrap();
    let e = load_err(DataSource::Folder { path: c.into() });
    assert!(e.contains("stray.txt") && e.contains("no image"), "{e}");
    std::fs::remove_file(c.join("text/002.Blue_bird/stray.txt")).unwrap();
    std::fs::write(
        c.join("text/001.Red_bird/001.Red_bird_2.txt"),
        b"\xff\xfe bad",
    )
    .unwrap();
    let e = load_err(DataSource::Folder { path: c.into() });
    assert!(
        e.contains("001.Red_bird_2.txt") && e.contains("UTF-8"),
        "{e}"
    );
    std::fs::write(c.join("text/001.Red_bird/001.Red_bird_2.txt"), "\n\n").unwrap();
    let e = load_err(DataSource::Folder { path: c.into() });
    assert!(
        e.contains("001.Red_bird_2.txt") && e.contains("no caption"),
        "{e}"
    );

    // x.png beside x.txt.
    let flat = tempfile::tempdir().unwrap();
    let f = flat.path();
    for i in 0..3 {
        save_square(&f.join(format!("{i}.png")), [i as u8 * 80, 0, 0]);
        std::fs::write(f.join(format!("{i}.txt")), format!("picture {i}")).unwrap();
    }
    let data = DataSource::Folder { path: f.into() }
        .load(16, 3, None)
        .unwrap();
    let captions = data.train.captions.as_ref().unwrap();
    assert_eq!(captions.of(2).collect::<Vec<_>>(), ["picture 2"]);
    std::fs::remove_file(f.join("1.txt")).unwrap();
    let e = load_err(DataSource::Folder { path: f.into() });
    assert!(e.contains("1.png") && e.contains("1.txt"), "{e}");
}

fn assert_same_captions(a: &easel_core::data::Captions, b: &easel_core::data::Captions) {
    assert_eq!(a.len(), b.len());
    for i in 0..a.len() {
        assert_eq!(a.of(i).collect::<Vec<_>>(), b.of(i).collect::<Vec<_>>());
    }
}

#[test]
fn built_in_shapes_have_labels_and_captions() {
    let data = DataSource::default().load(32, 3, Some(50)).unwrap();
    let (held, labels) = DataSource::default().held_out_captions(20).unwrap();
    let mut test = data.test.captions.clone().unwrap();
    test.truncate(20);
    assert_same_captions(&held, &test);
    assert_eq!(labels.unwrap(), data.test.labels.as_ref().unwrap()[..20]);
    assert_eq!(data.train.len(), 50);
    assert_eq!(data.test.len(), 1000);
    let captions = data.train.captions.as_ref().unwrap();
    let labels = data.train.labels.as_ref().unwrap();
    assert_eq!(captions.len(), 50);
    for (i, &l) in labels.iter().enumerate() {
        let all: Vec<&str> = captions.of(i).collect();
        assert_eq!(all.len(), 5, "several phrasings per image");
        for c in &all {
            assert!(
                c.contains(&data.train.class_names[l as usize]),
                "{c} vs label {l}"
            );
        }
        assert!(captions.first(i).ends_with("background"));
    }
    let grey = DataSource::default().load(28, 1, Some(4)).unwrap();
    assert_eq!((grey.train.channels, grey.train.height), (1, 28));
}

#[test]
fn fashion_mnist_is_found_where_debian_installs_it() {
    assert!(
        fashion_mnist_installed(),
        "Fashion-MNIST is missing from {FASHION_MNIST_DIR}: `apt-get install dataset-fashion-mnist` (.ci/run does)"
    );
    let data = DataSource::FashionMnist { path: None }
        .load(28, 1, None)
        .unwrap();
    assert_eq!((data.train.len(), data.test.len()), (60_000, 10_000));
    assert_eq!(data.train.class_names[9], "Ankle boot");
    let labels = data.test.labels.as_ref().unwrap();
    let captions = data
        .test
        .captions
        .as_ref()
        .expect("captions made from the labels");
    assert_eq!(captions.len(), 10_000);
    assert_eq!(
        captions.texts.len(),
        50,
        "five phrasings of each of ten classes"
    );
    for i in [0, 1, 9_999] {
        assert!(
            captions.of(i).all(|c| {
                easel_core::data::captions::fashion_mnist(labels[i]).contains(&c.to_string())
            }),
            "image {i}"
        );
    }
    for class in 0..10 {
        assert_eq!(
            labels.iter().filter(|&&l| l == class).count(),
            1000,
            "class {class}"
        );
    }
    let (held, held_labels) = DataSource::FashionMnist { path: None }
        .held_out_captions(1000)
        .unwrap();
    let mut first = captions.clone();
    first.truncate(1000);
    assert_same_captions(&held, &first);
    assert_eq!(held_labels.unwrap(), labels[..1000]);
}
