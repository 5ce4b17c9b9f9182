//! Records in the shapes SIEMs ingest: Elastic Common Schema, DMTF CADF
//! and ArcSight CEF.
//!
//! An export is a copy for searching and alerting, not evidence: the log
//! stays the record of truth. So every exported event carries the record's
//! `seq`, `prev` and `hash`, and a SIEM entry can always be traced back to
//! the line that `audit verify` checks.
//!
//! Nothing is invented to fill a schema. A record without an actor exports
//! without `user.id` (ECS), with the initiator `unknown` (CADF, whose
//! initiator is mandatory) or without `suser` (CEF); a `source_ip` context
//! value that is not an IP address stays a label and is not put in an
//! IP-typed field, where an index would reject the whole event.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::IpAddr;
use std::time::UNIX_EPOCH;

use serde_json::{Map, Value, json};

use crate::record::{AuditRecord, FailureKind, Outcome, duration_nanos};

/// The ECS version the [`ExportFormat::Ecs`] mapping follows.
pub const ECS_VERSION: &str = "8.11.0";

/// A SIEM format that [`ExportFormat::write`] produces, one event a line.
///
/// | format | for | line |
/// |---|---|---|
/// | `Ecs` | Elastic, OpenSearch, Splunk, Datadog and other JSON pipelines | a JSON object in Elastic Common Schema 8 |
/// | `Cadf` | OpenStack, IBM and other cloud audit tooling | a DMTF CADF (DSP0262) event as JSON |
/// | `Cef` | ArcSight, QRadar, Microsoft Sentinel | `CEF:0\|...` with escaped header and extension |
///
/// # Examples
///
/// ```
/// use audit_layer::{AuditEvent, AuditWriter, ExportFormat, MemorySink};
///
/// let (sink, log) = MemorySink::new();
/// let (audit, guard) = AuditWriter::builder().service("blog-api").spawn(sink)?;
/// audit.submit(AuditEvent::builder("post.publish").actor("mallory").resource("post:42").build())?;
/// guard.shutdown(std::time::Duration::from_secs(5))?;
///
/// let record = log.records()?.remove(0);
/// let mut out = Vec::new();
/// ExportFormat::Ecs.write(&mut out, &record)?;
/// let ecs: serde_json::Value = serde_json::from_slice(&out)?;
/// assert_eq!(ecs["event"]["action"], "post.publish");
/// assert_eq!(ecs["user"]["id"], "mallory");
/// assert_eq!(ecs["service"]["name"], "blog-api");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExportFormat {
    /// Elastic Common Schema, as a JSON object; see [`to_ecs`].
    Ecs,
    /// DMTF Cloud Auditing Data Federation, as a JSON object; see [`to_cadf`].
    Cadf,
    /// ArcSight Common Event Format, one text line; see [`to_cef`].
    Cef,
}

impl ExportFormat {
    /// Writes `record` in this format, followed by a newline.
    ///
    /// # Errors
    ///
    /// The errors of writing to `out`.
    ///
    /// # Examples
    ///
    /// See [`ExportFormat`].
    pub fn write(self, out: &mut impl Write, record: &AuditRecord) -> io::Result<()> {
        match self {
            ExportFormat::Ecs => serde_json::to_writer(&mut *out, &to_ecs(record))?,
            ExportFormat::Cadf => serde_json::to_writer(&mut *out, &to_cadf(record))?,
            ExportFormat::Cef => out.write_all(to_cef(record).as_bytes())?,
        }
        out.write_all(b"\n")
    }
}

impl std::str::FromStr for ExportFormat {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name.to_ascii_lowercase().as_str() {
            "ecs" => Ok(ExportFormat::Ecs),
            "cadf" => Ok(ExportFormat::Cadf),
            "cef" => Ok(ExportFormat::Cef),
            _ => Err(format!(
                "unknown export format `{name}`: use ecs, cadf or cef"
            )),
        }
    }
}

/// The record as an Elastic Common Schema document.
///
/// `@timestamp`, `event.action`, `event.outcome` (`success`, `failure`,
/// `unknown`), `event.reason`, `event.duration` (nanoseconds),
/// `event.sequence`, `user.id`, `source.ip`, `http.request.id`,
/// `service.name`, `host.name`, `error.type` and `error.message` (on
/// failure), `log.logger` and `log.origin` from the code location; every
/// context value under `labels`; what ECS has no field for (resource,
/// before, after, changes, the chain) under `audit_layer`.
///
/// # Examples
///
/// ```
/// use audit_layer::{FailureKind, Outcome, export::to_ecs};
/// # let (sink, log) = audit_layer::MemorySink::new();
/// # let (audit, guard) = audit_layer::AuditWriter::builder().spawn(sink)?;
/// # audit.submit(audit_layer::AuditEvent::builder("post.approve").actor("mallory")
/// #     .outcome(Outcome::failure(FailureKind::Denied, "not an editor"))
/// #     .context("source_ip", "198.51.100.7").build())?;
/// # guard.shutdown(std::time::Duration::from_secs(5))?;
/// let record = log.records()?.remove(0);
/// let ecs = to_ecs(&record);
/// assert_eq!(ecs["event"]["outcome"], "failure");
/// assert_eq!(ecs["event"]["reason"], "not an editor");
/// assert_eq!(ecs["error"]["type"], "denied");
/// assert_eq!(ecs["source"]["ip"], "198.51.100.7");
/// assert_eq!(ecs["audit_layer"]["seq"], 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn to_ecs(record: &AuditRecord) -> Value {
    let mut event = Map::new();
    event.insert("kind".into(), json!("event"));
    event.insert("action".into(), json!(record.action));
    event.insert("outcome".into(), json!(record.outcome.status()));
    event.insert("sequence".into(), json!(record.seq));
    event.insert("dataset".into(), json!("audit_layer.audit"));
    if let Some(reason) = record.outcome.reason() {
        event.insert("reason".into(), json!(reason));
    }
    if let Some(duration) = record.duration {
        event.insert("duration".into(), json!(duration_nanos(duration)));
    }
    let mut ecs = Map::new();
    ecs.insert("@timestamp".into(), json!(record.time.to_string()));
    ecs.insert("ecs".into(), json!({ "version": ECS_VERSION }));
    ecs.insert("event".into(), Value::Object(event));
    if let Some(actor) = &record.actor {
        ecs.insert("user".into(), json!({ "id": actor }));
    }
    if let Some(ip) = source_ip(record) {
        ecs.insert("source".into(), json!({ "ip": ip.to_string() }));
    }
    if let Some(request_id) = record.context.get("request_id") {
        ecs.insert("http".into(), json!({ "request": { "id": request_id } }));
    }
    if let Some(service) = &record.service {
        ecs.insert("service".into(), json!({ "name": service }));
    }
    if let Some(host) = &record.host {
        ecs.insert("host".into(), json!({ "name": host }));
    }
    if let Outcome::Failure { kind, reason } = &record.outcome {
        ecs.insert(
            "error".into(),
            json!({ "type": kind.as_str(), "message": reason }),
        );
    }
    if let Some(code) = &record.code {
        let mut log = Map::new();
        if let Some(module) = &code.module {
            log.insert("logger".into(), json!(module));
        }
        let mut origin = Map::new();
        if let Some(function) = &code.function {
            origin.insert("function".into(), json!(function));
        }
        if code.file.is_some() || code.line.is_some() {
            origin.insert(
                "file".into(),
                json!({ "name": code.file, "line": code.line }),
            );
        }
        if !origin.is_empty() {
            log.insert("origin".into(), Value::Object(origin));
        }
        if !log.is_empty() {
            ecs.insert("log".into(), Value::Object(log));
        }
    }
    if !record.context.is_empty() {
        ecs.insert("labels".into(), json!(record.context));
    }
    ecs.insert("audit_layer".into(), provenance(record));
    Value::Object(ecs)
}

/// The record as a DMTF CADF event (DSP0262 1.0): `initiator` (the actor,
/// with the source IP as its host address), `action`, `target` (the
/// resource), `outcome`, `reason` (the failure kind as `reasonCode`),
/// `observer` (the service and host that recorded it); the failure's text,
/// before, after, changes and context as `attachments`; the chain as `tags`.
///
/// CADF requires an initiator and a target; where the record names none,
/// their id is `unknown`, which CADF reserves for exactly that.
///
/// # Examples
///
/// ```
/// use audit_layer::export::to_cadf;
/// # let (sink, log) = audit_layer::MemorySink::new();
/// # let (audit, guard) = audit_layer::AuditWriter::builder().spawn(sink)?;
/// # audit.submit(audit_layer::AuditEvent::builder("post.publish").actor("mallory").resource("post:42").build())?;
/// # guard.shutdown(std::time::Duration::from_secs(5))?;
/// let record = log.records()?.remove(0);
/// let cadf = to_cadf(&record);
/// assert_eq!(cadf["initiator"]["id"], "mallory");
/// assert_eq!(cadf["target"]["id"], "post:42");
/// assert_eq!(cadf["outcome"], "success");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn to_cadf(record: &AuditRecord) -> Value {
    const UNKNOWN: &str = "unknown";
    let mut initiator = json!({
        "id": record.actor.as_deref().unwrap_or(UNKNOWN),
        "typeURI": if record.actor.is_some() { "data/security/account/user" } else { UNKNOWN },
    });
    if let Some(ip) = source_ip(record) {
        initiator["host"] = json!({ "address": ip.to_string() });
    }
    let target = json!({
        "id": record.resource.as_deref().unwrap_or(UNKNOWN),
        "typeURI": if record.resource.is_some() { "data" } else { UNKNOWN },
    });
    let mut observer = json!({
        "id": record.service.as_deref().unwrap_or("audit-layer"),
        "typeURI": "service",
    });
    if let Some(host) = &record.host {
        observer["host"] = json!({ "address": host });
    }
    let mut attachments = Vec::new();
    if let Some(reason) = record.outcome.reason() {
        attachments.push(json!({ "name": "reason", "typeURI": "text/plain", "content": reason }));
    }
    let mut attach = |name: &str, content: Value| {
        attachments
            .push(json!({ "name": name, "typeURI": "application/json", "content": content }));
    };
    if let Some(before) = &record.before {
        attach("before", before.clone());
    }
    if let Some(after) = &record.after {
        attach("after", after.clone());
    }
    if let Some(changes) = &record.changes {
        attach("changes", json!(changes));
    }
    if !record.context.is_empty() {
        attach("context", json!(record.context));
    }
    let mut cadf = json!({
        "typeURI": "http://schemas.dmtf.org/cloud/audit/1.0/event",
        "id": format!("audit-layer:{}", record.hash),
        "eventType": "activity",
        "eventTime": record.time.to_string(),
        "action": record.action,
        "outcome": record.outcome.status(),
        "initiator": initiator,
        "target": target,
        "observer": observer,
        "tags": [
            format!("audit_layer.seq:{}", record.seq),
            format!("audit_layer.prev:{}", record.prev),
            format!("audit_layer.hash:{}", record.hash),
        ],
    });
    if let Some(kind) = record.outcome.kind() {
        cadf["reason"] = json!({
            "reasonType": "audit-layer/failure-kind",
            "reasonCode": kind.as_str(),
        });
    }
    if !attachments.is_empty() {
        cadf["attachments"] = Value::Array(attachments);
    }
    if let Some(duration) = record.duration {
        cadf["measurements"] = json!([{
            "result": duration_nanos(duration),
            "metric": { "metricId": "duration", "unit": "ns", "name": "duration" },
        }]);
    }
    cadf
}

/// The record as one ArcSight CEF line (no newline):
/// `CEF:0|audit-layer|audit-layer|VERSION|ACTION|ACTION|SEVERITY|EXTENSION`.
///
/// Severity is 3 for success, 5 for unknown, 6 for failure and 8 for a
/// denial. The extension uses the dictionary's own keys where one fits (`rt`
/// in epoch milliseconds, `act`, `suser`, `src`, `outcome`, `reason`, `cat`,
/// `dvchost`, `dproc`, `externalId` for seq) and labelled custom strings
/// for the rest: `cs1` resource, `cs2` request id, `cs3` session, `cs4`
/// changes as JSON, `cs5` the record's hash, `cs6` its prev hash. Header
/// fields escape `\` and `|`; values escape `\`, `=`, newline and carriage
/// return as the format requires, and show other control characters as
/// `\u00XX` text, so one record is always exactly one line.
///
/// # Examples
///
/// ```
/// use audit_layer::export::to_cef;
/// # let (sink, log) = audit_layer::MemorySink::new();
/// # let (audit, guard) = audit_layer::AuditWriter::builder().spawn(sink)?;
/// # audit.submit(audit_layer::AuditEvent::builder("post.publish").actor("mallory").resource("post:42").build())?;
/// # guard.shutdown(std::time::Duration::from_secs(5))?;
/// let record = log.records()?.remove(0);
/// let cef = to_cef(&record);
/// assert!(cef.starts_with("CEF:0|audit-layer|audit-layer|"));
/// assert!(cef.contains("|post.publish|post.publish|3|"));
/// assert!(cef.contains(" suser=mallory "));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn to_cef(record: &AuditRecord) -> String {
    let severity = match &record.outcome {
        Outcome::Success => 3,
        Outcome::Unknown { .. } => 5,
        Outcome::Failure {
            kind: FailureKind::Denied,
            ..
        } => 8,
        Outcome::Failure { .. } => 6,
    };
    let mut line = String::from("CEF:0|audit-layer|audit-layer|");
    header(&mut line, env!("CARGO_PKG_VERSION"));
    header(&mut line, &record.action);
    header(&mut line, &record.action);
    let _ = write!(line, "{severity}|");
    let rt = record
        .time
        .as_system_time()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let _ = write!(line, "rt={rt}");
    let mut field = |key: &str, value: &str| {
        let _ = write!(line, " {key}=");
        extension_value(&mut line, value);
    };
    field("externalId", &record.seq.to_string());
    field("act", &record.action);
    field("outcome", record.outcome.status());
    if let Some(actor) = &record.actor {
        field("suser", actor);
    }
    match source_ip(record) {
        Some(IpAddr::V4(ip)) => field("src", &ip.to_string()),
        Some(IpAddr::V6(ip)) => {
            field("c6a2", &ip.to_string());
            field("c6a2Label", "source_ip");
        }
        None => {}
    }
    if let Some(kind) = record.outcome.kind() {
        field("cat", kind.as_str());
    }
    if let Some(reason) = record.outcome.reason() {
        field("reason", reason);
    }
    if let Some(host) = &record.host {
        field("dvchost", host);
    }
    if let Some(service) = &record.service {
        field("dproc", service);
    }
    let custom = [
        ("resource", record.resource.clone()),
        ("request_id", record.context.get("request_id").cloned()),
        ("session", record.context.get("session").cloned()),
        (
            "changes",
            record
                .changes
                .as_ref()
                .map(|changes| json!(changes).to_string()),
        ),
        ("hash", Some(record.hash.to_string())),
        ("prev", Some(record.prev.to_string())),
    ];
    for (n, (label, value)) in custom.iter().enumerate() {
        if let Some(value) = value {
            field(&format!("cs{}", n + 1), value);
            field(&format!("cs{}Label", n + 1), label);
        }
    }
    line
}

/// The chain and the fields no SIEM schema has a place for.
fn provenance(record: &AuditRecord) -> Value {
    let mut audit = json!({
        "format_version": record.version,
        "seq": record.seq,
        "prev": record.prev.to_string(),
        "hash": record.hash.to_string(),
        "kind": record.kind.as_str(),
    });
    let extra = [
        ("resource", record.resource.as_ref().map(|r| json!(r))),
        ("before", record.before.clone()),
        ("after", record.after.clone()),
        ("changes", record.changes.as_ref().map(|c| json!(c))),
    ];
    for (name, value) in extra {
        if let Some(value) = value {
            audit[name] = value;
        }
    }
    audit
}

/// `source_ip` from the context, when it is an address (with or without a port).
fn source_ip(record: &AuditRecord) -> Option<IpAddr> {
    let text = record.context.get("source_ip")?;
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}

/// A CEF header field: `\` and `|` escaped; a line break would end the
/// event, so it becomes a space, as the format has no escape for it there.
fn header(line: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => line.push_str("\\\\"),
            '|' => line.push_str("\\|"),
            c if c.is_control() => line.push(' '),
            c => line.push(c),
        }
    }
    line.push('|');
}

/// A CEF extension value.
fn extension_value(line: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => line.push_str("\\\\"),
            '=' => line.push_str("\\="),
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(line, "\\\\u{:04X}", u32::from(c));
            }
            c => line.push(c),
        }
    }
}
