//! Writing to standard output without panicking.
//!
//! `println!` panics when the write fails. A reader that goes away
//! (`tacet journal | head`) ends the process quietly (SIGPIPE is left at
//! its default in `main`); any other failure, such as a full disk behind
//! `> file`, is an error the command returns.

/// Like `println!`, but gives `Err(String)` when the write fails.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err(|e| $crate::out::failed(&e))
    }};
}
pub(crate) use outln;

/// What a failed write to standard output says.
pub(crate) fn failed(e: &std::io::Error) -> String {
    format!("cannot write the output: {e}")
}
