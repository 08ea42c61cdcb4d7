//! Whether a downloaded body may replace the last good copy of a list:
//! read completely, as the firewall would read it, and refused when it is
//! a web page instead of a list, holds no rules, or lost nearly all of
//! them at once (a server's error page with a 200, a list cut in two by its
//! publisher's mistake). A refused body never reaches the firewall.

use std::fmt;
use std::io::Read;
use std::path::Path;

use tacet_rules::{ListInfo, ParseReport, RuleSetBuilder};

/// A new list that lost this share of the previous copy's rules, or more,
/// is refused unless the user insists (`force`).
pub const MAX_LOSS_PERCENT: u64 = 90;
/// How much of the start of a body is looked at to tell a web page.
const SNIFF_BYTES: usize = 1024;

/// Why a body was not taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A web page, not a list (a login page, a captive portal, an error
    /// page served with 200).
    Html {
        /// The Content-Type it came with.
        content_type: Option<String>,
    },
    /// Not one rule in it.
    NoRules {
        /// Its lines.
        lines: u64,
        /// Of which not usable.
        unused: u64,
    },
    /// It lost at least [`MAX_LOSS_PERCENT`] of the rules the good copy has.
    Shrunk {
        /// Rules in the good copy.
        before: u64,
        /// Rules in the new body.
        after: u64,
    },
    /// It could not be read as a list (a compiled rule set, a read error).
    Unreadable(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Html { content_type } => {
                write!(f, "the server sent a web page, not a list")?;
                if let Some(t) = content_type {
                    write!(f, " ({t})")?;
                }
                Ok(())
            }
            Self::NoRules { lines, unused } => write!(
                f,
                "the new list has no rules ({lines} lines, {unused} not usable)"
            ),
            Self::Shrunk { before, after } => {
                let lost = before.saturating_sub(*after) * 100 / (*before).max(1);
                write!(
                    f,
                    "the new list lost {lost} % of its rules ({before} to {after}); \
                     `tacet lists update --force` takes it anyway"
                )
            }
            Self::Unreadable(why) => write!(f, "the new list cannot be read: {why}"),
        }
    }
}

/// Whether the start of a body is markup: after any byte-order mark and
/// white space it opens with `<`, and an HTML element or doctype shows in
/// its first KiB. No list format starts with `<`.
pub fn looks_like_html(prefix: &[u8]) -> bool {
    let start = prefix.strip_prefix(b"\xef\xbb\xbf").unwrap_or(prefix);
    let start = match start.iter().position(|b| !b.is_ascii_whitespace()) {
        Some(i) => start.get(i..).unwrap_or_default(),
        None => return false,
    };
    if start.first() != Some(&b'<') {
        return false;
    }
    let head: Vec<u8> = start
        .iter()
        .take(SNIFF_BYTES)
        .map(u8::to_ascii_lowercase)
        .collect();
    [
        &b"<!doctype html"[..],
        b"<html",
        b"<head",
        b"<body",
        b"<title",
        b"<script",
        b"<meta",
        b"<div",
        b"<p>",
    ]
    .iter()
    .any(|tag| head.windows(tag.len()).any(|w| w == *tag))
}

/// Reads the list at `path` completely, as the firewall would, and decides
/// whether it may replace a good copy holding `previous_rules` rules
/// (`None`: there is none). `force` takes a list that shrank or is empty;
/// nothing takes a web page.
pub fn check_list(
    path: &Path,
    info: ListInfo,
    content_type: Option<&str>,
    previous_rules: Option<u64>,
    force: bool,
) -> Result<ParseReport, Refusal> {
    let mut prefix = Vec::with_capacity(SNIFF_BYTES);
    std::fs::File::open(path)
        .and_then(|f| f.take(SNIFF_BYTES as u64).read_to_end(&mut prefix))
        .map_err(|e| Refusal::Unreadable(e.to_string()))?;
    if looks_like_html(&prefix) {
        return Err(Refusal::Html {
            content_type: content_type.map(str::to_owned),
        });
    }
    let report = std::fs::File::open(path)
        .and_then(tacet_rules::parse::list_reader)
        .and_then(|reader| RuleSetBuilder::new().add_list(info, reader))
        .map_err(|e| Refusal::Unreadable(e.to_string()))?;
    judge(&report, previous_rules, force)?;
    Ok(report)
}

/// The decision on a list already read: see [`check_list`].
pub fn judge(
    report: &ParseReport,
    previous_rules: Option<u64>,
    force: bool,
) -> Result<(), Refusal> {
    if force {
        return Ok(());
    }
    if report.rules == 0 {
        return Err(Refusal::NoRules {
            lines: report.lines,
            unused: report.counts.unused,
        });
    }
    if let Some(before) = previous_rules.filter(|&b| b > 0) {
        // Lost at least 90 %: after <= before / 10, in integers.
        let kept_percent = 100 - MAX_LOSS_PERCENT;
        if report.rules.saturating_mul(100) <= before.saturating_mul(kept_percent) {
            return Err(Refusal::Shrunk {
                before,
                after: report.rules,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(text: &str) -> ParseReport {
        RuleSetBuilder::new()
            .add_list(
                ListInfo {
                    id: "t".into(),
                    title: "t".into(),
                },
                text.as_bytes(),
            )
            .unwrap()
    }

    #[test]
    fn web_pages_are_told_from_lists() {
        for page in [
            "<!DOCTYPE html><html><body>Sign in</body></html>",
            "\u{feff}\n  <html lang=en>",
            "<?xml version=\"1.0\"?>\n<!DOCTYPE html PUBLIC>",
            "<HEAD><TITLE>404 Not Found</TITLE></HEAD>",
            "\r\n\r\n<div class=error>rate limited</div>",
        ] {
            assert!(looks_like_html(page.as_bytes()), "{page}");
        }
        for list in [
            "",
            "   \n",
            "0.0.0.0 ads.example\n",
            "||ads.example^\n<html> in a later line is only a bad line\n",
            "! Title: <html> in a comment\n",
            "# <html>\nads.example\n",
            "<unknown-tag>\n",
        ] {
            assert!(!looks_like_html(list.as_bytes()), "{list}");
        }
    }

    #[test]
    fn lists_that_lost_nine_tenths_or_have_no_rules_are_refused() {
        let names = |n: usize| -> String { (0..n).map(|i| format!("n{i}.example\n")).collect() };
        let ten = report(&names(10));
        assert_eq!(judge(&ten, None, false), Ok(()));
        assert_eq!(judge(&ten, Some(99), false), Ok(()));
        assert_eq!(
            judge(&ten, Some(100), false),
            Err(Refusal::Shrunk {
                before: 100,
                after: 10
            })
        );
        assert!(Refusal::Shrunk {
            before: 100,
            after: 5
        }
        .to_string()
        .contains("lost 95 %"));
        assert_eq!(judge(&ten, Some(100), true), Ok(()));
        let grown = report(&names(20));
        assert_eq!(judge(&grown, Some(10), false), Ok(()));
        let junk = report("<not a name>\n%%%\n");
        assert!(matches!(
            judge(&junk, None, false),
            Err(Refusal::NoRules {
                lines: 2,
                unused: 2
            })
        ));
        assert!(matches!(
            judge(&report(""), Some(5), false),
            Err(Refusal::NoRules { .. })
        ));
        assert_eq!(judge(&report(""), Some(5), true), Ok(()));
    }

    #[test]
    fn check_list_reads_the_file_and_refuses_pages_even_when_forced() {
        let dir = tempfile::tempdir().unwrap();
        let info = || ListInfo {
            id: "t".into(),
            title: "t".into(),
        };
        let page = dir.path().join("page");
        std::fs::write(&page, "<html><body>Sign in to Wi-Fi</body></html>\n").unwrap();
        let refused = check_list(&page, info(), Some("text/html"), None, true).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "the server sent a web page, not a list (text/html)"
        );
        let list = dir.path().join("list");
        std::fs::write(&list, "ads.example\n0.0.0.0 t.example\nbad line here\n").unwrap();
        let report = check_list(&list, info(), None, Some(3), false).unwrap();
        assert_eq!((report.rules, report.counts.unused), (2, 1));
        let compiled = dir.path().join("compiled");
        std::fs::write(&compiled, tacet_rules::RuleSet::empty().as_bytes()).unwrap();
        assert!(matches!(
            check_list(&compiled, info(), None, None, false),
            Err(Refusal::Unreadable(_))
        ));
    }
}
