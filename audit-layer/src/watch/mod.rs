//! Watch: detection rules over a trail as it is written (feature `watch`).
//!
//! Promises: every record is evaluated once, in chain order, against every
//! rule; windows use record time, so a replay of history gives the same
//! alerts as the live run did; integrity alerts (a broken chain, a repair or
//! outage record, a verify finding) are always on; each alert names the
//! records (seq and hash) that raised it; a value shown in an alert can not
//! break out of the JSON it travels in; nothing suppressed goes uncounted.
//!
//! - `rules_file`: the TOML rules file, read into a [`RuleSet`] with errors
//!   that name a line; `schema`: its published JSON Schema;
//! - `condition`: what a rule matches (fields, globs, regexes, values);
//! - `record_view`: the fields of a record, read from its line on demand;
//! - `template`: an alert's message, filled from the records;
//! - `window`: the sliding windows of threshold rules;
//! - `integrity`: the chain checked line by line as it is followed;
//! - `engine`: the [`Engine`] that evaluates rules and keeps their state;
//! - `alert`: an [`Alert`], and the JSON that carries it (ASCII only);
//! - `webhook`: delivering alerts over HTTP, with retries.
//!
//! May use: `record`, `store` (following a log), `proof` (finding codes and
//! HTTP).

pub(crate) mod alert;
pub(crate) mod condition;
pub(crate) mod engine;
pub(crate) mod integrity;
pub(crate) mod record_view;
pub(crate) mod rules_file;
pub(crate) mod schema;
pub(crate) mod template;
pub(crate) mod webhook;
pub(crate) mod window;

pub use alert::{Alert, AlertRecord, MAX_ALERT_RECORDS, Severity, write_alert_json};
pub use engine::{Engine, RuleCounts, StateError, WatchStats};
pub use rules_file::{Rule, RuleKind, RuleSet, RulesError};
pub use schema::rules_schema;
pub use template::MAX_VALUE_CHARS;
pub use webhook::{
    ATTEMPTS_WHEN_REFUSED, FIRST_BACKOFF, MAX_BACKOFF, Webhook, WebhookError, WebhookStats,
};
