//! ARCHITECTURE.md's table of modules checked against the sources: every `crate::` path in the
//! non-test code of `core/src` and `app/src` must lead to the module itself or to one its row
//! says it may import, `core` must not name egui and `app` must not name burn.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A row of the table: the module's path (a folder ending in `/` or a file) and what it may
/// import, as crate paths (`eval::collapse`).
struct Row {
    path: String,
    may_import: Vec<String>,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("core sits in the workspace")
        .to_path_buf()
}

/// The rows of ARCHITECTURE.md's table: lines `| \`path\` | owns | \`a\`, \`b\` |`.
fn rows(text: &str) -> Vec<Row> {
    text.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim().trim_matches('|').split('|').collect();
            let [path, _, imports] = cells.as_slice() else {
                return None;
            };
            let path = path.trim().strip_prefix('`')?.strip_suffix('`')?;
            (path.starts_with("core/src/") || path.starts_with("app/src/")).then(|| Row {
                path: path.to_string(),
                may_import: imports
                    .split(',')
                    .filter_map(|m| {
                        let m = m.trim().strip_prefix('`')?.strip_suffix('`')?;
                        Some(m.to_string())
                    })
                    .collect(),
            })
        })
        .collect()
}

/// The row a file or a crate path (`crate_root` + its segments) belongs to: the longest row
/// path that is the file itself, its folder, or a folder above it.
fn row_of<'a>(rows: &'a [Row], file: &str) -> Option<&'a Row> {
    rows.iter()
        .filter(|r| {
            if let Some(folder) = r.path.strip_suffix('/') {
                file == folder || file.starts_with(&r.path)
            } else {
                file == r.path || file == r.path.trim_end_matches(".rs")
            }
        })
        .max_by_key(|r| r.path.len())
}

/// Where a crate path (`model::gan::Gan`) leads: the row of its longest prefix that names a
/// row, tried as a file and as a folder.
fn row_of_crate_path<'a>(rows: &'a [Row], root: &str, segments: &[&str]) -> Option<&'a Row> {
    (1..=segments.len()).rev().find_map(|n| {
        let stem = format!("{root}{}", segments[..n].join("/"));
        rows.iter()
            .find(|r| r.path == format!("{stem}.rs") || r.path == format!("{stem}/"))
    })
}

/// Every `.rs` file under `dir`, with the test files (`tests.rs`, `*_tests.rs`) left out.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let name = path.file_name().unwrap().to_string_lossy();
            if name != "tests.rs" && !name.ends_with("_tests.rs") {
                out.push(path);
            }
        }
    }
}

/// The code of a file without its comments and its `#[cfg(test)]` items (from the first one to
/// the end: test modules come last).
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `crate::a::b::c` paths in `code`, as their segments (braces cut them short).
fn crate_paths(code: &str) -> Vec<Vec<&str>> {
    code.match_indices("crate::")
        .filter(|(i, _)| {
            *i == 0
                || !code[..*i]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
        .map(|(i, m)| {
            let mut segments = Vec::new();
            for piece in code[i + m.len()..].split("::") {
                let end = piece
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(piece.len());
                if end > 0 {
                    segments.push(&piece[..end]);
                }
                if end < piece.len() || end == 0 {
                    break; // the path ends here
                }
            }
            segments
        })
        .collect()
}

#[test]
fn every_module_imports_only_what_architecture_md_allows() {
    let root = workspace();
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let rows = rows(&text);
    assert!(
        rows.len() > 20,
        "ARCHITECTURE.md's table: {} rows",
        rows.len()
    );
    let mut broken: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut unlisted = Vec::new();
    for krate in ["core/src/", "app/src/"] {
        let mut files = Vec::new();
        sources(&root.join(krate), &mut files);
        assert!(files.len() > 10, "{krate}: {} files", files.len());
        for file in files {
            let relative = file
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if ["core/src/lib.rs", "app/src/lib.rs", "app/src/main.rs"].contains(&relative.as_str())
                || relative == "core/src/architecture.rs"
            {
                continue;
            }
            let Some(row) = row_of(&rows, &relative) else {
                unlisted.push(relative);
                continue;
            };
            let code = code(&std::fs::read_to_string(&file).unwrap());
            let foreign = if krate == "core/src/" { "egui" } else { "burn" };
            if code.contains(&format!("{foreign}::")) {
                broken
                    .entry(relative.clone())
                    .or_default()
                    .push(format!("names {foreign}"));
            }
            for path in crate_paths(&code) {
                let Some(target) = row_of_crate_path(&rows, krate, &path) else {
                    continue; // the crate root's own re-exports (`crate::Result`)
                };
                let allowed = target.path == row.path
                    || row.may_import.iter().any(|m| {
                        let segments: Vec<&str> = m.split("::").collect();
                        row_of_crate_path(&rows, krate, &segments)
                            .is_some_and(|r| r.path == target.path)
                    });
                if !allowed {
                    broken.entry(relative.clone()).or_default().push(format!(
                        "crate::{} ({})",
                        path.join("::"),
                        target.path
                    ));
                }
            }
        }
    }
    assert!(
        unlisted.is_empty(),
        "files no row of ARCHITECTURE.md covers: {unlisted:?}"
    );
    assert!(
        broken.is_empty(),
        "imports ARCHITECTURE.md's table does not allow (fix the code or the table):\n{}",
        broken
            .iter()
            .map(|(f, v)| format!("  {f}: {}", v.join(", ")))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_scan_sees_a_forbidden_import() {
    let table =
        "| `core/src/a/` | a | `b` |\n| `core/src/b.rs` | b | — |\n| `core/src/c/` | c | — |";
    let rows = rows(table);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].may_import, ["b"]);
    assert!(rows[1].may_import.is_empty());
    let code =
        code("use crate::b::X;\n// crate::c::doc\nfn f() { crate::c::g(); }\nnotcrate::c::h");
    let paths = crate_paths(&code);
    assert_eq!(paths, [vec!["b", "X"], vec!["c", "g"]]);
    let c = row_of_crate_path(&rows, "core/src/", &paths[1]).unwrap();
    assert_eq!(c.path, "core/src/c/");
    assert_eq!(
        row_of(&rows, "core/src/a/x/y.rs").unwrap().path,
        "core/src/a/"
    );
    assert!(row_of(&rows, "core/src/d.rs").is_none());
}

/// The `pub` fields of struct `name` in `source`.
fn struct_fields<'a>(source: &'a str, name: &str) -> Vec<&'a str> {
    let start = source
        .find(&format!("pub struct {name} {{"))
        .unwrap_or_else(|| panic!("struct {name}"));
    let body = &source[start..];
    let body = &body[..body.find("\n}\n").expect("the struct's end")];
    body.lines()
        .filter_map(|l| l.trim().strip_prefix("pub ")?.split_once(':'))
        .map(|(field, _)| field)
        .filter(|f| {
            f.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .collect()
}

#[test]
fn every_config_field_is_in_docs_models_md() {
    let root = workspace();
    let docs = std::fs::read_to_string(root.join("docs/models.md")).expect("docs/models.md");
    let read = |path: &str| std::fs::read_to_string(root.join(path)).expect(path);
    let structs = [
        ("core/src/train/config.rs", "RunConfig"),
        ("core/src/train/config.rs", "TrainConfig"),
        ("core/src/model/gran/config.rs", "GranConfig"),
        ("core/src/model/lapgan/config.rs", "LapganConfig"),
        ("core/src/model/stackgan/config.rs", "StackGanConfig"),
    ];
    let mut missing = Vec::new();
    for (path, name) in structs {
        let fields = struct_fields(&read(path), name)
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
        assert!(fields.len() >= 5, "{name}: {fields:?}");
        missing.extend(
            fields
                .into_iter()
                .filter(|f| !docs.contains(&format!("| `{f}` |")))
                .map(|f| format!("{name}.{f}")),
        );
    }
    // The data sources' fields: `name: Type,` lines inside `enum DataSource`.
    let data = read("core/src/data/mod.rs");
    let start = data.find("pub enum DataSource {").expect("enum DataSource");
    let body = &data[start..start + data[start..].find("\n}\n").expect("its end")];
    for (field, _) in body.lines().filter_map(|l| l.trim().split_once(": ")) {
        if field.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            && !docs.contains(&format!("| `{field}` |"))
        {
            missing.push(format!("DataSource.{field}"));
        }
    }
    assert!(
        missing.is_empty(),
        "fields docs/models.md does not list: {missing:?}"
    );
}
