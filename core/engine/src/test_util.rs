//! Helpers for the crate's unit tests.

/// Bytes from hex text; whitespace is ignored, so fixtures can be laid out
/// field by field.
pub(crate) fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
