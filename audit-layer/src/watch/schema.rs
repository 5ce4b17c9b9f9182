//! The rules file's JSON Schema (draft 2020-12), for editors and CI
//! linters that check TOML against a schema (taplo, for one). Built from
//! the same key lists the reader uses, so the two can not drift apart.

use serde_json::{Value, json};

use crate::watch::condition::TEST_KEYS;
use crate::watch::rules_file::RULE_KEYS;

/// The JSON Schema of a rules file, as `audit watch --print-schema` prints
/// it and `docs/watch-rules.schema.json` publishes it.
///
/// # Examples
///
/// ```
/// let schema = audit_layer::watch::rules_schema();
/// assert_eq!(schema["title"], "audit watch rules file");
/// assert!(schema["$defs"]["rule"]["properties"]["kind"].is_object());
/// ```
pub fn rules_schema() -> Value {
    let duration = json!({
        "type": "string",
        "description": "A duration: 90s, 15m, 8h, 1h 30m.",
        "pattern": "^\\s*[0-9]+\\s*[a-zµ]+(\\s*[0-9]+\\s*[a-zµ]+)*\\s*$"
    });
    let severity = json!({"enum": ["info", "low", "medium", "high", "critical"]});
    let field_pattern = "^(action|actor|resource|outcome|category|reason|kind|service|host|seq|time|context\\.[^.]+.*|before\\.[^.]+(\\.[^.]+)*|after\\.[^.]+(\\.[^.]+)*)$";
    let mut test_properties = serde_json::Map::new();
    for key in TEST_KEYS {
        let schema = match key {
            "glob" | "regex" => json!({"type": "string"}),
            "equals" => json!({"type": ["string", "number", "boolean"]}),
            "any_of" => json!({"type": "array", "items": {"$ref": "#/$defs/test"}}),
            "not" => json!({"$ref": "#/$defs/test"}),
            "exists" => json!({"type": "boolean"}),
            _ => json!({"type": "number"}),
        };
        test_properties.insert(key.into(), schema);
    }
    let mut rule_properties = serde_json::Map::new();
    for key in RULE_KEYS {
        let schema = match key {
            "name" => json!({"type": "string", "pattern": "^[A-Za-z0-9._-]+$"}),
            "kind" => json!({"enum": ["match", "threshold", "sequence", "time_of_day", "silence"]}),
            "severity" => json!({"$ref": "#/$defs/severity"}),
            "message" => {
                json!({"type": "string", "description": "A template: {actor}, {key}, {count}, {within}, {after.role}, {first.actor}..."})
            }
            "suppress" | "within" | "quiet_for" => json!({"$ref": "#/$defs/duration"}),
            "where" | "first" | "then" => json!({"$ref": "#/$defs/condition"}),
            "at_least" => json!({"type": "integer", "minimum": 1}),
            "group_by" | "key" | "first_key" | "then_key" => json!({"$ref": "#/$defs/key"}),
            "distinct" => json!({"type": "string", "pattern": field_pattern}),
            "hours" => {
                json!({"type": "string", "pattern": "^[0-9]{1,2}:[0-9]{2}-[0-9]{1,2}:[0-9]{2}$"})
            }
            "days" => json!({"type": "array", "items": {"type": "string"}}),
            "timezone" => {
                json!({"type": "string", "description": "An IANA time zone name, such as Europe/Berlin, or UTC."})
            }
            _ => json!({}),
        };
        rule_properties.insert(key.into(), schema);
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/audit-layer/audit-layer/docs/watch-rules.schema.json",
        "title": "audit watch rules file",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "version": {"const": 1},
            "defaults": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "suppress": {"$ref": "#/$defs/duration"},
                    "lateness": {"$ref": "#/$defs/duration"},
                    "timezone": {"type": "string"}
                }
            },
            "integrity": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "enabled": {"const": true},
                    "severity": {"$ref": "#/$defs/severity"},
                    "message": {"type": "string"},
                    "suppress": {"$ref": "#/$defs/duration"}
                }
            },
            "rule": {"type": "array", "items": {"$ref": "#/$defs/rule"}}
        },
        "$defs": {
            "duration": duration,
            "severity": severity,
            "test": {
                "oneOf": [
                    {"type": "string", "description": "A glob: * any run, ? one character, \\ escapes."},
                    {"type": ["number", "boolean"]},
                    {"type": "array", "items": {"$ref": "#/$defs/test"}},
                    {"type": "object", "additionalProperties": false, "minProperties": 1, "properties": Value::Object(test_properties)}
                ]
            },
            "condition": {
                "type": "object",
                "propertyNames": {"pattern": field_pattern},
                "additionalProperties": {"$ref": "#/$defs/test"}
            },
            "key": {
                "oneOf": [
                    {"type": "string", "pattern": field_pattern},
                    {
                        "type": "object",
                        "additionalProperties": false,
                        "required": ["field"],
                        "properties": {"field": {"type": "string", "pattern": field_pattern}, "capture": {"type": "string"}}
                    }
                ]
            },
            "rule": {
                "type": "object",
                "additionalProperties": false,
                "required": ["name", "kind", "severity", "message"],
                "properties": Value::Object(rule_properties)
            }
        }
    })
}
