//! The writer's encoder for record lines.
//!
//! It writes exactly the bytes serde_json writes for the record schema in
//! `record.rs` (a property test holds it to that), about three times faster:
//! keys are literals, and strings are scanned eight bytes at a time for the
//! few bytes JSON must escape, where serde_json looks at one byte at a time.
//! The encoder runs once per record on the writer thread, whose speed bounds
//! the whole log's throughput.

use serde::Serialize;
use serde_json::Value;

use crate::record::chain;
use crate::record::chain::{FORMAT_VERSION, Hash};
use crate::record::changes::{Change, diff};
use crate::record::{AuditEvent, CodeLocation, RecordDefaults, duration_nanos};

/// How serde_json escapes each byte: 0 for "as is", else the escape letter.
const ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any of the eight bytes in `word` may need escaping (a control
/// byte, a quote or a backslash). Never false when one does.
fn may_need_escape(word: u64) -> bool {
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    (below_space
        | has_zero(word ^ (ONES * u64::from(b'"')))
        | has_zero(word ^ (ONES * u64::from(b'\\'))))
        != 0
}

fn push_escape(out: &mut Vec<u8>, byte: u8, escape: u8) {
    if escape == b'u' {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(byte >> 4)],
            HEX[usize::from(byte & 0xf)],
        ]);
    } else {
        out.extend_from_slice(&[b'\\', escape]);
    }
}

/// Appends `text` as a JSON string.
pub(crate) fn push_str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut run_start = 0;
    let mut at = 0;
    while at < bytes.len() {
        if let Some(chunk) = bytes.get(at..at + 8) {
            let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
            if !may_need_escape(word) {
                at += 8;
                continue;
            }
        }
        let end = (at + 8).min(bytes.len());
        for index in at..end {
            let escape = ESCAPE[usize::from(bytes[index])];
            if escape != 0 {
                out.extend_from_slice(&bytes[run_start..index]);
                push_escape(out, bytes[index], escape);
                run_start = index + 1;
            }
        }
        at = end;
    }
    out.extend_from_slice(&bytes[run_start..]);
    out.push(b'"');
}

fn push_opt_str(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => push_str(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

fn push_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

fn push_hash(out: &mut Vec<u8>, hash: &Hash) {
    let mut hex = [0u8; 64];
    hash.write_hex(&mut hex);
    out.push(b'"');
    out.extend_from_slice(&hex);
    out.push(b'"');
}

fn push_code(out: &mut Vec<u8>, code: &CodeLocation) {
    out.extend_from_slice(b"{\"module\":");
    push_opt_str(out, code.module.as_deref());
    out.extend_from_slice(b",\"function\":");
    push_opt_str(out, code.function.as_deref());
    out.extend_from_slice(b",\"file\":");
    push_opt_str(out, code.file.as_deref());
    out.extend_from_slice(b",\"line\":");
    match code.line {
        Some(line) => push_u64(out, u64::from(line)),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
}

/// The part of a record that places it in the chain: `{"v":1,"seq":N,"prev":"<hex>"`.
pub(crate) fn push_prefix(out: &mut Vec<u8>, seq: u64, prev: Hash) {
    out.extend_from_slice(b"{\"v\":");
    push_u64(out, u64::from(FORMAT_VERSION));
    out.extend_from_slice(b",\"seq\":");
    push_u64(out, seq);
    out.extend_from_slice(b",\"prev\":");
    push_hash(out, &prev);
}

/// The rest of a record, from `,"time":` to the closing `}`: it does not
/// depend on the record's place in the chain, so it can be encoded before
/// that place is known.
pub(crate) fn push_body(
    out: &mut Vec<u8>,
    event: &AuditEvent,
    changes: Option<&[Change]>,
    defaults: &RecordDefaults,
) {
    out.extend_from_slice(b",\"time\":\"");
    push_time(out, event.time);
    out.extend_from_slice(b"\",\"kind\":\"");
    out.extend_from_slice(event.kind.as_str().as_bytes());
    out.extend_from_slice(b"\",\"action\":");
    push_str(out, &event.action);
    out.extend_from_slice(b",\"actor\":");
    push_opt_str(out, event.actor.as_deref());
    out.extend_from_slice(b",\"resource\":");
    push_opt_str(out, event.resource.as_deref());
    out.extend_from_slice(b",\"outcome\":\"");
    out.extend_from_slice(event.outcome.status().as_bytes());
    out.extend_from_slice(b"\",\"category\":");
    push_opt_str(out, event.outcome.kind().map(|k| k.as_str()));
    out.extend_from_slice(b",\"reason\":");
    push_opt_str(out, event.outcome.reason());
    out.extend_from_slice(b",\"before\":");
    push_opt_raw(out, event.before.as_deref());
    out.extend_from_slice(b",\"after\":");
    push_opt_raw(out, event.after.as_deref());
    out.extend_from_slice(b",\"changes\":");
    match changes {
        Some(changes) => push_serialized(out, &changes),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"context\":{");
    for (index, (key, value)) in event.context.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        push_str(out, key);
        out.push(b':');
        push_str(out, value);
    }
    out.extend_from_slice(b"},\"code\":");
    match &event.code {
        Some(code) => push_code(out, code),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"duration_ns\":");
    match event.duration {
        Some(duration) => push_u64(out, duration_nanos(duration)),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"service\":");
    push_opt_str(
        out,
        event.service_override().or(defaults.service.as_deref()),
    );
    out.extend_from_slice(b",\"host\":");
    push_opt_str(out, event.host_override().or(defaults.host.as_deref()));
    out.push(b'}');
}

thread_local! {
    /// The last second formatted, as `YYYY-MM-DDTHH:MM:SS.`: records come
    /// many to a second, and the date is the costly part to format.
    static SECOND: std::cell::Cell<(u64, [u8; 20])> = const { std::cell::Cell::new((u64::MAX, [0; 20])) };
}

/// Writes `time` as `Timestamp`'s `Display` does, without formatting the
/// date again for every record of the same second.
fn push_time(out: &mut Vec<u8>, time: crate::Timestamp) {
    let since = time
        .as_system_time()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let (seconds, nanos) = (since.as_secs(), since.subsec_nanos());
    let prefix = SECOND.with(|cell| {
        let (cached, prefix) = cell.get();
        if cached == seconds {
            return prefix;
        }
        let mut prefix = [0u8; 20];
        let text = time.to_string();
        prefix.copy_from_slice(&text.as_bytes()[..20]);
        cell.set((seconds, prefix));
        prefix
    });
    out.extend_from_slice(&prefix);
    let mut digits = [b'0'; 9];
    let mut rest = nanos;
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.extend_from_slice(&digits);
    out.push(b'Z');
}

fn push_opt_raw(out: &mut Vec<u8>, raw: Option<&serde_json::value::RawValue>) {
    match raw {
        Some(raw) => out.extend_from_slice(raw.get().as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
}

fn push_serialized(out: &mut Vec<u8>, value: &impl Serialize) {
    serde_json::to_writer(&mut *out, value).expect("serialising into memory cannot fail");
}

/// Appends the sealed line of `event` at `seq` after `prev` to `buf`, and
/// returns the line's hash.
pub(crate) fn encode_line(
    buf: &mut Vec<u8>,
    event: &AuditEvent,
    seq: u64,
    prev: Hash,
    defaults: &RecordDefaults,
) -> Hash {
    let mut body = Vec::new();
    encode_body(&mut body, event, defaults);
    seal_line(buf, seq, prev, &body)
}

/// Appends the body of `event` (all of its line but the chain prefix and the
/// hash) to `buf`.
pub(crate) fn encode_body(buf: &mut Vec<u8>, event: &AuditEvent, defaults: &RecordDefaults) {
    let changes = match (&event.before, &event.after) {
        (Some(before), Some(after)) => Some(diff(
            &serde_json::from_str(before.get()).unwrap_or(Value::Null),
            &serde_json::from_str(after.get()).unwrap_or(Value::Null),
        )),
        _ => None,
    };
    crate::record::encode::push_body(buf, event, changes.as_deref(), defaults);
}

/// Appends the line of a record whose body is `body`, at `seq` after
/// `prev`, and returns its hash.
pub(crate) fn seal_line(buf: &mut Vec<u8>, seq: u64, prev: Hash, body: &[u8]) -> Hash {
    let start = buf.len();
    crate::record::encode::push_prefix(buf, seq, prev);
    buf.extend_from_slice(body);
    chain::seal(buf, start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn serde_string(text: &str) -> Vec<u8> {
        serde_json::to_vec(text).unwrap()
    }

    #[test]
    fn every_byte_value_escapes_as_serde_json_does() {
        for byte in 0u8..0x80 {
            let text = String::from(char::from(byte));
            for padded in [
                text.clone(),
                format!("abcdefg{text}xyz"),
                format!("{text}{text}"),
            ] {
                let mut ours = Vec::new();
                push_str(&mut ours, &padded);
                assert_eq!(ours, serde_string(&padded), "byte {byte:#04x}");
            }
        }
    }

    proptest! {
        #[test]
        fn times_are_written_as_displayed(seconds in 0u64..253_402_300_799, nanos in 0u32..1_000_000_000) {
            let time = crate::Timestamp::from_system_time(
                std::time::UNIX_EPOCH + std::time::Duration::new(seconds, nanos),
            ).unwrap();
            for _ in 0..2 {
                // Twice: once formatting the second, once from the cache.
                let mut ours = Vec::new();
                push_time(&mut ours, time);
                prop_assert_eq!(String::from_utf8(ours).unwrap(), time.to_string());
            }
        }

        #[test]
        fn any_string_escapes_as_serde_json_does(text in any::<String>()) {
            let mut ours = Vec::new();
            push_str(&mut ours, &text);
            prop_assert_eq!(ours, serde_string(&text));
        }

        #[test]
        fn control_heavy_strings_escape_as_serde_json_does(text in "[\\x00-\\x22\\\\a-z\u{80}-\u{7ff}]{0,40}") {
            let mut ours = Vec::new();
            push_str(&mut ours, &text);
            prop_assert_eq!(ours, serde_string(&text));
        }
    }
}

#[cfg(test)]
mod round_trip {
    use super::*;
    use crate::record::AuditRecord;
    use crate::record::chain;
    use crate::record::line::RecordLine;
    use crate::record::{FailureKind, Outcome};
    use serde_json::json;
    use std::time::Duration;

    #[test]
    fn leading_fields_read_what_a_full_parse_reads() {
        use crate::record::line::leading_fields;
        for (actor, resource) in [
            ("alice", Some("post:1")),
            ("a\\\"b\n\u{1b}\u{202e}😀", None),
            ("ends with a backslash \\", Some("\\")),
        ] {
            let mut builder = AuditEvent::builder("post.read").actor(actor);
            if let Some(resource) = resource {
                builder = builder.resource(resource);
            }
            let mut line = Vec::new();
            encode_line(
                &mut line,
                &builder.build(),
                0,
                chain::GENESIS,
                &RecordDefaults::default(),
            );
            let line = line.strip_suffix(b"\n").unwrap_or(&line);
            let full = AuditRecord::from_line(line).unwrap();
            let leading = leading_fields(line).expect("a canonical line");
            assert_eq!(leading.actor.as_deref(), full.actor.as_deref());
            assert_eq!(leading.resource.as_deref(), full.resource.as_deref());
            assert_eq!(&*leading.action, full.action);
            assert_eq!(&*leading.outcome, full.outcome.status());
            assert_eq!(leading.time, full.time);
            assert_eq!(leading.hash, full.hash);
            assert!(!leading.has_state);
        }
        let mut line = Vec::new();
        let with_state = AuditEvent::builder("x.update")
            .after(json!({"reason": null, "after": null}))
            .build();
        encode_line(
            &mut line,
            &with_state,
            0,
            chain::GENESIS,
            &RecordDefaults::default(),
        );
        assert!(
            leading_fields(line.strip_suffix(b"\n").unwrap())
                .unwrap()
                .has_state
        );
        assert!(leading_fields(b"{\"v\":1}").is_none());
    }

    #[test]
    fn encoded_line_parses_back_to_the_same_record() {
        let event = AuditEvent::builder("user.role_change")
            .actor("alice")
            .resource("user:bob")
            .outcome(Outcome::failure(FailureKind::Denied, "nope"))
            .before(json!({"role": "editor"}))
            .after(json!({"role": "admin"}))
            .context("ticket", "T-1")
            .code(CodeLocation::new("m", "f").with_file("f.rs", 3))
            .duration(Duration::from_nanos(1234))
            .build();
        let defaults = RecordDefaults {
            service: Some("svc".into()),
            host: Some("h".into()),
        };
        let mut buf = Vec::new();
        let hash = encode_line(&mut buf, &event, 7, chain::GENESIS, &defaults);
        assert_eq!(buf.last(), Some(&b'\n'));
        let record = AuditRecord::from_line(&buf).unwrap();
        assert_eq!(record.hash, hash);
        assert_eq!(record.seq, 7);
        assert_eq!(record.outcome, event.outcome);
        assert_eq!(
            record.changes,
            Some(vec![Change::new(
                "/role",
                Some(json!("editor")),
                Some(json!("admin"))
            )])
        );
        assert_eq!(record.service.as_deref(), Some("svc"));
        assert_eq!(record.duration, Some(Duration::from_nanos(1234)));
        // Re-serialising the parsed record gives back the very bytes that were written.
        let again = serde_json::to_vec(&record).unwrap();
        assert_eq!(again, &buf[..buf.len() - 1]);
    }

    fn arbitrary_event() -> impl proptest::strategy::Strategy<Value = AuditEvent> {
        use proptest::prelude::*;
        let text = || any::<String>();
        (
            text(),
            proptest::option::of(text()),
            proptest::option::of(text()),
            0..4u8,
            text(),
            proptest::collection::vec((text(), text()), 0..4),
            proptest::option::of((text(), text(), any::<u32>())),
            proptest::option::of(any::<u64>()),
            proptest::option::of(text()),
        )
            .prop_map(
                |(action, actor, resource, outcome, reason, context, code, nanos, state)| {
                    let mut builder = AuditEvent::builder(action);
                    if let Some(actor) = actor {
                        builder = builder.actor(actor);
                    }
                    if let Some(resource) = resource {
                        builder = builder.resource(resource);
                    }
                    builder = builder.outcome(match outcome {
                        0 => Outcome::Success,
                        1 => Outcome::failure(FailureKind::Denied, reason),
                        2 => Outcome::failure(FailureKind::Other(reason.clone().into()), reason),
                        _ => Outcome::Unknown { reason },
                    });
                    for (key, value) in context {
                        builder = builder.context(key, value);
                    }
                    if let Some((module, file, line)) = code {
                        builder =
                            builder.code(CodeLocation::new(module, "f").with_file(file, line));
                    }
                    if let Some(nanos) = nanos {
                        builder = builder.duration(Duration::from_nanos(nanos));
                    }
                    if let Some(state) = state {
                        builder = builder
                            .before(json!({"s": state}))
                            .after(json!({"s": format!("{state}!"), "n": [1, 2]}));
                    }
                    builder.build()
                },
            )
    }

    proptest::proptest! {
        #[test]
        fn the_fast_encoder_writes_what_serde_writes(event in arbitrary_event(), seq in proptest::prelude::any::<u64>()) {
            let defaults = RecordDefaults { service: Some("svc\n".into()), host: None };
            let mut fast = Vec::new();
            encode_line(&mut fast, &event, seq, chain::GENESIS, &defaults);
            let changes = match (&event.before, &event.after) {
                (Some(b), Some(a)) => Some(diff(
                    &serde_json::from_str(b.get()).unwrap(),
                    &serde_json::from_str(a.get()).unwrap(),
                )),
                _ => None,
            };
            let line = RecordLine::of_event(&event, seq, chain::GENESIS, changes.as_deref(), &defaults);
            let mut reference = serde_json::to_vec(&line).unwrap();
            chain::seal(&mut reference, 0);
            proptest::prop_assert_eq!(String::from_utf8_lossy(&fast), String::from_utf8_lossy(&reference));
        }
    }

    #[test]
    fn unserializable_state_is_marked_not_dropped() {
        let mut map = std::collections::HashMap::new();
        map.insert((1, 2), "tuple keys are not JSON");
        let event = AuditEvent::builder("a").before(map).build();
        assert!(
            event
                .before_json()
                .unwrap()
                .contains("audit.unserializable")
        );
    }
}
