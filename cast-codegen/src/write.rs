//! Writing a generated crate: only files whose bytes changed, never a file the user wrote.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use crate::emit::MARKER;

/// What a write did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WriteReport {
    /// Files created or changed.
    pub written: Vec<String>,
    /// Files already up to date.
    pub unchanged: usize,
    /// Generated files of tools that no longer exist, removed.
    pub removed: Vec<String>,
}

fn is_generated(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|text| text.lines().take(3).any(|l| l.contains(MARKER)))
}

/// Writes `files` under `out`. Refuses (before writing anything) to overwrite a
/// file that lacks the `@generated` marker, unless `force`.
pub fn write(files: &BTreeMap<String, String>, out: &Path, force: bool) -> Result<WriteReport, String> {
    let foreign: Vec<String> = files
        .keys()
        .filter(|rel| {
            let path = out.join(rel);
            path.exists() && !is_generated(&path)
        })
        .cloned()
        .collect();
    if !foreign.is_empty() && !force {
        return Err(format!(
            "refusing to overwrite {} in {}: not written by cast-codegen ({}); move them away or pass --force",
            if foreign.len() == 1 { "a file" } else { "files" },
            out.display(),
            foreign.join(", ")
        ));
    }
    let mut report = WriteReport::default();
    for (rel, text) in files {
        let path = out.join(rel);
        if std::fs::read(&path).is_ok_and(|old| old == text.as_bytes()) {
            report.unchanged += 1;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        report.written.push(rel.clone());
    }
    // Tools that were disabled or removed from the spec leave generated files behind.
    let tools_dir = out.join("src/tools");
    if let Ok(entries) = std::fs::read_dir(&tools_dir) {
        let mut stale: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .filter(|p| {
                let rel = format!("src/tools/{}", p.file_name().unwrap_or_default().to_string_lossy());
                !files.contains_key(&rel) && is_generated(p)
            })
            .collect();
        stale.sort();
        for path in stale {
            std::fs::remove_file(&path).map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
            report
                .removed
                .push(path.strip_prefix(out).unwrap_or(&path).display().to_string());
        }
    }
    Ok(report)
}

/// `target` relative to `from` (both made absolute), for a path dependency that
/// still works when the tree is moved or cloned elsewhere.
pub fn relative_path(from: &Path, target: &Path) -> PathBuf {
    let absolute =
        |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| std::env::current_dir().unwrap_or_default().join(p));
    let (from, target) = (absolute(from), absolute(target));
    let from_parts: Vec<_> = from.components().collect();
    let target_parts: Vec<_> = target.components().collect();
    let common = from_parts.iter().zip(&target_parts).take_while(|(a, b)| a == b).count();
    // Sharing only the root (`/`) means unrelated trees: an absolute path is clearer.
    if common <= 1 {
        return target;
    }
    let mut out = PathBuf::new();
    for _ in common..from_parts.len() {
        out.push("..");
    }
    for part in &target_parts[common..] {
        out.push(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_overwrites_user_files_and_removes_stale_tools() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path();
        let gen_file = |body: &str| format!("// {MARKER} 0.1.0 from x.json\n{body}");
        let mut files = BTreeMap::new();
        files.insert("src/main.rs".to_owned(), gen_file("fn main() {}"));
        files.insert("src/tools/a.rs".to_owned(), gen_file("a"));
        files.insert("src/tools/b.rs".to_owned(), gen_file("b"));
        let report = write(&files, out, false).expect("first write");
        assert_eq!(report.written.len(), 3);

        files.remove("src/tools/b.rs");
        let report = write(&files, out, false).expect("second write");
        assert_eq!((report.written.len(), report.unchanged), (0, 2));
        assert_eq!(report.removed, ["src/tools/b.rs"]);

        std::fs::write(out.join("src/main.rs"), "// mine\nfn main() {}").expect("user edit");
        let err = write(&files, out, false).expect_err("user file");
        assert!(
            err.contains("refusing to overwrite a file") && err.contains("src/main.rs"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(out.join("src/main.rs")).expect("read"),
            "// mine\nfn main() {}"
        );
        write(&files, out, true).expect("forced");
    }

    #[test]
    fn relative_paths() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("x/y");
        let b = dir.path().join("runtime");
        std::fs::create_dir_all(&a).expect("mkdir");
        std::fs::create_dir_all(&b).expect("mkdir");
        assert_eq!(relative_path(&a, &b), PathBuf::from("../../runtime"));
    }
}
