//! Names from the trail (actors, resources), each kept once in one buffer
//! and found by a keyed hash: a report over a million resources makes no
//! allocation per name and compares at most one name per lookup. The hash
//! keys are random per process, so a writer can not aim names at one slot.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};

/// A `u64` that is already a keyed hash, used as it is.
#[derive(Default)]
pub(crate) struct AlreadyHashed(u64);

impl Hasher for AlreadyHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` and `write_u32` are ever called; anything else folds in.
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }

    fn write_u32(&mut self, value: u32) {
        // Slot numbers: spread them over the table.
        self.0 = u64::from(value).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// Hash maps and sets keyed by an [`AlreadyHashed`] value or a slot.
pub(crate) type Unhashed = BuildHasherDefault<AlreadyHashed>;

/// Interned names with a value each.
pub(crate) struct Interned<T> {
    keys: RandomState,
    slots: HashMap<u64, u32, Unhashed>,
    /// Names whose hash another name took first (never expected).
    spilled: HashMap<String, u32>,
    text: String,
    spans: Vec<(usize, usize)>,
    values: Vec<T>,
}

impl<T: Default> Interned<T> {
    pub(crate) fn new() -> Interned<T> {
        Interned {
            keys: RandomState::new(),
            slots: HashMap::default(),
            spilled: HashMap::new(),
            text: String::new(),
            spans: Vec::new(),
            values: Vec::new(),
        }
    }

    /// The slot of `name`, made (with a default value) if new.
    pub(crate) fn slot(&mut self, name: &str) -> u32 {
        let hash = self.keys.hash_one(name);
        match self.slots.get(&hash) {
            Some(&slot) if self.name(slot) == name => slot,
            Some(_) => match self.spilled.get(name) {
                Some(&slot) => slot,
                None => {
                    let slot = self.push(name);
                    self.spilled.insert(name.to_owned(), slot);
                    slot
                }
            },
            None => {
                let slot = self.push(name);
                self.slots.insert(hash, slot);
                slot
            }
        }
    }

    fn push(&mut self, name: &str) -> u32 {
        let start = self.text.len();
        self.text.push_str(name);
        self.spans.push((start, name.len()));
        self.values.push(T::default());
        u32::try_from(self.values.len() - 1).unwrap_or(u32::MAX)
    }

    pub(crate) fn name(&self, slot: u32) -> &str {
        let (start, len) = self.spans[slot as usize];
        &self.text[start..start + len]
    }

    pub(crate) fn value(&mut self, slot: u32) -> &mut T {
        &mut self.values[slot as usize]
    }

    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    /// Every name with its value, in the order first seen.
    pub(crate) fn into_entries(self) -> impl Iterator<Item = (String, T)> {
        let Interned {
            text,
            spans,
            values,
            ..
        } = self;
        spans
            .into_iter()
            .zip(values)
            .map(move |((start, len), value)| (text[start..start + len].to_owned(), value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_has_one_slot_and_keeps_its_value() {
        let mut names: Interned<u64> = Interned::new();
        let a = names.slot("alice");
        let b = names.slot("bob");
        assert_ne!(a, b);
        assert_eq!(names.slot("alice"), a);
        *names.value(a) += 2;
        assert_eq!(names.name(b), "bob");
        assert_eq!(names.len(), 2);
        let entries: Vec<(String, u64)> = names.into_entries().collect();
        assert_eq!(entries, [("alice".to_owned(), 2), ("bob".to_owned(), 0)]);
    }
}
