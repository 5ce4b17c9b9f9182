//! A rules file is checked before anything is watched: each mistake is
//! refused with its line, its column and what is wrong, in words; the
//! published JSON Schema is the one the reader follows; integrity alerts
//! can not be turned off.

mod common;

use audit_layer::watch::{RuleSet, rules_schema};

const RULE: &str =
    "[[rule]]\nname = \"r\"\nkind = \"match\"\nseverity = \"high\"\nmessage = \"m\"\n";

/// (file, line, words the error must hold)
fn mistakes() -> Vec<(String, usize, &'static str)> {
    vec![
        ("version = 2\n".into(), 1, "version 1"),
        ("x = \n".into(), 1, "expected"),
        (
            "[defaults]\ncolour = \"red\"\n".into(),
            2,
            "unknown field `colour`",
        ),
        (
            format!("{RULE}where = {{ action = {{ regex = \"(\" }} }}\n"),
            6,
            "a bad regex",
        ),
        (
            format!("{RULE}where = {{ colour = \"x\" }}\n"),
            6,
            "`colour` is not a field",
        ),
        (
            format!("{RULE}where = {{ action = {{ like = \"x\" }} }}\n"),
            6,
            "`like` is not a test",
        ),
        (
            format!("{RULE}where = {{ action = \"x\" }}\nwithin = \"5m\"\n"),
            7,
            "`within` is not a key of a match rule",
        ),
        (RULE.into(), 1, "a match rule needs `where`"),
        (
            RULE.replace("match", "threshold")
                + "where = { action = \"x\" }\nwithin = \"10 parsecs\"\nat_least = 2\n",
            7,
            "not a duration",
        ),
        (
            RULE.replace("match", "threshold")
                + "where = { action = \"x\" }\nwithin = \"1m\"\nat_least = 0\n",
            8,
            "1 or more",
        ),
        (
            RULE.replace("match", "sequence")
                + "first = { action = \"a\" }\nthen = { action = \"b\" }\nwithin = \"1m\"\n",
            1,
            "needs `key",
        ),
        (
            RULE.replace("match", "time_of_day") + "where = { action = \"a\" }\nhours = \"9-5\"\n",
            7,
            "HH:MM-HH:MM",
        ),
        (
            RULE.replace("match", "time_of_day")
                + "where = { action = \"a\" }\nhours = \"09:00-17:00\"\ntimezone = \"Mars/Olympus\"\n",
            8,
            "not a time zone",
        ),
        (
            RULE.replace("message = \"m\"", "message = \"{colour}\"")
                + "where = { action = \"a\" }\n",
            5,
            "not a placeholder",
        ),
        (
            RULE.replace("message = \"m\"", "message = \"{count}\"")
                + "where = { action = \"a\" }\n",
            5,
            "can not name {count}",
        ),
        (
            RULE.replace("severity = \"high\"", "severity = \"loud\"")
                + "where = { action = \"a\" }\n",
            4,
            "unknown variant `loud`",
        ),
        (
            RULE.replace("name = \"r\"", "name = \"r r\"") + "where = { action = \"a\" }\n",
            2,
            "letters, digits",
        ),
        (
            format!("{RULE}where = {{ action = \"a\" }}\n{RULE}where = {{ action = \"b\" }}\n"),
            8,
            "a second rule named `r`",
        ),
        (
            "[integrity]\nenabled = false\n".into(),
            1,
            "can not be turned off",
        ),
        (RULE.replace("match", "integrity"), 3, "always on"),
    ]
}

#[test]
fn every_mistake_names_its_line_and_what_is_wrong() {
    for (text, line, words) in mistakes() {
        let error = RuleSet::from_toml(&text).expect_err(&text);
        assert_eq!(error.line, Some(line), "{error}\n---\n{text}");
        assert!(
            error.to_string().contains(words),
            "{error} lacks {words:?}\n---\n{text}"
        );
    }
}

#[test]
fn the_command_refuses_a_bad_file_with_its_path_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    std::fs::write(
        &path,
        format!("{RULE}where = {{ action = {{ regex = \"(\\u001b[2J\" }} }}\n"),
    )
    .unwrap();
    let out = common::run_audit(&["watch", "--rules", path.to_str().unwrap(), "--check"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(&format!("{}: line 6, column ", path.display())),
        "{stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "escaped for the terminal: {stderr:?}"
    );
}

#[test]
fn the_example_file_checks_and_lists_its_rules() {
    let out = common::run_audit(&["watch", "--rules", "examples/watch/rules.toml", "--check"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8(out.stdout).unwrap();
    assert!(listed.lines().count() >= 20);
    assert!(listed.contains("privilege-escalation-then-export\tsequence\tcritical"));
}

#[test]
fn the_published_schema_is_the_one_the_reader_follows() {
    let published: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("docs/watch-rules.schema.json").unwrap())
            .unwrap();
    assert_eq!(
        published,
        rules_schema(),
        "regenerate with `audit watch --print-schema`"
    );
    let printed = common::run_audit(&["watch", "--print-schema"]);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&printed.stdout).unwrap(),
        published
    );
    // Every key a rule may hold is in the schema, and a key the schema does
    // not list is refused by the reader.
    let properties = published["$defs"]["rule"]["properties"]
        .as_object()
        .unwrap();
    for key in [
        "name",
        "kind",
        "severity",
        "message",
        "where",
        "group_by",
        "distinct",
        "first_key",
        "quiet_for",
        "suppress",
    ] {
        assert!(properties.contains_key(key), "{key}");
    }
    assert_eq!(published["$defs"]["rule"]["additionalProperties"], false);
    let unknown = format!("{RULE}where = {{ action = \"a\" }}\ncolour = \"red\"\n");
    assert!(
        RuleSet::from_toml(&unknown)
            .unwrap_err()
            .to_string()
            .contains("unknown field")
    );
}
