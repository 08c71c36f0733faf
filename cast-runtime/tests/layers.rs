//! The runtime's modules form layers: each names only modules below it (`crate::x` paths
//! and `use crate::{…}` lists outside tests), so no two modules import each other, even
//! through others.

use std::collections::{BTreeMap, BTreeSet};

/// Each module of `src/` and the modules its non-test code names.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = BTreeMap::new();
    for entry in std::fs::read_dir(&src).expect("src") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "rs") {
            let name = path.file_stem().expect("stem").to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).expect("read");
            let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("").to_owned();
            sources.insert(name, code);
        }
    }
    let modules: BTreeSet<String> = sources.keys().cloned().collect();
    sources
        .iter()
        .map(|(name, code)| {
            let mut named = BTreeSet::new();
            // `crate::x::…` and each top-level entry of `use crate::{x::…, y, …}`.
            for (index, _) in code.match_indices("crate::") {
                let rest = &code[index + "crate::".len()..];
                let entries: Vec<&str> = match rest.strip_prefix('{') {
                    Some(list) => top_level_entries(list),
                    None => vec![rest],
                };
                for entry in entries {
                    let module: String = entry
                        .trim_start()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if modules.contains(&module) && &module != name {
                        named.insert(module);
                    }
                }
            }
            (name.clone(), named)
        })
        .collect()
}

/// The entries of a `{…}` use list up to its closing brace, without descending into nested lists.
fn top_level_entries(list: &str) -> Vec<&str> {
    let mut entries = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (index, c) in list.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                entries.push(&list[start..index]);
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                entries.push(&list[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    entries
}

#[test]
fn runtime_modules_import_each_other_in_one_direction_only() {
    let graph = imports();
    assert!(graph["call"].contains("api"), "the scan sees imports: {graph:?}");
    // Depth-first search; a module met again while still on the stack closes a cycle.
    fn visit<'g>(
        module: &'g str,
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<&'g str>,
        done: &mut BTreeSet<&'g str>,
    ) -> Result<(), String> {
        if let Some(at) = stack.iter().position(|m| *m == module) {
            return Err(format!("{} -> {module}", stack[at..].join(" -> ")));
        }
        if done.contains(module) {
            return Ok(());
        }
        stack.push(module);
        for next in &graph[module] {
            visit(next, graph, stack, done)?;
        }
        stack.pop();
        done.insert(module);
        Ok(())
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        if let Err(cycle) = visit(module, &graph, &mut Vec::new(), &mut done) {
            panic!("the runtime's modules import each other in a cycle: {cycle}");
        }
    }
}
