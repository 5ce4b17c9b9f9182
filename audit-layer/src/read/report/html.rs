//! The report as one self-contained HTML page: no script, no font, no
//! request of any kind (a Content-Security-Policy forbids them), readable
//! offline and printable to PDF. Every value from the trail is escaped:
//! markup characters as entities, control characters and bidi overrides
//! as visible `\u{...}`, and a long value is cut.

use std::fmt::Write;

use crate::read::report::chart;
use crate::read::report::escape::escape;
use crate::read::report::model::{ComplianceReport, ReportRow};
use crate::read::report::options::ReportKind;

const STYLE: &str = r#"
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #111; margin: 2em auto; max-width: 1100px; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
.meta { color: #444; } .value, td { overflow-wrap: anywhere; word-break: break-word; }
.verdict { padding: 0.8em 1em; border-radius: 4px; border: 2px solid; }
.verdict.intact { background: #eef8ee; border-color: #2e7d32; } .verdict.problems { background: #fdecec; border-color: #b00020; }
.verdict.unverified { background: #fff6e0; border-color: #b26a00; }
table { border-collapse: collapse; width: 100%; margin: 0.6em 0; table-layout: fixed; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top; font-size: 12.5px; }
th { background: #f2f2f2; } tr.outlier td { background: #fde3e3; font-weight: 600; } tr.exception td { background: #fff3d6; }
.hash { font-family: ui-monospace, monospace; font-size: 11px; } .chart { max-width: 100%; height: auto; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 1em; } dt { color: #444; } dd { margin: 0; }
.signature { border-left: 4px solid #3b6ea5; padding-left: 0.5em; } .broken { color: #b00020; font-weight: 600; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
"#;

fn cell(out: &mut String, text: &str) {
    let _ = write!(out, "<td>{}</td>", escape(text));
}

fn opt(text: Option<&str>) -> &str {
    text.unwrap_or("—")
}

impl ComplianceReport {
    /// The report as one self-contained HTML page.
    ///
    /// # Examples
    ///
    /// See [`ComplianceReport`](crate::ComplianceReport).
    pub fn to_html(&self) -> String {
        let mut out = String::with_capacity(64 * 1024);
        let title = escape(&self.title);
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title><style>{STYLE}</style></head><body>\n<header><h1 id=\"title\">{title}</h1><p class=\"meta\">"
        );
        let period = match (self.since, self.until) {
            (None, None) => "the whole trail".to_owned(),
            (since, until) => format!(
                "from {} until {}",
                since.map_or("its start".into(), |t| t.to_string()),
                until.map_or("its end".into(), |t| t.to_string())
            ),
        };
        let _ = writeln!(
            out,
            "Period: <span id=\"period\">{}</span> · Source: <span class=\"value\">{}</span> · Generated {} by audit-layer {}</p></header>",
            escape(&period),
            escape(&self.integrity.source),
            self.generated_at,
            env!("CARGO_PKG_VERSION")
        );
        self.integrity_section(&mut out);
        match self.kind {
            ReportKind::Access => self.access_section(&mut out),
            ReportKind::Changes => self.changes_section(&mut out),
            ReportKind::Privileged => self.privileged_section(&mut out),
            ReportKind::Document => self.document_section(&mut out),
        }
        let _ = write!(
            out,
            "<footer><p class=\"meta\">Made from the trail whose last record is number {} with hash <span class=\"hash\">{}</span>. \
             A detached signature (audit report --sign) binds this file's exact bytes; check it with audit verify-report.</p></footer>\n</body></html>\n",
            self.integrity
                .last_seq
                .map_or("—".into(), |s| s.to_string()),
            escape(opt(self.integrity.head.as_deref()))
        );
        out
    }

    fn integrity_section(&self, out: &mut String) {
        let i = &self.integrity;
        let class = if !i.verified {
            "unverified"
        } else if i.intact {
            "intact"
        } else {
            "problems"
        };
        let _ = write!(
            out,
            "<section id=\"integrity\"><h2>Integrity of the trail</h2><p id=\"verdict\" class=\"verdict {class}\">{}</p><dl>",
            escape(&i.summary())
        );
        let mut item = |name: &str, value: String| {
            let _ = write!(
                out,
                "<dt>{name}</dt><dd class=\"value\">{}</dd>",
                escape(&value)
            );
        };
        item("Records verified", i.records.to_string());
        item(
            "Record numbers",
            match (i.first_seq, i.last_seq) {
                (Some(a), Some(b)) => format!("{a} to {b}"),
                _ => "—".into(),
            },
        );
        item(
            "Last record's hash (head)",
            opt(i.head.as_deref()).to_owned(),
        );
        item("Merkle tree root", opt(i.tree_root.as_deref()).to_owned());
        item(
            "Signed checkpoints matched",
            i.checkpoints_matched.to_string(),
        );
        item(
            "Checkpoints compared, from",
            if i.checkpoint_sources.is_empty() {
                "none given".to_owned()
            } else {
                i.checkpoint_sources.join(", ")
            },
        );
        item(
            "Forward-secure seals verified",
            i.seals_verified
                .map_or("not checked".into(), |s| s.to_string()),
        );
        item(
            "Records in this report",
            self.records_considered.to_string(),
        );
        item(
            "Of them, not vouched for by the verifier",
            self.records_not_vouched_for.to_string(),
        );
        out.push_str("</dl>");
        if !i.findings.is_empty() {
            out.push_str("<table id=\"findings\"><thead><tr><th style=\"width:12em\">Problem</th><th style=\"width:7em\">Record</th><th>What is wrong</th></tr></thead><tbody>");
            for finding in &i.findings {
                out.push_str("<tr>");
                cell(out, &finding.code);
                cell(out, &finding.seq.map_or("—".into(), |s| s.to_string()));
                cell(out, &finding.message);
                out.push_str("</tr>");
            }
            out.push_str("</tbody></table>");
            if i.findings_unlisted > 0 {
                let _ = write!(
                    out,
                    "<p>{} more problem(s) not listed.</p>",
                    i.findings_unlisted
                );
            }
        }
        out.push_str("</section>\n");
    }

    fn activity_chart(&self, out: &mut String) {
        if !self.activity.is_empty() {
            let _ = writeln!(
                out,
                "<section id=\"activity\"><h2>Activity over time</h2>{}</section>",
                chart::activity(&self.activity)
            );
        }
    }

    fn access_section(&self, out: &mut String) {
        self.activity_chart(out);
        let outliers = self.actors.iter().filter(|a| a.outlier).count();
        let _ = write!(
            out,
            "<section id=\"per-actor\"><h2>Per actor</h2><p>{} actor(s); <strong id=\"outlier-count\">{outliers}</strong> above {} record(s) in one {}-hour shift (highlighted).</p>{}",
            self.actors.len(),
            self.outlier_per_shift,
            self.shift_hours,
            chart::actors(&self.actors)
        );
        out.push_str("<table id=\"actors\"><thead><tr><th>Actor</th><th>Reads</th><th>Changes</th><th>Failed</th><th>Resources</th><th>Most in one shift</th></tr></thead><tbody>");
        for actor in &self.actors {
            let _ = write!(
                out,
                "<tr{}>",
                if actor.outlier {
                    " class=\"outlier\""
                } else {
                    ""
                }
            );
            cell(out, &actor.actor);
            for n in [
                actor.reads,
                actor.changes,
                actor.failures,
                actor.resources,
                actor.most_in_one_shift,
            ] {
                let _ = write!(out, "<td>{n}</td>");
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table></section>\n");
        let _ = write!(
            out,
            "<section id=\"per-resource\"><h2>Per resource</h2><p>{} resource(s){}.</p><table id=\"resources\"><thead><tr><th>Resource</th><th>Reads</th><th>Changes</th><th>Actors</th></tr></thead><tbody>",
            self.resources_total,
            if self.resources_total as usize > self.resources.len() {
                format!(", the {} most accessed listed", self.resources.len())
            } else {
                String::new()
            }
        );
        for resource in &self.resources {
            out.push_str("<tr>");
            cell(out, &resource.resource);
            let _ = write!(
                out,
                "<td>{}</td><td>{}</td><td>{}</td></tr>",
                resource.reads, resource.changes, resource.actors
            );
        }
        out.push_str("</tbody></table></section>\n");
    }

    fn rows_table(&self, out: &mut String, id: &str, rows: &[ReportRow], with_ticket: bool) {
        let _ = write!(
            out,
            "<table id=\"{id}\"><thead><tr><th style=\"width:5em\">No.</th><th style=\"width:11em\">Time (UTC)</th><th>Actor</th><th>Action</th><th>Resource</th><th style=\"width:6em\">Outcome</th>{}<th>What changed</th></tr></thead><tbody>",
            if with_ticket { "<th>Ticket</th>" } else { "" }
        );
        for row in rows {
            let exception = with_ticket && row.ticket.is_none();
            let _ = write!(
                out,
                "<tr{}>",
                if exception {
                    " class=\"exception\""
                } else {
                    ""
                }
            );
            cell(out, &row.seq.to_string());
            cell(out, &row.time.map_or("—".into(), |t| t.to_string()));
            cell(out, opt(row.actor.as_deref()));
            cell(out, &row.action);
            cell(out, opt(row.resource.as_deref()));
            cell(out, &row.outcome);
            if with_ticket {
                cell(out, row.ticket.as_deref().unwrap_or("NONE"));
            }
            let mut changed: Vec<String> = row
                .changes
                .iter()
                .map(|c| {
                    format!(
                        "{}: {} → {}",
                        if c.path.is_empty() { "/" } else { &c.path },
                        c.old.as_ref().map_or("(absent)".into(), |v| v.to_string()),
                        c.new.as_ref().map_or("(absent)".into(), |v| v.to_string())
                    )
                })
                .collect();
            if changed.is_empty() && (row.before.is_some() || row.after.is_some()) {
                let state = |value: &Option<serde_json::Value>| {
                    value.as_ref().map_or("(none)".into(), |v| v.to_string())
                };
                changed.push(format!(
                    "before {} → after {}",
                    state(&row.before),
                    state(&row.after)
                ));
            }
            cell(out, &changed.join("; "));
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
        if self.rows_unlisted > 0 && id == "rows" {
            let _ = write!(
                out,
                "<p>{} more record(s) not listed; the JSON has the same limit.</p>",
                self.rows_unlisted
            );
        }
    }

    fn changes_section(&self, out: &mut String) {
        self.activity_chart(out);
        let share = self.ticket_coverage() * 100.0;
        let _ = write!(
            out,
            "<section id=\"coverage\"><h2>Change-control coverage</h2><p><strong id=\"coverage-share\">{share:.1}%</strong> of {} change(s) carry a ticket (context key <code>{}</code>); <strong id=\"exception-count\">{}</strong> do not.</p></section>\n<section id=\"changes\"><h2>Every change</h2>",
            self.changes_total,
            escape(&self.ticket_key),
            self.changes_total - self.changes_with_ticket
        );
        self.rows_table(out, "rows", &self.rows, true);
        out.push_str("</section>\n");
    }

    fn privileged_section(&self, out: &mut String) {
        let _ = write!(
            out,
            "<section id=\"privileged\"><h2>Role, permission and credential changes</h2><p>{} record(s).</p>",
            self.rows.len() as u64 + self.rows_unlisted
        );
        self.rows_table(out, "rows", &self.rows, true);
        let _ = write!(
            out,
            "</section>\n<section id=\"trail\"><h2>Access to the audit trail itself</h2><p>{} record(s).</p>",
            self.trail_access.len()
        );
        self.rows_table(out, "trail-access", &self.trail_access, false);
        out.push_str("</section>\n");
    }

    fn document_section(&self, out: &mut String) {
        let signatures: Vec<&ReportRow> =
            self.rows.iter().filter(|r| r.signature.is_some()).collect();
        let _ = write!(
            out,
            "<section id=\"signatures\"><h2>Electronic signatures</h2><p>{} signature(s), each shown with the signer's printed name, the date and time, the meaning of the signature, and the document version it is bound to.</p>",
            signatures.len()
        );
        for row in &signatures {
            let Some(signature) = &row.signature else {
                continue;
            };
            if let Some(broken) = &signature.broken {
                let _ = write!(
                    out,
                    "<div class=\"signature broken\">Record {}: a BROKEN signature, not shown as one: {}</div>",
                    row.seq,
                    escape(broken)
                );
                continue;
            }
            let _ = write!(
                out,
                "<div class=\"signature\"><p><strong class=\"signer-name\">{}</strong> ({}) signed, meaning <strong class=\"meaning\">{}</strong>, on <span class=\"signed-at\">{}</span>.<br>Version signed (SHA-256): <span class=\"hash\">{}</span><br>Record {} · {}</p></div>",
                escape(&signature.printed_name),
                escape(&signature.signer),
                escape(&signature.meaning),
                escape(&signature.signed_at),
                escape(&signature.document_sha256),
                row.seq,
                escape(&row.action)
            );
        }
        out.push_str("</section>\n<section id=\"trail\"><h2>The complete trail, in order</h2>");
        out.push_str("<table id=\"rows\"><thead><tr><th style=\"width:5em\">No.</th><th style=\"width:11em\">Time (UTC)</th><th>Actor</th><th>Action</th><th style=\"width:6em\">Outcome</th><th>Version (SHA-256)</th><th>Signature</th></tr></thead><tbody>");
        for row in &self.rows {
            out.push_str("<tr>");
            cell(out, &row.seq.to_string());
            cell(out, &row.time.map_or("—".into(), |t| t.to_string()));
            cell(out, opt(row.actor.as_deref()));
            cell(out, &row.action);
            cell(out, &row.outcome);
            let _ = write!(
                out,
                "<td class=\"hash\">{}</td>",
                escape(opt(row.version_sha256.as_deref()))
            );
            let signature = match &row.signature {
                Some(s) if s.broken.is_none() => {
                    format!("{} — {} — {}", s.printed_name, s.meaning, s.signed_at)
                }
                Some(_) => "BROKEN".to_owned(),
                None => String::new(),
            };
            cell(out, &signature);
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table></section>\n");
    }
}
