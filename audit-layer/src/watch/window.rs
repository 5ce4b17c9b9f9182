//! The sliding window of one threshold rule for one key.
//!
//! The window ends at the newest record time seen for the key and reaches
//! back `within`, both ends included. Records arriving out of time order
//! are placed by their time; one older than the window's start is outside
//! it.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::record::chain::Hash;

/// One counted record.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// Record time, nanoseconds since 1970.
    pub(crate) t: i64,
    pub(crate) seq: u64,
    pub(crate) hash: Hash,
    /// A hash of the distinct field's value (0 when not counting distinct values).
    pub(crate) v: u64,
}

/// The records of one key inside the window, in time order.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Window {
    entries: VecDeque<Entry>,
    /// How many entries carry each distinct value: rebuilt from `entries`.
    #[serde(skip)]
    values: HashMap<u64, u32>,
}

impl Window {
    /// Adds `entry` and drops what the window no longer reaches; returns the
    /// count (of records, or of distinct values when `distinct`).
    pub(crate) fn add(&mut self, entry: Entry, within: i64, distinct: bool) -> u64 {
        let newest = self
            .entries
            .back()
            .map_or(entry.t, |last| last.t.max(entry.t));
        let start = newest.saturating_sub(within);
        if entry.t < start {
            return self.count(distinct);
        }
        let at = self.entries.partition_point(|e| e.t <= entry.t);
        self.entries.insert(at, entry);
        if distinct {
            *self.values.entry(entry.v).or_default() += 1;
        }
        self.drop_before(start, distinct);
        self.count(distinct)
    }

    fn count(&self, distinct: bool) -> u64 {
        if distinct {
            self.values.len() as u64
        } else {
            self.entries.len() as u64
        }
    }

    /// Drops entries older than `start`.
    pub(crate) fn drop_before(&mut self, start: i64, distinct: bool) {
        while let Some(first) = self.entries.front() {
            if first.t >= start {
                break;
            }
            let gone = self.entries.pop_front().expect("a front");
            if distinct && let Some(n) = self.values.get_mut(&gone.v) {
                *n -= 1;
                if *n == 0 {
                    self.values.remove(&gone.v);
                }
            }
        }
    }

    /// The newest record time in the window.
    pub(crate) fn newest(&self) -> Option<i64> {
        self.entries.back().map(|e| e.t)
    }

    /// The records in the window, oldest first: for distinct counting, the
    /// first record of each value.
    pub(crate) fn records(&self, distinct: bool) -> Vec<Entry> {
        if !distinct {
            return self.entries.iter().copied().collect();
        }
        let mut seen = std::collections::HashSet::new();
        self.entries
            .iter()
            .filter(|e| seen.insert(e.v))
            .copied()
            .collect()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Rebuilds the distinct counts after the window was read back.
    pub(crate) fn restored(mut self, distinct: bool) -> Window {
        if distinct {
            for entry in &self.entries {
                *self.values.entry(entry.v).or_default() += 1;
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::chain::GENESIS;

    fn at(t: i64, v: u64) -> Entry {
        Entry {
            t,
            seq: t as u64,
            hash: GENESIS,
            v,
        }
    }

    #[test]
    fn both_ends_of_the_window_count() {
        let mut w = Window::default();
        assert_eq!(w.add(at(0, 0), 10, false), 1);
        assert_eq!(w.add(at(10, 0), 10, false), 2);
        assert_eq!(w.add(at(11, 0), 10, false), 2);
        // Out of time order but inside the window: counted.
        assert_eq!(w.add(at(5, 0), 10, false), 3);
        // Older than the window's start: not counted.
        assert_eq!(w.add(at(0, 0), 10, false), 3);
        assert_eq!(
            w.records(false).iter().map(|e| e.t).collect::<Vec<_>>(),
            [5, 10, 11]
        );
    }

    #[test]
    fn distinct_values_are_counted_once() {
        let mut w = Window::default();
        assert_eq!(w.add(at(0, 1), 10, true), 1);
        assert_eq!(w.add(at(1, 1), 10, true), 1);
        assert_eq!(w.add(at(2, 2), 10, true), 2);
        assert_eq!(w.add(at(11, 3), 10, true), 3);
        assert_eq!(w.add(at(12, 3), 10, true), 2);
    }
}
