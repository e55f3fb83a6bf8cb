//! Node selectors: how commands name the nodes they act on.
//!
//! A selector is a comma-separated list of items; each item is one of:
//!
//! - a hostname as configured (`raspberrypi1.lan`), or its short name before the first dot
//!   (`raspberrypi1`) when no other node has the same short name;
//! - an index in configuration order (`1`) or an inclusive index range (`0-1`);
//! - a name with one bracket group of numbers and ranges (`raspberrypi[0-1]`,
//!   `raspberrypi[0-1,3].lan`). A number written with leading zeros keeps its width:
//!   `node[08-10]` names `node08`, `node09` and `node10`;
//! - `all`: every worker, never the head.
//!
//! Names, indices and ranges may name the head; commands that must not act on it refuse it
//! themselves. The result lists each selected node once, in configuration order. Every name
//! must exist: an unknown one is an error that lists the known names and the closest one.

use picluster_firmware::config::{ClusterConfig, NodeId, Role};

use crate::config::suggest::nearest;

/// An error in a node selector.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The selector is empty or only spaces.
    #[error("empty node selector; name nodes by hostname, index or range, or use `all`")]
    Empty,
    /// An item between commas is empty, as in `0,,1`.
    #[error("empty item in node selector {selector:?}; remove the extra comma")]
    EmptyItem {
        /// The whole selector.
        selector: String,
    },
    /// A name matches no node.
    #[error("{}", unknown_name_message(name, closest.as_deref(), known))]
    UnknownName {
        /// The name as written.
        name: String,
        /// The configured name nearest to it, if any node is configured.
        closest: Option<String>,
        /// Every configured name, in configuration order.
        known: Vec<String>,
    },
    /// A short name is shared by several nodes.
    #[error("node `{name}` is ambiguous: it is the short name of {}; use the full hostname",
        matches.join(" and "))]
    AmbiguousName {
        /// The short name as written.
        name: String,
        /// The hostnames it could mean.
        matches: Vec<String>,
    },
    /// An index past the last node.
    #[error("node index {index} does not exist; {}", index_range_message(*count))]
    IndexOutOfRange {
        /// The index as written.
        index: u64,
        /// How many nodes are configured.
        count: usize,
    },
    /// A range or bracket group that cannot be read.
    #[error("invalid node range `{text}`: {reason}")]
    InvalidRange {
        /// The item as written.
        text: String,
        /// The reason.
        reason: &'static str,
    },
}

fn unknown_name_message(name: &str, closest: Option<&str>, known: &[String]) -> String {
    match closest {
        Some(closest) => format!(
            "unknown node `{name}`; did you mean `{closest}`? Known nodes: {}",
            known.join(", ")
        ),
        None => format!("unknown node `{name}`: no nodes are configured"),
    }
}

fn index_range_message(count: usize) -> String {
    match count {
        0 => "no nodes are configured".to_owned(),
        count => format!("the nodes are 0 to {}", count - 1),
    }
}

/// Resolves `selector` against the nodes of `cluster`.
pub fn select_in<const N: usize>(
    selector: &str,
    cluster: &ClusterConfig<N>,
) -> Result<Vec<NodeId>, SelectorError> {
    select(
        selector,
        cluster
            .nodes
            .iter()
            .map(|node| (node.name.as_str(), node.role)),
    )
}

/// Resolves `selector` against `nodes`, given as (name, role) in configuration order, so the
/// n-th item is node n.
///
/// Returns each selected node once, in configuration order.
pub fn select<'a, I>(selector: &str, nodes: I) -> Result<Vec<NodeId>, SelectorError>
where
    I: IntoIterator<Item = (&'a str, Role)>,
{
    let nodes: Vec<(&str, Role)> = nodes.into_iter().collect();
    if selector.trim().is_empty() {
        return Err(SelectorError::Empty);
    }

    let mut selected = vec![false; nodes.len()];
    for item in split_items(selector) {
        let item = item.trim();
        if item.is_empty() {
            return Err(SelectorError::EmptyItem {
                selector: selector.to_owned(),
            });
        }
        select_item(item, &nodes, &mut selected)?;
    }

    Ok(selected
        .iter()
        .enumerate()
        .filter(|&(_, &chosen)| chosen)
        .map(|(index, _)| node_id(index))
        .collect())
}

/// Converts a node table position into a [`NodeId`]; the firmware caps the table below 256.
fn node_id(index: usize) -> NodeId {
    NodeId(u8::try_from(index).unwrap_or(u8::MAX))
}

/// Splits at commas that are outside brackets, so `a[0-1,3],5` is two items.
fn split_items(selector: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut depth = 0_i32;
    let mut start = 0;
    for (position, c) in selector.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&selector[start..position]);
                start = position + 1;
            }
            _ => {}
        }
    }
    items.push(&selector[start..]);
    items
}

fn select_item(
    item: &str,
    nodes: &[(&str, Role)],
    selected: &mut [bool],
) -> Result<(), SelectorError> {
    if item == "all" {
        for (index, (_, role)) in nodes.iter().enumerate() {
            if *role == Role::Worker {
                selected[index] = true;
            }
        }
        return Ok(());
    }

    if item.contains(['[', ']']) {
        for name in expand_brackets(item)? {
            selected[find_name(&name, nodes)?] = true;
        }
        return Ok(());
    }

    if let Some((first, last)) = parse_index_range(item)? {
        for index in first..=last {
            selected[check_index(index, nodes.len())?] = true;
        }
        return Ok(());
    }

    selected[find_name(item, nodes)?] = true;
    Ok(())
}

/// Reads `N` or `A-B` as an inclusive index range; returns `None` for anything else.
fn parse_index_range(item: &str) -> Result<Option<(u64, u64)>, SelectorError> {
    let is_number = |text: &str| !text.is_empty() && text.chars().all(|c| c.is_ascii_digit());
    let (first, last) = item.split_once('-').unwrap_or((item, item));
    if !is_number(first) || !is_number(last) {
        return Ok(None);
    }

    let invalid = |reason| SelectorError::InvalidRange {
        text: item.to_owned(),
        reason,
    };
    let first: u64 = first
        .parse()
        .map_err(|_| invalid("the number is too large"))?;
    let last: u64 = last
        .parse()
        .map_err(|_| invalid("the number is too large"))?;
    if first > last {
        return Err(invalid("the first index is above the last"));
    }
    Ok(Some((first, last)))
}

fn check_index(index: u64, count: usize) -> Result<usize, SelectorError> {
    usize::try_from(index)
        .ok()
        .filter(|&position| position < count)
        .ok_or(SelectorError::IndexOutOfRange { index, count })
}

/// Expands `prefix[items]suffix` into one name per number, keeping zero-padded widths.
fn expand_brackets(item: &str) -> Result<Vec<String>, SelectorError> {
    let invalid = |reason| SelectorError::InvalidRange {
        text: item.to_owned(),
        reason,
    };
    let (prefix, rest) = item
        .split_once('[')
        .ok_or(invalid("a `]` has no matching `[`"))?;
    let (inner, suffix) = rest
        .split_once(']')
        .ok_or(invalid("a `[` has no matching `]`"))?;
    if inner.contains('[') || suffix.contains(['[', ']']) || prefix.contains(']') {
        return Err(invalid("only one [..] group is allowed in a name"));
    }

    let mut names = Vec::new();
    for part in inner.split(',') {
        let part = part.trim();
        let (first, last) = part.split_once('-').unwrap_or((part, part));
        let is_number = |text: &str| !text.is_empty() && text.chars().all(|c| c.is_ascii_digit());
        if !is_number(first) || !is_number(last) {
            return Err(invalid(
                "write numbers and ranges inside brackets, such as [0-1,3]",
            ));
        }
        let width = if first.len() > 1 && first.starts_with('0') {
            first.len()
        } else {
            0
        };
        let first: u64 = first
            .parse()
            .map_err(|_| invalid("the number is too large"))?;
        let last: u64 = last
            .parse()
            .map_err(|_| invalid("the number is too large"))?;
        if first > last {
            return Err(invalid("the first number is above the last"));
        }
        names.extend((first..=last).map(|number| format!("{prefix}{number:0width$}{suffix}")));
    }
    Ok(names)
}

/// Finds a node by hostname, or by its short name when only one node has it.
fn find_name(name: &str, nodes: &[(&str, Role)]) -> Result<usize, SelectorError> {
    if let Some(index) = nodes.iter().position(|(node, _)| *node == name) {
        return Ok(index);
    }

    let short_matches: Vec<usize> = nodes
        .iter()
        .enumerate()
        .filter(|(_, (node, _))| short_name(node) == name)
        .map(|(index, _)| index)
        .collect();
    match short_matches.as_slice() {
        [index] => Ok(*index),
        [] => Err(unknown_name(name, nodes)),
        several => Err(SelectorError::AmbiguousName {
            name: name.to_owned(),
            matches: several
                .iter()
                .map(|&index| nodes[index].0.to_owned())
                .collect(),
        }),
    }
}

fn short_name(hostname: &str) -> &str {
    hostname.split('.').next().unwrap_or(hostname)
}

fn unknown_name(name: &str, nodes: &[(&str, Role)]) -> SelectorError {
    // Compare with both forms, so `raspberrypi9` finds `raspberrypi1.lan` through its short
    // name, and report the full hostname.
    let candidates = nodes
        .iter()
        .flat_map(|(node, _)| [*node, short_name(node)])
        .collect::<Vec<_>>();
    let closest = nearest(name, candidates.iter().copied()).map(|(candidate, _)| {
        nodes
            .iter()
            .find(|(node, _)| *node == candidate || short_name(node) == candidate)
            .map_or(candidate, |(node, _)| *node)
            .to_owned()
    });
    SelectorError::UnknownName {
        name: name.to_owned(),
        closest,
        known: nodes.iter().map(|(node, _)| (*node).to_owned()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use picluster_firmware::reference;

    fn reference_select(selector: &str) -> Result<Vec<NodeId>, SelectorError> {
        select_in(selector, &reference::cluster())
    }

    fn ids(indices: &[u8]) -> Vec<NodeId> {
        indices.iter().map(|&index| NodeId(index)).collect()
    }

    #[test]
    fn hostname_selects_node() {
        assert_eq!(reference_select("raspberrypi1.lan"), Ok(ids(&[1])));
    }

    #[test]
    fn short_name_selects_node() {
        assert_eq!(reference_select("raspberrypi1"), Ok(ids(&[1])));
    }

    #[test]
    fn ambiguous_short_name_rejected() {
        let nodes = [("pi1.rack-a", Role::Worker), ("pi1.rack-b", Role::Worker)];
        let error = select("pi1", nodes).unwrap_err();
        assert_eq!(
            error,
            SelectorError::AmbiguousName {
                name: "pi1".into(),
                matches: vec!["pi1.rack-a".into(), "pi1.rack-b".into()],
            }
        );
        assert_eq!(select("pi1.rack-b", nodes), Ok(ids(&[1])));
    }

    #[test]
    fn index_selects_node() {
        assert_eq!(reference_select("1"), Ok(ids(&[1])));
    }

    #[test]
    fn index_range_and_list() {
        assert_eq!(reference_select("0-1,3"), Ok(ids(&[0, 1, 3])));
    }

    #[test]
    fn bracket_range_expands_names() {
        assert_eq!(reference_select("raspberrypi[0-1]"), Ok(ids(&[0, 1])));
        assert_eq!(
            reference_select("raspberrypi[0-1,3].lan"),
            Ok(ids(&[0, 1, 3]))
        );
    }

    #[test]
    fn bracket_keeps_zero_padding() {
        let nodes = [
            ("node08", Role::Worker),
            ("node09", Role::Worker),
            ("node10", Role::Worker),
        ];
        assert_eq!(select("node[08-10]", nodes), Ok(ids(&[0, 1, 2])));
    }

    #[test]
    fn all_selects_workers_not_head() {
        assert_eq!(reference_select("all"), Ok(ids(&[0, 1, 3])));
    }

    #[test]
    fn head_selected_by_name() {
        assert_eq!(reference_select("raspberrypi2"), Ok(ids(&[2])));
    }

    #[test]
    fn result_ordered_without_duplicates() {
        assert_eq!(
            reference_select("3, 1, raspberrypi1, 0-1"),
            Ok(ids(&[0, 1, 3]))
        );
    }

    #[test]
    fn unknown_name_lists_closest_and_known() {
        let error = reference_select("raspberrypi9").unwrap_err();
        let SelectorError::UnknownName {
            name,
            closest,
            known,
        } = &error
        else {
            panic!("expected an unknown-name error, got {error:?}");
        };
        assert_eq!(name, "raspberrypi9");
        assert_eq!(closest.as_deref(), Some("raspberrypi0.lan"));
        assert_eq!(known.len(), 4);
        let message = error.to_string();
        assert!(
            message.contains("did you mean `raspberrypi0.lan`"),
            "{message}"
        );
        assert!(message.contains("raspberrypi3.lan"), "{message}");
    }

    #[test]
    fn misspelled_hostname_finds_closest() {
        let error = reference_select("rasberrypi3.lan").unwrap_err();
        assert!(
            matches!(&error, SelectorError::UnknownName { closest: Some(c), .. }
                if c == "raspberrypi3.lan"),
            "{error:?}"
        );
    }

    #[test]
    fn bracket_name_past_last_node_rejected() {
        let error = reference_select("raspberrypi[3-4]").unwrap_err();
        assert!(
            matches!(&error, SelectorError::UnknownName { name, .. } if name == "raspberrypi4"),
            "{error:?}"
        );
    }

    #[test]
    fn index_past_last_node_rejected() {
        assert_eq!(
            reference_select("4"),
            Err(SelectorError::IndexOutOfRange { index: 4, count: 4 })
        );
    }

    #[test]
    fn reversed_range_rejected() {
        let error = reference_select("3-1").unwrap_err();
        assert!(
            matches!(error, SelectorError::InvalidRange { .. }),
            "{error:?}"
        );
    }

    #[test]
    fn unbalanced_bracket_rejected() {
        let error = reference_select("raspberrypi[0-1").unwrap_err();
        assert!(
            matches!(error, SelectorError::InvalidRange { .. }),
            "{error:?}"
        );
    }

    #[test]
    fn empty_selector_and_item_rejected() {
        assert_eq!(reference_select("  "), Err(SelectorError::Empty));
        let error = reference_select("0,,1").unwrap_err();
        assert!(
            matches!(error, SelectorError::EmptyItem { .. }),
            "{error:?}"
        );
    }
}
