//! Domain names in the one form rules compare them in: lowercase ASCII
//! (IDNA/punycode), without the trailing dot, with DNS length limits checked.

use std::fmt;

/// The longest name DNS can carry in text form, without the trailing dot.
pub const MAX_NAME_LEN: usize = 253;
/// The longest label DNS allows.
pub const MAX_LABEL_LEN: usize = 63;

/// Why a piece of text is not a domain name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameError {
    /// Nothing was left once the trailing dot was removed.
    Empty,
    /// Two dots in a row, or a leading dot: a label of length zero.
    EmptyLabel,
    /// A label longer than 63 bytes (after punycode conversion).
    LabelTooLong {
        /// The label's length in bytes.
        len: usize,
    },
    /// A name longer than 253 bytes (after punycode conversion).
    TooLong {
        /// The name's length in bytes.
        len: usize,
    },
    /// A character that cannot appear in a host name.
    BadChar {
        /// The first offending character.
        ch: char,
    },
    /// A Unicode name that IDNA (UTS #46) refuses to convert to punycode,
    /// or an `xn--` label that is not valid punycode.
    Idna,
    /// The last label (the top-level domain) is not one: all digits
    /// (`10.0.0`, `123`, `300.1.1.1`), or with an `_` or a leading or
    /// trailing `-` (`_prebid_`, `-banner-ads.`).
    BadTld,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "empty name"),
            Self::EmptyLabel => write!(f, "empty label (two dots in a row, or a leading dot)"),
            Self::LabelTooLong { len } => {
                write!(
                    f,
                    "a label is {len} bytes long; DNS allows at most {MAX_LABEL_LEN}"
                )
            }
            Self::TooLong { len } => {
                write!(
                    f,
                    "the name is {len} bytes long; DNS allows at most {MAX_NAME_LEN}"
                )
            }
            Self::BadChar { ch } => write!(f, "character {ch:?} cannot appear in a host name"),
            Self::Idna => write!(f, "Unicode or punycode (xn--) that IDNA cannot convert"),
            Self::BadTld => write!(
                f,
                "the last label is not a top-level domain (all digits, or '_' or a '-' at an end): not a name, nor an address"
            ),
        }
    }
}

impl std::error::Error for NameError {}

/// Converts `input` to the form [`crate::RuleSet::lookup`] expects: lowercase
/// ASCII, Unicode converted to punycode (IDNA, UTS #46 non-transitional), no
/// trailing dot, every label 1 to 63 bytes, at most 253 bytes in all.
///
/// Underscores are accepted (`_dmarc.example.com` and service names appear in
/// real lists and in real queries); hyphens are accepted anywhere, because
/// lists do carry such names and refusing them would leave them unblocked.
pub fn normalize_name(input: &str) -> Result<String, NameError> {
    let mut out = String::new();
    normalize_into(input, &mut out)?;
    Ok(out)
}

/// [`normalize_name`] into a reused buffer: the parser calls this for every
/// line, and the ASCII path (nearly all lines) allocates nothing.
pub(crate) fn normalize_into(input: &str, out: &mut String) -> Result<(), NameError> {
    out.clear();
    let input = input.strip_suffix('.').unwrap_or(input);
    if input.is_empty() {
        return Err(NameError::Empty);
    }
    if input.is_ascii() {
        out.push_str(input);
        out.make_ascii_lowercase();
    } else {
        match idna::domain_to_ascii(input) {
            Ok(ascii) => out.push_str(&ascii),
            Err(_) => return Err(NameError::Idna),
        }
    }
    check_ascii(out)
}

/// Checks characters and lengths of a lowercase ASCII name.
fn check_ascii(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if let Some(ch) = name.chars().find(|&c| {
        !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' || c == '.')
    }) {
        return Err(NameError::BadChar { ch });
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(NameError::EmptyLabel);
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(NameError::LabelTooLong { len: label.len() });
        }
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong { len: name.len() });
    }
    let tld = name.rsplit('.').next().unwrap_or_default().as_bytes();
    let alnum = |b: Option<&u8>| b.is_some_and(u8::is_ascii_alphanumeric);
    if tld.iter().all(u8::is_ascii_digit)
        || tld.contains(&b'_')
        || !alnum(tld.first())
        || !alnum(tld.last())
    {
        return Err(NameError::BadTld);
    }
    // Punycode labels must decode (IDNA's check, only for the rare names
    // that have one).
    if name.split('.').any(|l| l.starts_with("xn--")) && idna::domain_to_unicode(name).1.is_err() {
        return Err(NameError::Idna);
    }
    Ok(())
}

/// Appends `name` with its labels in reverse order (`api.huami.com` becomes
/// `com.huami.api`): the key under which the compiled form stores it, so that
/// every parent of a name is a prefix of its key, ending at a label boundary.
pub(crate) fn push_reversed(name: &str, out: &mut Vec<u8>) {
    for (i, label) in name.rsplit('.').enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        out.extend_from_slice(label.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercases_and_drops_trailing_dot() {
        assert_eq!(
            normalize_name("Api-MiFit.Huami.COM.").unwrap(),
            "api-mifit.huami.com"
        );
    }

    #[test]
    fn converts_unicode_to_punycode() {
        assert_eq!(
            normalize_name("bücher.example").unwrap(),
            "xn--bcher-kva.example"
        );
        assert_eq!(
            normalize_name("BÜCHER.example.").unwrap(),
            "xn--bcher-kva.example"
        );
    }

    #[test]
    fn refuses_bad_names_with_reason() {
        assert_eq!(normalize_name(""), Err(NameError::Empty));
        assert_eq!(normalize_name("."), Err(NameError::Empty));
        assert_eq!(normalize_name("a..b"), Err(NameError::EmptyLabel));
        assert_eq!(normalize_name(".a.b"), Err(NameError::EmptyLabel));
        assert_eq!(normalize_name("a b"), Err(NameError::BadChar { ch: ' ' }));
        assert_eq!(
            normalize_name("ex*ample.com"),
            Err(NameError::BadChar { ch: '*' })
        );
        let label = "a".repeat(64);
        assert_eq!(
            normalize_name(&format!("{label}.com")),
            Err(NameError::LabelTooLong { len: 64 })
        );
        let ok = "a".repeat(63);
        assert!(normalize_name(&format!("{ok}.com")).is_ok());
        let long = vec!["a".repeat(60); 5].join(".");
        assert_eq!(normalize_name(&long), Err(NameError::TooLong { len: 304 }));
        assert!(normalize_name("xn--a.xn--\u{ffff}").is_err());
        for not_a_name in [
            "_prebid_",
            "_728x90.",
            "-ad123-",
            "-banner-ads.",
            "10.0.0",
            "123",
            "300.1.1.1",
        ] {
            assert_eq!(
                normalize_name(not_a_name),
                Err(NameError::BadTld),
                "{not_a_name}"
            );
        }
        assert_eq!(normalize_name("xn--zz.com"), Err(NameError::Idna));
        assert_eq!(normalize_name("xn--zz"), Err(NameError::Idna));
        assert!(normalize_name("xn--bcher-kva.example").is_ok());
        assert!(normalize_name("_dmarc.-x.example.com").is_ok());
        assert!(normalize_name("localhost").is_ok());
    }

    #[test]
    fn reverses_labels() {
        let mut out = Vec::new();
        push_reversed("api-mifit.huami.com", &mut out);
        assert_eq!(out, b"com.huami.api-mifit");
    }
}
