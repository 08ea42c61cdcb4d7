//! The names a list blocks, for enforcing their addresses before any app
//! asks: the engine resolves a small list's names in the background and
//! rejects their addresses from the first second.
//!
//! Only small lists are enforced (the curated vendor lists, a list the user
//! marks): reading stops at `max` names, and the caller says so. Allow
//! rules, address rules and lines that are not used are skipped; the names
//! come out normalized, as rules compare them, without duplicates.

use std::collections::HashSet;
use std::io::{self, BufRead};

use crate::name::normalize_into;
use crate::parse::{is_hosts_header_name, parse_line, Line, LineReader};

/// The block names of one list, at most `max` of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockedNames {
    /// The names, in the list's order.
    pub names: Vec<String>,
    /// Whether the list holds more than `max` names (the rest were left out).
    pub truncated: bool,
}

/// Reads the names `reader`'s list blocks, up to `max`.
pub fn blocked_names(reader: impl BufRead, max: usize) -> io::Result<BlockedNames> {
    let mut out = BlockedNames::default();
    let mut seen = HashSet::new();
    let mut scratch = String::new();
    let mut lines = LineReader::new(reader);
    let mut push = |word: &str, out: &mut BlockedNames| -> bool {
        if normalize_into(word, &mut scratch).is_err() || scratch.is_empty() {
            return true;
        }
        if seen.contains(&scratch) {
            return true;
        }
        if out.names.len() >= max {
            out.truncated = true;
            return false;
        }
        seen.insert(scratch.clone());
        out.names.push(scratch.clone());
        true
    };
    while let Some(raw) = lines.next_line()? {
        if raw.truncated {
            continue;
        }
        let Ok(text) = std::str::from_utf8(raw.bytes) else {
            continue;
        };
        let going = match parse_line(text) {
            Line::Name(rule) if !rule.allow && !rule.mods.badfilter => push(rule.name, &mut out),
            Line::Hosts { names } => names
                .split_whitespace()
                .filter(|w| !is_hosts_header_name(w))
                .all(|w| push(w, &mut out)),
            _ => true,
        };
        if !going {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_names_only_normalized_and_once() {
        let list = "# comment\n\
                    Api-Mifit.Huami.COM.\n\
                    ||iotcplatform.com^\n\
                    *.tracker.example\n\
                    @@||ok.example^\n\
                    0.0.0.0 a.example localhost b.example\n\
                    93.184.215.0/24\n\
                    iotcplatform.com\n\
                    ||x.example^$badfilter\n\
                    not a name!\n";
        let got = blocked_names(list.as_bytes(), 100).unwrap();
        assert_eq!(
            got.names,
            vec![
                "api-mifit.huami.com",
                "iotcplatform.com",
                "tracker.example",
                "a.example",
                "b.example"
            ]
        );
        assert!(!got.truncated);
    }

    #[test]
    fn stops_at_the_bound_and_says_so() {
        let list: String = (0..1000).map(|i| format!("n{i}.example\n")).collect();
        let got = blocked_names(list.as_bytes(), 10).unwrap();
        assert_eq!(got.names.len(), 10);
        assert!(got.truncated);
    }
}
