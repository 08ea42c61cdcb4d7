//! The user's own rules ("block this name", "allow this name"), kept in
//! `custom.txt` in the store in adblock syntax (`||name^`, `@@||name^`) so the
//! rules parser reads it like any other list.

use std::path::Path;

use crate::error::StoreError;
use crate::fsutil::write_atomic;

/// The custom list's file name in the store directory.
pub const CUSTOM_FILE: &str = "custom.txt";

/// Whether a custom rule blocks or allows its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomRuleKind {
    /// Block the name and its subdomains.
    Block,
    /// Allow the name and its subdomains (allow beats block).
    Allow,
}

/// One line of the custom list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomRule {
    /// The name, lowercase, without the trailing dot.
    pub name: String,
    /// Block or allow.
    pub kind: CustomRuleKind,
}

/// Lowercases a name and checks it is a plain DNS name (ASCII, in IDNA form).
pub(crate) fn normalize(name: &str) -> Result<String, StoreError> {
    let bad = |why| StoreError::InvalidName {
        name: name.chars().take(300).collect(),
        why,
    };
    let n = name.trim().trim_end_matches('.').to_ascii_lowercase();
    if n.is_empty() {
        return Err(bad("it is empty"));
    }
    if n.len() > 253 {
        return Err(bad("it is longer than 253 characters"));
    }
    for label in n.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(bad("each dot-separated part must have 1 to 63 characters"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(bad(
                "only letters, digits, '-' and '_' are allowed (write international names in punycode)",
            ));
        }
    }
    Ok(n)
}

/// The custom rules in a list's text; lines that are not `||name^` or
/// `@@||name^` (comments, anything else) are left out.
pub fn parse_custom_rules(text: &str) -> Vec<CustomRule> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let (kind, rest) = match line.strip_prefix("@@") {
                Some(rest) => (CustomRuleKind::Allow, rest),
                None => (CustomRuleKind::Block, line),
            };
            let name = rest.strip_prefix("||")?.strip_suffix('^')?;
            Some(CustomRule {
                name: normalize(name).ok()?,
                kind,
            })
        })
        .collect()
}

fn render(rules: &[CustomRule]) -> String {
    let mut out = String::from("! tacet custom rules: ||name^ blocks, @@||name^ allows\n");
    for r in rules {
        if r.kind == CustomRuleKind::Allow {
            out.push_str("@@");
        }
        out.push_str("||");
        out.push_str(&r.name);
        out.push_str("^\n");
    }
    out
}

/// The custom rules in the store (none if the file does not exist).
pub(crate) fn read(dir: &Path) -> Result<Vec<CustomRule>, StoreError> {
    let path = dir.join(CUSTOM_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(parse_custom_rules(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(StoreError::io(path, e)),
    }
}

/// Sets `name` to `kind` (replacing any rule for the same name), or removes
/// its rule if `kind` is `None`; rewrites the file atomically. Returns whether
/// anything changed.
/// Sets (`Some`) or removes (`None`) the custom rule for `name` in the
/// store directory `dir`, with an atomic rewrite of the file. Needs no
/// writer lock, so another process (the CLI, the app) can edit the list
/// while the firewall runs; the last writer wins. Returns whether the file
/// changed.
pub fn set(dir: &Path, name: &str, kind: Option<CustomRuleKind>) -> Result<bool, StoreError> {
    let name = normalize(name)?;
    let mut rules = read(dir)?;
    let before = rules.clone();
    match (kind, rules.iter_mut().find(|r| r.name == name)) {
        // Changed in place, so the file keeps the user's order.
        (Some(kind), Some(existing)) => existing.kind = kind,
        (Some(kind), None) => rules.push(CustomRule { name, kind }),
        (None, _) => rules.retain(|r| r.name != name),
    }
    if rules == before {
        return Ok(false);
    }
    let path = dir.join(CUSTOM_FILE);
    write_atomic(&path, render(&rules).as_bytes()).map_err(|e| StoreError::io(path, e))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalized_or_refused() {
        assert_eq!(normalize(" Ads.Example.COM. ").unwrap(), "ads.example.com");
        assert!(normalize("").is_err());
        assert!(normalize("a..b").is_err());
        assert!(normalize("bücher.de").is_err());
        assert!(normalize("a b.com").is_err());
    }

    #[test]
    fn rules_replace_and_survive_a_reread() {
        let dir = tempfile::tempdir().unwrap();
        assert!(set(dir.path(), "Tracker.com", Some(CustomRuleKind::Block)).unwrap());
        assert!(set(dir.path(), "good.com", Some(CustomRuleKind::Allow)).unwrap());
        assert!(!set(dir.path(), "tracker.com", Some(CustomRuleKind::Block)).unwrap());
        assert!(set(dir.path(), "tracker.com", Some(CustomRuleKind::Allow)).unwrap());
        let text = std::fs::read_to_string(dir.path().join(CUSTOM_FILE)).unwrap();
        assert_eq!(
            text,
            "! tacet custom rules: ||name^ blocks, @@||name^ allows\n@@||tracker.com^\n@@||good.com^\n"
        );
        assert!(set(dir.path(), "good.com", None).unwrap());
        assert_eq!(
            read(dir.path()).unwrap(),
            vec![CustomRule {
                name: "tracker.com".into(),
                kind: CustomRuleKind::Allow
            }]
        );
    }
}
