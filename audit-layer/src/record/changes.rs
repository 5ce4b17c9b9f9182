//! The `changes` of a record: what differs between its `before` and `after`.
//!
//! The form is a list of leaf differences, each a JSON Pointer (RFC 6901)
//! with the old and the new value. It reads as "role: editor → admin" in a
//! timeline, which an RFC 6902 patch (operations, not values) does not.
//!
//! - Objects are compared key by key; a key on one side only gives a change
//!   with only `old` (removed) or only `new` (added).
//! - Arrays are compared index by index, the same way.
//! - Any other pair of unequal values gives one change at its path.
//! - Equal values give nothing; the path of the whole document is `""`.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One difference between `before` and `after`.
///
/// # Examples
///
/// ```
/// use audit_layer::{diff, Change};
/// use serde_json::json;
///
/// let changes = diff(&json!({"role": "editor"}), &json!({"role": "admin"}));
/// assert_eq!(changes, vec![Change::new("/role", Some(json!("editor")), Some(json!("admin")))]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// JSON Pointer (RFC 6901) of the value that changed; `""` is the whole document.
    pub path: String,
    /// The value before; absent when the value was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    /// The value after; absent when the value was removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
}

impl Change {
    /// A change at `path` from `old` to `new`.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::Change;
    /// let added = Change::new("/tags/0", None, Some("news".into()));
    /// assert!(added.old.is_none());
    /// ```
    pub fn new(path: impl Into<String>, old: Option<Value>, new: Option<Value>) -> Self {
        Change {
            path: path.into(),
            old,
            new,
        }
    }
}

/// The changes that turn `before` into `after`, in document order.
///
/// # Examples
///
/// ```
/// use audit_layer::diff;
/// use serde_json::json;
///
/// let before = json!({"title": "Draft", "tags": ["a"], "flags": {"x/y": 1}});
/// let after = json!({"title": "Final", "tags": ["a", "b"], "flags": {}});
/// let paths: Vec<_> = diff(&before, &after).into_iter().map(|c| c.path).collect();
/// assert_eq!(paths, ["/flags/x~1y", "/tags/1", "/title"]);
/// ```
pub fn diff(before: &Value, after: &Value) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut path = String::new();
    diff_into(&mut changes, &mut path, before, after);
    changes
}

fn diff_into(changes: &mut Vec<Change>, path: &mut String, before: &Value, after: &Value) {
    match (before, after) {
        (Value::Object(old), Value::Object(new)) => {
            let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let len = path.len();
                path.push('/');
                path.push_str(&escape_pointer_token(key));
                diff_sides(changes, path, old.get(key.as_str()), new.get(key.as_str()));
                path.truncate(len);
            }
        }
        (Value::Array(old), Value::Array(new)) => {
            for index in 0..old.len().max(new.len()) {
                let len = path.len();
                path.push('/');
                path.push_str(&index.to_string());
                diff_sides(changes, path, old.get(index), new.get(index));
                path.truncate(len);
            }
        }
        _ if before == after => {}
        _ => changes.push(Change::new(
            path.clone(),
            Some(before.clone()),
            Some(after.clone()),
        )),
    }
}

fn diff_sides(
    changes: &mut Vec<Change>,
    path: &mut String,
    old: Option<&Value>,
    new: Option<&Value>,
) {
    match (old, new) {
        (Some(old), Some(new)) => diff_into(changes, path, old, new),
        (old, new) => changes.push(Change::new(path.clone(), old.cloned(), new.cloned())),
    }
}

fn escape_pointer_token(token: &str) -> Cow<'_, str> {
    if token.contains(['~', '/']) {
        Cow::Owned(token.replace('~', "~0").replace('/', "~1"))
    } else {
        Cow::Borrowed(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn removed_and_added_keys_carry_one_side() {
        let changes = diff(&json!({"a": 1, "b": 2}), &json!({"b": 2, "c": 3}));
        assert_eq!(
            changes,
            vec![
                Change::new("/a", Some(json!(1)), None),
                Change::new("/c", None, Some(json!(3))),
            ]
        );
    }

    #[test]
    fn type_change_and_whole_document() {
        assert_eq!(
            diff(&json!(1), &json!("1")),
            vec![Change::new("", Some(json!(1)), Some(json!("1")))]
        );
        assert!(
            diff(
                &json!({"a": [1, {"b": null}]}),
                &json!({"a": [1, {"b": null}]})
            )
            .is_empty()
        );
    }

    #[test]
    fn pointer_tokens_are_escaped() {
        let changes = diff(&json!({"a~b/c": 1}), &json!({"a~b/c": 2}));
        assert_eq!(changes[0].path, "/a~0b~1c");
    }
}
