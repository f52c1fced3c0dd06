//! The state of one detection run: the file inventory, a cache of the files read so far, the
//! read budget, and the warnings/notes collected on the way.

use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;

use crate::DetectOptions;
use crate::manifest::Problem;
use crate::profile::Warning;
use crate::text::read_text;
use crate::walk::Inventory;

pub struct Scan<'a> {
    /// Absolute root (as given, made absolute).
    pub root: PathBuf,
    pub inv: &'a Inventory,
    pub options: &'a DetectOptions,
    pub warnings: Vec<Warning>,
    pub notes: Vec<String>,
    cache: HashMap<String, Option<Rc<str>>>,
    /// Source files read so far and their bytes (manifests are not counted).
    pub sources_read: usize,
    pub source_bytes: u64,
}

impl<'a> Scan<'a> {
    pub fn new(root: PathBuf, inv: &'a Inventory, options: &'a DetectOptions) -> Self {
        Self {
            root,
            inv,
            options,
            warnings: Vec::new(),
            notes: inv.notes.clone(),
            cache: HashMap::new(),
            sources_read: 0,
            source_bytes: 0,
        }
    }

    pub fn abs(&self, rel: &str) -> PathBuf {
        if rel == "." {
            self.root.clone()
        } else {
            self.root.join(rel)
        }
    }

    /// Reads a root-relative file once; problems become a note and `None`.
    pub fn read(&mut self, rel: &str) -> Option<Rc<str>> {
        if let Some(hit) = self.cache.get(rel) {
            return hit.clone();
        }
        let result = match read_text(&self.abs(rel), self.options.max_file_bytes) {
            Ok(text) => Some(Rc::<str>::from(text)),
            Err(skip) => {
                self.notes.push(format!("`{rel}`: {skip}"));
                None
            }
        };
        self.cache.insert(rel.to_owned(), result.clone());
        result
    }

    /// Reads a source file if the budget allows; `None` when skipped or over budget.
    pub fn read_source(&mut self, rel: &str) -> Option<Rc<str>> {
        if !self.cache.contains_key(rel) {
            if self.sources_read >= self.options.max_source_files
                || self.source_bytes >= self.options.max_source_bytes
            {
                return None;
            }
            self.sources_read += 1;
        }
        let text = self.read(rel)?;
        self.source_bytes += text.len() as u64;
        Some(text)
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.inv.has_file(rel) || self.abs(rel).is_file()
    }

    pub fn malformed(&mut self, problem: Problem, consequence: &str) {
        self.warnings.push(Warning {
            code: "malformed-manifest".to_owned(),
            message: format!(
                "`{}:{}:{}`: {}; {consequence}",
                problem.file, problem.line, problem.column, problem.message
            ),
            file: Some(problem.file),
            line: Some(problem.line),
            column: Some(problem.column),
        });
    }
}
