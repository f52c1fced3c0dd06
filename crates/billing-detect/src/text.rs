//! Reading project files safely: a size bound, UTF-8 (or BOM-marked UTF-16) only, and positions as 1-based
//! line/column for evidence and warnings.

use std::path::Path;

/// The file's line ending, for text inserted into it: `"\r\n"` when it uses Windows line
/// endings, else `"\n"`.
pub fn newline(source: &str) -> &'static str {
    if source.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    }
}

/// Why a file was not read. Turned into a note by the caller; never fatal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    TooLarge {
        bytes: u64,
        limit: u64,
    },
    NotUtf8,
    /// A device, FIFO, socket or directory (possibly behind a symlink): never read.
    NotRegular,
    Unreadable(String),
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::TooLarge { bytes, limit } => {
                write!(f, "skipped: {bytes} bytes is over the {limit}-byte limit")
            }
            Skip::NotUtf8 => f.write_str("skipped: not UTF-8 text"),
            Skip::NotRegular => f.write_str("skipped: not a regular file (device, FIFO or socket)"),
            Skip::Unreadable(why) => write!(f, "skipped: unreadable ({why})"),
        }
    }
}

/// Reads a text file of at most `limit` bytes. A byte-order mark is dropped.
///
/// Projects are untrusted input: only a regular file is read (a symlink is followed only to
/// one), never a device such as `/dev/zero` or a FIFO, and never more than `limit` bytes even
/// if the file grows while it is read. The type is checked on the opened handle, and the open
/// itself does not block on a FIFO, so swapping the file between check and read changes
/// nothing.
pub fn read_text(path: &Path, limit: u64) -> Result<String, Skip> {
    use std::io::Read;
    let unreadable = |e: std::io::Error| Skip::Unreadable(e.kind().to_string());
    let file = open_nonblocking(path).map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        return Err(Skip::NotRegular);
    }
    if meta.len() > limit {
        return Err(Skip::TooLarge {
            bytes: meta.len(),
            limit,
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > limit {
        return Err(Skip::TooLarge {
            bytes: bytes.len() as u64,
            limit,
        });
    }
    // UTF-16 with a BOM (a `requirements.txt` saved by PowerShell) is text as well.
    let (text, _) = billing_changeset::TextEncoding::decode(&bytes).ok_or(Skip::NotUtf8)?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    })
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}

/// Byte offset → 1-based line and column (columns count characters, not bytes).
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { starts }
    }

    pub fn line(&self, offset: usize) -> u32 {
        let idx = self.starts.partition_point(|&s| s <= offset);
        u32::try_from(idx.max(1)).unwrap_or(u32::MAX)
    }

    pub fn line_col(&self, text: &str, offset: usize) -> (u32, u32) {
        let line = self.line(offset);
        let start = self.starts[(line as usize).saturating_sub(1)];
        let end = offset.min(text.len());
        let col = text
            .get(start..end)
            .map_or(end.saturating_sub(start), |s| s.chars().count());
        (line, u32::try_from(col + 1).unwrap_or(u32::MAX))
    }
}

/// Random access to the lines of a text, for the evidence of many entries of one file:
/// [`line_text`] walks the text from its start on every call, which made a 50k-line
/// `requirements.txt` take seconds (quadratic in its entries).
pub struct Lines<'a> {
    lines: Vec<&'a str>,
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str) -> Self {
        Self {
            lines: text.lines().collect(),
        }
    }

    /// The trimmed text of 1-based `line`, shortened like [`line_text`].
    pub fn text(&self, line: u32) -> String {
        let raw = self
            .lines
            .get((line as usize).saturating_sub(1))
            .copied()
            .unwrap_or("");
        shorten(raw.trim(), 100)
    }
}

/// The trimmed text of 1-based `line`, shortened for evidence output.
pub fn line_text(text: &str, line: u32) -> String {
    let raw = text
        .lines()
        .nth((line as usize).saturating_sub(1))
        .unwrap_or("");
    shorten(raw.trim(), 100)
}

/// Cuts `s` to at most `max` characters, marking the cut with `…`.
pub fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Joins a package directory ("." or "apps/web") and a relative file into a root-relative path.
pub fn join_rel(dir: &str, file: &str) -> String {
    if dir == "." || dir.is_empty() {
        file.to_owned()
    } else if file.is_empty() || file == "." {
        dir.to_owned()
    } else {
        format!("{dir}/{file}")
    }
}

/// Parent directory of a root-relative path ("." for top-level files).
pub fn parent_rel(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[..i],
        None => ".",
    }
}

/// File name of a root-relative path.
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `path` relative to `dir` when it lies inside it.
pub fn strip_dir<'a>(path: &'a str, dir: &str) -> Option<&'a str> {
    if dir == "." {
        return Some(path);
    }
    path.strip_prefix(dir)?.strip_prefix('/')
}

/// Leading major version of a version or requirement ("^15.1.0" → 15, ">=0.4,<1" → 0,
/// "v1.2.3" → 1). `None` for tags and protocols ("latest", "workspace:*", "*").
pub fn major_of(spec: &str) -> Option<u64> {
    let s = spec.trim();
    let s = s.strip_prefix("npm:").map_or(s, |rest| {
        rest.rsplit_once('@').map_or(rest, |(_, version)| version)
    });
    let s = s.trim_start_matches(['^', '~', '>', '=', '<', '!', ' ', 'v', 'V']);
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_maps_offsets() {
        let text = "ab\ncdé\nf";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line(0), 1);
        assert_eq!(idx.line(3), 2);
        assert_eq!(idx.line_col(text, 7), (2, 4));
        assert_eq!(idx.line(text.len()), 3);
    }

    #[test]
    fn majors_from_requirements() {
        assert_eq!(major_of("^15.1.0"), Some(15));
        assert_eq!(major_of("~5"), Some(5));
        assert_eq!(major_of(">=0.4,<1"), Some(0));
        assert_eq!(major_of("v1.9.1"), Some(1));
        assert_eq!(major_of("npm:@polar-sh/ingestion@0.3.1"), Some(0));
        assert_eq!(major_of("workspace:*"), None);
        assert_eq!(major_of("latest"), None);
        assert_eq!(major_of("*"), None);
    }

    #[test]
    fn paths() {
        assert_eq!(join_rel(".", "a.ts"), "a.ts");
        assert_eq!(join_rel("apps/web", "a.ts"), "apps/web/a.ts");
        assert_eq!(parent_rel("apps/web/package.json"), "apps/web");
        assert_eq!(parent_rel("package.json"), ".");
        assert_eq!(strip_dir("apps/web/src/a.ts", "apps/web"), Some("src/a.ts"));
        assert_eq!(strip_dir("apps/webx/a.ts", "apps/web"), None);
        assert_eq!(shorten("abcdef", 4), "abc…");
    }
}

#[cfg(all(test, unix))]
mod hostile_file_tests {
    use super::{Lines, Skip, read_text};

    #[test]
    fn devices_and_fifos_are_never_read_even_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let zero = dir.path().join("package.json");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert_eq!(read_text(&zero, 1024), Err(Skip::NotRegular));

        let fifo = dir.path().join("go.mod");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // Would block forever on open or read without O_NONBLOCK and the type check.
        assert_eq!(read_text(&fifo, 1024), Err(Skip::NotRegular));
        assert_eq!(read_text(dir.path(), 1024), Err(Skip::NotRegular));
    }

    #[test]
    fn regular_files_are_bounded_and_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("requirements.txt");
        std::fs::write(&file, "\u{feff}flask\n").unwrap();
        assert_eq!(read_text(&file, 1024).unwrap(), "flask\n");
        assert_eq!(
            read_text(&file, 4),
            Err(Skip::TooLarge { bytes: 9, limit: 4 })
        );
    }

    #[test]
    fn lines_give_each_line_text_by_number() {
        let lines = Lines::new("a\n  b  \r\nc");
        assert_eq!(lines.text(2), "b");
        assert_eq!(lines.text(3), "c");
        assert_eq!(lines.text(9), "");
    }
}
