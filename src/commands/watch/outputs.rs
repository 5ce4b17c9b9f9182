//! Where alerts go: stdout (NDJSON, ASCII only), the alert log (an audit
//! log of its own, written through `AuditWriter`), a webhook.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use audit_layer::watch::{Alert, Webhook, WebhookStats, write_alert_json};
use audit_layer::{AuditEvent, AuditHandle, AuditWriter, FileSink, WriterGuard};

use super::state::Queued;

/// The outputs a watch was given.
pub(crate) struct Outputs {
    alert_log: Option<(AuditHandle, WriterGuard)>,
    webhook: Option<Webhook>,
}

impl Outputs {
    pub(crate) fn open(
        alert_log: Option<&Path>,
        webhook: Option<&str>,
        webhook_timeout: Duration,
    ) -> Result<Outputs, Box<dyn std::error::Error>> {
        let alert_log = match alert_log {
            Some(dir) => {
                let sink = FileSink::open(dir)
                    .map_err(|e| format!("--alert-log {}: {e}", dir.display()))?;
                Some(AuditWriter::builder().service("audit-watch").spawn(sink)?)
            }
            None => None,
        };
        let webhook = webhook
            .map(|url| Webhook::start(url, webhook_timeout))
            .transpose()?;
        Ok(Outputs { alert_log, webhook })
    }

    /// Prints and logs the alerts numbered after `printed`; returns the
    /// number printed through.
    pub(crate) fn print(
        &self,
        queued: &[Queued],
        printed: u64,
    ) -> Result<u64, Box<dyn std::error::Error>> {
        let mut through = printed;
        let mut out = std::io::stdout().lock();
        for Queued { number, alert } in queued.iter().filter(|q| q.number > printed) {
            write_alert_json(&mut out, alert)?;
            if let Some((log, _)) = &self.alert_log {
                log.submit(alert_event(alert))?;
            }
            through = *number;
        }
        out.flush()?;
        if let Some((log, _)) = &self.alert_log {
            log.flush()?;
        }
        Ok(through)
    }

    /// Hands the webhook the alerts numbered after `sent`; returns the
    /// last number handed over.
    pub(crate) fn post(&self, queued: &[Queued], sent: u64) -> u64 {
        let mut through = sent;
        if let Some(webhook) = &self.webhook {
            for Queued { number, alert } in queued.iter().filter(|q| q.number > sent) {
                webhook.send(*number, alert);
                through = *number;
            }
        }
        through
    }

    /// The webhook's progress, when there is one: delivered through which number.
    pub(crate) fn posted_through(&self) -> Option<u64> {
        self.webhook.as_ref().map(Webhook::delivered_through)
    }

    pub(crate) fn has_webhook(&self) -> bool {
        self.webhook.is_some()
    }

    /// Stops: the webhook gets `within` to deliver what is queued; the
    /// alert log is shut down cleanly.
    pub(crate) fn finish(
        self,
        within: Duration,
    ) -> Result<Option<WebhookStats>, Box<dyn std::error::Error>> {
        let stats = self.webhook.map(|webhook| webhook.stop(within));
        if let Some((_, guard)) = self.alert_log {
            guard.shutdown(Duration::from_secs(10))?;
        }
        Ok(stats)
    }
}

/// An alert as a record of the alert log: the rule is the resource, the
/// alert itself the `after` state.
fn alert_event(alert: &Alert) -> AuditEvent {
    AuditEvent::builder("watch.alert")
        .actor("audit-watch")
        .resource(format!("rule:{}", alert.rule))
        .after(alert)
        .context("alert", alert.id.clone())
        .context("severity", alert.severity.as_str())
        .build()
}
