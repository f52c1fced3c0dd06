//! Byte-range edits of one file. Every byte outside an edit is kept exactly as it was, which is
//! what makes the wiring "surgical": the diff shows only our additions.

/// Replace `start..end` of the original text with `text` (`start == end` inserts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Edit {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

impl Edit {
    pub fn insert(at: usize, text: impl Into<String>) -> Self {
        Self {
            start: at,
            end: at,
            text: text.into(),
        }
    }

    pub fn replace(start: usize, end: usize, text: impl Into<String>) -> Self {
        Self {
            start,
            end,
            text: text.into(),
        }
    }

    fn overlaps(&self, other: &Edit) -> bool {
        // Two insertions at one point are fine (applied in the order they were accepted); an
        // insertion strictly inside a replaced range, or two intersecting ranges, are not.
        if self.start == self.end || other.start == other.end {
            let (point, range) = if self.start == self.end {
                (self.start, other)
            } else {
                (other.start, self)
            };
            return range.start < point && point < range.end;
        }
        self.start < other.end && other.start < self.end
    }
}

/// The edits accepted so far for one file.
#[derive(Debug, Default)]
pub(crate) struct EditSet {
    edits: Vec<Edit>,
}

impl EditSet {
    /// Accepts all of `edits` or none of them (when any would touch a range already edited, as
    /// when two call sites share one options object).
    /// An edit identical to one already accepted (two sites adding the same field to one
    /// destructuring) is applied once.
    pub fn try_add(&mut self, edits: Vec<Edit>) -> bool {
        let edits: Vec<Edit> = edits
            .into_iter()
            .filter(|e| !self.edits.contains(e))
            .collect();
        let clash = edits
            .iter()
            .any(|new| self.edits.iter().any(|old| old.overlaps(new)));
        if clash {
            return false;
        }
        self.edits.extend(edits);
        true
    }

    pub fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    /// The original text with every edit applied.
    pub fn apply(&self, source: &str) -> String {
        let mut order: Vec<(usize, &Edit)> = self.edits.iter().enumerate().collect();
        // Stable by start; insertions at one point keep their acceptance order.
        order.sort_by_key(|(i, e)| (e.start, *i));
        let mut out = String::with_capacity(source.len() + 256);
        let mut cursor = 0;
        for (_, edit) in order {
            out.push_str(&source[cursor..edit.start]);
            out.push_str(&edit.text);
            cursor = edit.end;
        }
        out.push_str(&source[cursor..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_every_untouched_byte_and_orders_insertions() {
        let mut set = EditSet::default();
        assert!(set.try_add(vec![Edit::insert(3, "X"), Edit::replace(5, 6, "yy")]));
        assert!(set.try_add(vec![Edit::insert(3, "Z")]));
        assert_eq!(set.apply("abc\r\nef"), "abcXZ\r\nyyf");
    }

    #[test]
    fn rejects_overlapping_edits_as_a_group() {
        let mut set = EditSet::default();
        assert!(set.try_add(vec![Edit::replace(2, 8, "r")]));
        assert!(!set.try_add(vec![Edit::insert(0, "a"), Edit::insert(4, "b")]));
        assert!(set.try_add(vec![Edit::insert(8, "c")]));
        assert_eq!(set.apply("0123456789"), "01rc89");
    }
}
