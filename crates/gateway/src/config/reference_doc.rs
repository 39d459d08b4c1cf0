//! docs/configuration.md against the key tables: each section kind has
//! its heading (`### \`[kind]\``, or `### \`[kind:NAME]\``), and the first
//! table under it whose first column is `key` lists exactly the kind's
//! keys (several in one cell as `a, b`), no more, no fewer. A key added to
//! a table without its line in the reference fails here; so does a line
//! for a key that is gone.

use std::collections::{BTreeMap, BTreeSet};

use super::{connectors, filters, routes, sections, server, users};

/// Each kind's keys, from its table (lower case, as they are matched).
fn tables() -> BTreeMap<&'static str, Vec<&'static str>> {
    BTreeMap::from([
        ("smpp-server", server::smpp_server::names()),
        ("http-api", server::http_api::names()),
        ("store", server::store::names()),
        ("log", server::log::names()),
        ("group", users::account::names()),
        ("user", users::user::names()),
        ("connector", connectors::connector::names()),
        ("filter", filters::filter::names()),
        ("mt-route", routes::mt_route::names()),
        ("mo-route", routes::mo_route::names()),
    ])
}

/// The keys each heading's first `key` table lists, by kind.
fn documented(doc: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut kind: Option<String> = None;
    // Inside the kind's key table (after its `| key |` header).
    let mut in_table = false;
    let mut table_done = false;
    for line in doc.lines() {
        if let Some(h) = line.strip_prefix("### `[") {
            let name = h.split([']', ':']).next().unwrap_or_default();
            kind = Some(name.to_string());
            in_table = false;
            table_done = false;
            out.entry(name.to_string()).or_default();
            continue;
        }
        if line.starts_with("## ") {
            kind = None;
            continue;
        }
        let Some(k) = &kind else { continue };
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if !line.starts_with('|') || cells.len() < 3 {
            if in_table {
                table_done = true;
            }
            in_table = false;
            continue;
        }
        if table_done {
            continue;
        }
        let first = cells[1];
        if !in_table {
            in_table = first == "key";
            continue;
        }
        if first.starts_with("---") {
            continue;
        }
        let set = out.entry(k.clone()).or_default();
        for key in first.split(',') {
            set.insert(key.trim().trim_matches('`').to_ascii_lowercase());
        }
    }
    out
}

#[test]
fn every_key_of_every_table_is_in_the_configuration_reference() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md");
    let doc = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let tables = tables();
    // Every kind the reader knows has its table here (and so its heading).
    let kinds: BTreeSet<&str> = sections::kind_names().into_iter().collect();
    assert_eq!(kinds, tables.keys().copied().collect::<BTreeSet<_>>());
    let documented = documented(&doc);
    let mut wrong = Vec::new();
    for (kind, names) in &tables {
        let Some(doc_keys) = documented.get(*kind) else {
            wrong.push(format!("[{kind}]: no ### heading"));
            continue;
        };
        let table: BTreeSet<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
        for missing in table.difference(doc_keys) {
            wrong.push(format!("[{kind}] {missing}: not in the reference"));
        }
        for extra in doc_keys.difference(&table) {
            wrong.push(format!("[{kind}] {extra}: documented, not a key"));
        }
    }
    for kind in documented.keys() {
        if !tables.contains_key(kind.as_str()) {
            wrong.push(format!("[{kind}]: a heading for no section kind"));
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/configuration.md:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_reader_of_the_reference_finds_keys() {
    let doc = "## Sections\n### `[a]`\ntext\n\n| key | default | meaning |\n|---|---|---|\n| `x`, Y | 1 | m |\n| z | 2 | m |\n\n| key | other |\n|---|---|\n| not | this |\n### `[b:NAME]`\n| type | value |\n|---|---|\n| no | |\n";
    let d = documented(doc);
    assert_eq!(
        d["a"],
        BTreeSet::from(["x".to_string(), "y".to_string(), "z".to_string()])
    );
    assert!(d["b"].is_empty());
}
