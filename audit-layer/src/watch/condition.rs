//! What a rule matches: a set of fields, each tested by a glob, a regex, a
//! value, or a combination; every test must hold.
//!
//! In a rules file a condition is a table from field names to tests:
//! `{ action = "user.*", "after.role" = "admin", actor = { regex = "^svc-" } }`.

use std::fmt;

use regex::Regex;
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

use crate::record::glob::Glob;
use crate::watch::record_view::{FIELD_NAMES, Field, RecordView};

/// A test of one field's value.
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    /// A glob: `*` any run of characters, `?` one character, `\` escapes.
    Glob(Glob),
    /// A regular expression, matching anywhere unless anchored.
    Regex(Regex),
    /// Exactly this text.
    Equals(String),
    /// A number equal to this one.
    NumberEquals(f64),
    /// Any of these.
    AnyOf(Vec<Matcher>),
    /// All of these.
    All(Vec<Matcher>),
    /// Not this.
    Not(Box<Matcher>),
    /// Whether the field has a value at all.
    Exists(bool),
    /// A number above this one.
    Above(f64),
    /// A number below this one.
    Below(f64),
}

impl Matcher {
    pub(crate) fn matches(&self, record: &RecordView<'_>, field: &Field) -> bool {
        match self {
            Matcher::Exists(wanted) => record.text(field).is_some() == *wanted,
            Matcher::Not(inner) => !inner.matches(record, field),
            Matcher::AnyOf(options) => options.iter().any(|m| m.matches(record, field)),
            Matcher::All(tests) => tests.iter().all(|m| m.matches(record, field)),
            Matcher::NumberEquals(n) => record.number(field) == Some(*n),
            Matcher::Above(n) => record.number(field).is_some_and(|v| v > *n),
            Matcher::Below(n) => record.number(field).is_some_and(|v| v < *n),
            Matcher::Glob(glob) => record.text(field).is_some_and(|t| glob.matches(&t)),
            Matcher::Regex(regex) => record.text(field).is_some_and(|t| regex.is_match(&t)),
            Matcher::Equals(text) => record.text(field).is_some_and(|t| *t == **text),
        }
    }

    /// How dear the test is, relative to the others: cheap ones run first.
    fn cost(&self) -> u8 {
        match self {
            Matcher::Equals(_) | Matcher::Exists(_) => 0,
            Matcher::Glob(_) | Matcher::NumberEquals(_) | Matcher::Above(_) | Matcher::Below(_) => {
                1
            }
            Matcher::Regex(_) => 2,
            Matcher::AnyOf(all) | Matcher::All(all) => {
                all.iter().map(Matcher::cost).max().unwrap_or(0)
            }
            Matcher::Not(inner) => inner.cost(),
        }
    }
}

/// Every test of a rule's condition; all must hold.
#[derive(Debug, Clone, Default)]
pub(crate) struct Condition {
    tests: Vec<(Field, Matcher)>,
}

impl Condition {
    pub(crate) fn matches(&self, record: &RecordView<'_>) -> bool {
        self.tests.iter().all(|(field, m)| match field {
            // As `audit show --outcome`: a failure's category (denied,
            // panicked, cancelled...) stands for its outcome too.
            Field::Outcome => {
                let has_category = record.text(&Field::Category).is_some();
                match m {
                    Matcher::Not(_) => {
                        m.matches(record, field)
                            && (!has_category || m.matches(record, &Field::Category))
                    }
                    _ => {
                        m.matches(record, field)
                            || (has_category && m.matches(record, &Field::Category))
                    }
                }
            }
            _ => m.matches(record, field),
        })
    }

    /// Whether it tests nothing (a match rule needs a test).
    pub(crate) fn is_empty(&self) -> bool {
        self.tests.is_empty()
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Field::parse(&name).map_err(de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ConditionVisitor;
        impl<'de> Visitor<'de> for ConditionVisitor {
            type Value = Condition;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a table of fields ({FIELD_NAMES}) and their tests")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Condition, A::Error> {
                let mut tests = Vec::new();
                while let Some(field) = map.next_key::<Field>()? {
                    if tests.iter().any(|(seen, _)| *seen == field) {
                        return Err(de::Error::custom(format!("{field:?} is tested twice")));
                    }
                    let matcher: Matcher = map.next_value()?;
                    tests.push((field, matcher));
                }
                // Cheap tests on indexed fields first: most records fail there.
                tests.sort_by_key(|(field, m): &(Field, Matcher)| {
                    (field.needs_full_record(), m.cost())
                });
                Ok(Condition { tests })
            }
        }
        deserializer.deserialize_map(ConditionVisitor)
    }
}

/// The keys a test table may hold, for errors and the schema.
pub(crate) const TEST_KEYS: [&str; 8] = [
    "glob", "regex", "equals", "any_of", "not", "exists", "above", "below",
];

impl<'de> Deserialize<'de> for Matcher {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MatcherVisitor;
        impl<'de> Visitor<'de> for MatcherVisitor {
            type Value = Matcher;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "a glob, a number, true/false, or a table of tests ({})",
                    TEST_KEYS.join(", ")
                )
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Matcher, E> {
                Ok(Matcher::Glob(Glob::new(text)))
            }
            fn visit_bool<E: de::Error>(self, value: bool) -> Result<Matcher, E> {
                Ok(Matcher::Equals(value.to_string()))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Matcher, E> {
                Ok(Matcher::NumberEquals(value as f64))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Matcher, E> {
                Ok(Matcher::NumberEquals(value as f64))
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Matcher, E> {
                Ok(Matcher::NumberEquals(value))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Matcher, A::Error> {
                let mut options = Vec::new();
                while let Some(option) = seq.next_element::<Matcher>()? {
                    options.push(option);
                }
                Ok(Matcher::AnyOf(options))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Matcher, A::Error> {
                let mut tests = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    tests.push(match key.as_str() {
                        "glob" => Matcher::Glob(Glob::new(&map.next_value::<String>()?)),
                        "regex" => {
                            let pattern = map.next_value::<String>()?;
                            let regex = regex::RegexBuilder::new(&pattern)
                                .size_limit(1 << 20)
                                .build()
                                .map_err(|e| de::Error::custom(format!("a bad regex: {e}")))?;
                            Matcher::Regex(regex)
                        }
                        "equals" => match map.next_value::<Scalar>()? {
                            Scalar::Text(text) => Matcher::Equals(text),
                            Scalar::Bool(value) => Matcher::Equals(value.to_string()),
                            Scalar::Integer(value) => Matcher::NumberEquals(value as f64),
                            Scalar::Float(value) => Matcher::NumberEquals(value),
                        },
                        "any_of" => match map.next_value::<Matcher>()? {
                            list @ Matcher::AnyOf(_) => list,
                            _ => return Err(de::Error::custom("`any_of` takes a list")),
                        },
                        "not" => Matcher::Not(Box::new(map.next_value::<Matcher>()?)),
                        "exists" => Matcher::Exists(map.next_value::<bool>()?),
                        "above" => Matcher::Above(map.next_value::<f64>()?),
                        "below" => Matcher::Below(map.next_value::<f64>()?),
                        other => {
                            return Err(de::Error::custom(format!(
                                "`{other}` is not a test; tests are {}",
                                TEST_KEYS.join(", ")
                            )));
                        }
                    });
                }
                match tests.len() {
                    0 => Err(de::Error::custom("an empty table tests nothing")),
                    1 => Ok(tests.pop().expect("one test")),
                    _ => Ok(Matcher::All(tests)),
                }
            }
        }
        deserializer.deserialize_any(MatcherVisitor)
    }
}

/// A value `equals` compares with.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Bool(bool),
    Integer(i64),
    Float(f64),
}
