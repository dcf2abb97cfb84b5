//! The errors of a map file: every bad line, each shown as `file:line: message`, so an
//! administrator fixes them all in one pass (the access map and the mailertable share it).

use std::fmt;
use std::path::{Path, PathBuf};

/// One bad line (or an unreadable file, with no line) of kind `K`.
#[derive(Debug)]
pub struct LineError<K> {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub kind: K,
}

/// Every bad line of a file; `Display` lists one per line.
#[derive(Debug)]
pub struct LineErrors<K>(pub Vec<LineError<K>>);

impl<K: fmt::Display> fmt::Display for LineError<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.path.display(), line, self.kind),
            None => write!(f, "{}: {}", self.path.display(), self.kind),
        }
    }
}

impl<K: fmt::Display> fmt::Display for LineErrors<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            error.fmt(f)?;
        }
        Ok(())
    }
}

impl<K: fmt::Debug + fmt::Display> std::error::Error for LineError<K> {}

impl<K: fmt::Debug + fmt::Display> std::error::Error for LineErrors<K> {}

/// Runs `handle` on every line of `text` (with its 1-based number) and collects every
/// failure with `path` and the line, so all bad lines are reported, not only the first.
pub fn each_line<K>(
    text: &str,
    path: &Path,
    mut handle: impl FnMut(&str, usize) -> Result<(), K>,
) -> Result<(), LineErrors<K>> {
    let errors: Vec<LineError<K>> = text
        .lines()
        .enumerate()
        .filter_map(|(index, line)| {
            let number = index + 1;
            handle(line, number).err().map(|kind| LineError {
                path: path.to_owned(),
                line: Some(number),
                kind,
            })
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(LineErrors(errors))
    }
}
