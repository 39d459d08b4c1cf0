//! A whole file: which sections it may have, and reading them in turn
//! into a [`Config`].
//!
//! The order is fixed, because later sections refer to earlier ones: the
//! singleton sections, then the groups (with every section's name
//! checked), then users, connectors, filters and routes, then the rules
//! on what routes name. Errors are collected throughout and given in
//! file order, errors about the whole file last.

use std::collections::BTreeMap;

use super::connectors::read_connector;
use super::filters::read_filter;
use super::ini::{self, Section};
use super::keys::Reader;
use super::routes::{Known, by_order, check_routes, read_mo_route, read_mt_route};
use super::server::{read_http_api, read_log, read_smpp_server, read_store};
use super::users::{read_group, read_user};
use super::{Config, ConfigError, ConfigErrors};

/// A kind of section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    SmppServer,
    HttpApi,
    Store,
    Log,
    Group,
    User,
    Connector,
    Filter,
    MtRoute,
    MoRoute,
}

/// Every kind, as written in `[kind]` or `[kind:NAME]`.
const KINDS: &[(&str, Kind)] = &[
    ("smpp-server", Kind::SmppServer),
    ("http-api", Kind::HttpApi),
    ("store", Kind::Store),
    ("log", Kind::Log),
    ("group", Kind::Group),
    ("user", Kind::User),
    ("connector", Kind::Connector),
    ("filter", Kind::Filter),
    ("mt-route", Kind::MtRoute),
    ("mo-route", Kind::MoRoute),
];

impl Kind {
    fn of(section: &Section) -> Option<Kind> {
        KINDS
            .iter()
            .find(|(name, _)| *name == section.kind)
            .map(|(_, kind)| *kind)
    }

    /// A singleton section takes no name; the others need one.
    fn named(self) -> bool {
        !matches!(
            self,
            Kind::SmppServer | Kind::HttpApi | Kind::Store | Kind::Log
        )
    }

    fn name(self) -> &'static str {
        KINDS
            .iter()
            .find(|(_, kind)| *kind == self)
            .map_or("", |(name, _)| *name)
    }
}

/// Every section kind's name, for the configuration reference's test.
#[cfg(test)]
pub(super) fn kind_names() -> Vec<&'static str> {
    KINDS.iter().map(|(name, _)| *name).collect()
}

/// The error for a section of no known kind: lists the kinds.
fn unknown_section() -> String {
    let kinds: Vec<String> = KINDS
        .iter()
        .map(|(name, kind)| {
            if kind.named() {
                format!("{name}:")
            } else {
                name.to_string()
            }
        })
        .collect();
    format!("unknown section ({})", kinds.join(", "))
}

/// Reads and checks `text` as `file`, `env` giving overrides.
pub(super) fn read(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let sections = ini::parse(text).map_err(|errs| {
        ConfigErrors(
            errs.into_iter()
                .map(|e| ConfigError {
                    file: file.to_string(),
                    line: Some(e.line),
                    section: e.section,
                    key: e.key,
                    message: e.message,
                })
                .collect(),
        )
    })?;
    let reader = Reader::new(file, env);

    // A singleton left out reads as an empty section: all defaults.
    let single = |kind: Kind| {
        sections
            .iter()
            .find(|s| Kind::of(s) == Some(kind))
            .cloned()
            .unwrap_or_else(|| Section {
                kind: kind.name().to_string(),
                name: String::new(),
                line: 1,
                entries: Vec::new(),
            })
    };
    let smpp_server = read_smpp_server(&reader, &single(Kind::SmppServer));
    let http_api = read_http_api(&reader, &single(Kind::HttpApi));
    let (store, queue_limit, status_retention) = read_store(&reader, &single(Kind::Store));
    let log = read_log(&reader, &single(Kind::Log));

    let mut groups = BTreeMap::new();
    for section in &sections {
        let Some(kind) = Kind::of(section) else {
            reader.section_error(section, unknown_section());
            continue;
        };
        if !kind.named() {
            if !section.name.is_empty() {
                reader.section_error(section, format!("[{}] takes no name", section.kind));
            }
        } else if section.name.is_empty() {
            reader.section_error(section, format!("needs a name: [{}:NAME]", section.kind));
        } else if kind == Kind::Group {
            groups.insert(section.name.clone(), read_group(&reader, section));
        }
    }

    let mut users = BTreeMap::new();
    let mut connectors = BTreeMap::new();
    let mut filters = BTreeMap::new();
    let mut mt_routes = Vec::new();
    let mut mo_routes = Vec::new();
    for section in sections.iter().filter(|s| !s.name.is_empty()) {
        let name = section.name.clone();
        match Kind::of(section) {
            Some(Kind::User) => {
                users.insert(name, read_user(&reader, section, &groups));
            }
            Some(Kind::Connector) => {
                connectors.insert(name, read_connector(&reader, section));
            }
            Some(Kind::Filter) => {
                if let Some(filter) = read_filter(&reader, section) {
                    filters.insert(name, filter);
                }
            }
            Some(Kind::MtRoute) => {
                if let Some(route) = read_mt_route(&reader, section) {
                    mt_routes.push((route, section.line));
                }
            }
            Some(Kind::MoRoute) => {
                if let Some(route) = read_mo_route(&reader, section) {
                    mo_routes.push((route, section.line));
                }
            }
            _ => {}
        }
    }

    let known = Known {
        connectors: &connectors,
        users: &users,
        filters: &filters,
    };
    check_routes(&reader, &mt_routes, &mo_routes, &known);

    let mut errors = reader.into_errors();
    // In file order; errors about the whole file last.
    errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    Ok(Config {
        file: file.to_string(),
        smpp_server,
        http_api,
        store,
        queue_limit,
        status_retention,
        log,
        groups,
        users,
        connectors,
        filters,
        mt_routes: by_order(mt_routes),
        mo_routes: by_order(mo_routes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unknown_section_error_lists_every_kind() {
        assert_eq!(
            unknown_section(),
            "unknown section (smpp-server, http-api, store, log, group:, user:, connector:, filter:, mt-route:, mo-route:)"
        );
        for (name, kind) in KINDS {
            assert_eq!(kind.name(), *name);
        }
    }
}
