//! The rules file: TOML, read into a [`RuleSet`]. Every error names the
//! line (and column) of what is wrong. The format is documented in
//! `docs/WATCH.md` and published as a JSON Schema ([`rules_schema`](crate::watch::rules_schema)).

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use crate::record::chain::Hash;
use crate::watch::alert::Severity;
use crate::watch::condition::Condition;
use crate::watch::record_view::{Field, RecordView};
use crate::watch::template::{Placeholder, Template};

/// Why a rules file was refused: where, and what is wrong.
///
/// # Examples
///
/// ```
/// use audit_layer::watch::RuleSet;
/// let error = RuleSet::from_toml("[[rule]]\nname = \"x\"\nkind = \"match\"\nseverity = \"loud\"\n").unwrap_err();
/// assert_eq!(error.line, Some(4));
/// assert!(error.to_string().contains("line 4"), "{error}");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}{}{message}", .path.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default(), .line.map(|l| format!("line {l}, column {}: ", .column.unwrap_or(1))).unwrap_or_default())]
#[non_exhaustive]
pub struct RulesError {
    /// The file, when read from one.
    pub path: Option<PathBuf>,
    /// The line (from 1) of what is wrong, when known.
    pub line: Option<usize>,
    /// The column (from 1).
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl RulesError {
    fn at(text: &str, span: Option<Range<usize>>, message: impl Into<String>) -> RulesError {
        let (line, column) = match span {
            Some(span) => {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                (Some(line), Some(column))
            }
            None => (None, None),
        };
        RulesError {
            path: None,
            line,
            column,
            message: message.into(),
        }
    }
}

/// What kind of rule.
///
/// # Examples
///
/// ```
/// assert_eq!(audit_layer::watch::RuleKind::TimeOfDay.as_str(), "time_of_day");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RuleKind {
    /// Any record matching a condition.
    Match,
    /// At least N matching records (or N distinct values) per key within a window.
    Threshold,
    /// A record matching `first`, then one matching `then`, with the same key, within a window.
    Sequence,
    /// A matching record outside the given hours and days, in a time zone.
    TimeOfDay,
    /// No (matching) record for a while: logging stopped.
    Silence,
    /// A broken chain, a repair or outage record, a verify finding: always on.
    Integrity,
}

impl RuleKind {
    /// The word, as the rules file spells it.
    ///
    /// # Examples
    ///
    /// See [`RuleKind`].
    pub fn as_str(&self) -> &'static str {
        match self {
            RuleKind::Match => "match",
            RuleKind::Threshold => "threshold",
            RuleKind::Sequence => "sequence",
            RuleKind::TimeOfDay => "time_of_day",
            RuleKind::Silence => "silence",
            RuleKind::Integrity => "integrity",
        }
    }
}

/// How records are grouped: a field, optionally cut by a regex's first
/// capture group (`{ field = "resource", capture = "^user:(.+)$" }`).
#[derive(Debug, Clone)]
pub(crate) struct KeySpec {
    pub(crate) field: Field,
    pub(crate) capture: Option<Regex>,
}

impl KeySpec {
    /// The key of `record`, or `None` when it has none (the rule skips it).
    pub(crate) fn key_of<'r>(
        &self,
        record: &'r RecordView<'_>,
    ) -> Option<std::borrow::Cow<'r, str>> {
        let text = record.text(&self.field)?;
        match &self.capture {
            None => Some(text),
            Some(regex) => {
                let found = regex.captures(&text)?;
                Some(std::borrow::Cow::Owned(
                    found.get(1).or(found.get(0))?.as_str().to_owned(),
                ))
            }
        }
    }
}

/// A threshold's parameters.
#[derive(Debug, Clone)]
pub(crate) struct Threshold {
    pub(crate) at_least: u64,
    pub(crate) within: Duration,
    pub(crate) group_by: Option<KeySpec>,
    pub(crate) distinct: Option<Field>,
}

/// A sequence's parameters.
#[derive(Debug, Clone)]
pub(crate) struct Sequence {
    pub(crate) first: Condition,
    pub(crate) first_key: KeySpec,
    pub(crate) then: Condition,
    pub(crate) then_key: KeySpec,
    pub(crate) within: Duration,
}

/// Working hours: a record outside them (or on another day) is reported.
#[derive(Debug, Clone)]
pub(crate) struct Hours {
    /// Minutes after local midnight: from (inclusive) and to (exclusive);
    /// `from > to` spans midnight.
    pub(crate) from: u16,
    pub(crate) to: u16,
    /// Monday first.
    pub(crate) days: [bool; 7],
    pub(crate) zone: jiff::tz::TimeZone,
}

impl Hours {
    pub(crate) fn contains(&self, nanos: i64) -> bool {
        let Ok(instant) = jiff::Timestamp::from_nanosecond(i128::from(nanos)) else {
            return false;
        };
        let local = self.zone.to_datetime(instant);
        let day = local.weekday().to_monday_zero_offset() as usize;
        let minute = local.hour() as u16 * 60 + local.minute() as u16;
        let in_hours = if self.from <= self.to {
            (self.from..self.to).contains(&minute)
        } else {
            minute >= self.from || minute < self.to
        };
        // A night shift's early hours belong to the day it started.
        let shift_day = if self.from > self.to && minute < self.to {
            (day + 6) % 7
        } else {
            day
        };
        in_hours && self.days[shift_day]
    }
}

/// What a rule does, by kind.
#[derive(Debug, Clone)]
pub(crate) enum Detection {
    Match,
    Threshold(Threshold),
    Sequence(Sequence),
    TimeOfDay(Hours),
    Silence(Duration),
}

/// One rule of a [`RuleSet`].
///
/// # Examples
///
/// ```
/// let rules = audit_layer::watch::RuleSet::from_toml(
///     "[[rule]]\nname = \"deletes\"\nkind = \"match\"\nseverity = \"low\"\nmessage = \"{actor} deleted {resource}\"\nwhere = { action = \"*.delete\" }\n",
/// )?;
/// let rule = &rules.rules()[0];
/// assert_eq!(rule.name(), "deletes");
/// assert_eq!(rule.kind(), audit_layer::watch::RuleKind::Match);
/// # Ok::<(), audit_layer::watch::RulesError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Rule {
    pub(crate) name: String,
    pub(crate) severity: Severity,
    pub(crate) message: Template,
    pub(crate) condition: Condition,
    pub(crate) detection: Detection,
    /// For match and time-of-day rules: the key alerts are suppressed by.
    pub(crate) group_by: Option<KeySpec>,
    pub(crate) suppress: Duration,
    /// What the rule does, hashed: a changed rule starts with fresh state.
    pub(crate) fingerprint: String,
}

impl Rule {
    /// Its name.
    ///
    /// # Examples
    ///
    /// See [`Rule`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its kind.
    ///
    /// # Examples
    ///
    /// See [`Rule`].
    pub fn kind(&self) -> RuleKind {
        match self.detection {
            Detection::Match => RuleKind::Match,
            Detection::Threshold(_) => RuleKind::Threshold,
            Detection::Sequence(_) => RuleKind::Sequence,
            Detection::TimeOfDay(_) => RuleKind::TimeOfDay,
            Detection::Silence(_) => RuleKind::Silence,
        }
    }

    /// Its severity.
    ///
    /// # Examples
    ///
    /// See [`Rule`].
    pub fn severity(&self) -> Severity {
        self.severity
    }
}

/// The always-on integrity rule, as the file may word it.
#[derive(Debug, Clone)]
pub(crate) struct IntegrityRule {
    pub(crate) severity: Severity,
    pub(crate) message: Template,
    pub(crate) suppress: Duration,
}

/// The rules `audit watch` and [`Engine`](crate::watch::Engine) evaluate.
///
/// # Examples
///
/// ```
/// use audit_layer::watch::RuleSet;
/// let rules = RuleSet::from_toml(r#"
///     [defaults]
///     suppress = "10m"
///
///     [[rule]]
///     name = "mass-deletion"
///     kind = "threshold"
///     severity = "high"
///     message = "{key} deleted {count} records within {within}"
///     where = { action = "*.delete", outcome = "success" }
///     group_by = "actor"
///     at_least = 100
///     within = "10m"
/// "#)?;
/// assert_eq!(rules.rules().len(), 1);
/// # Ok::<(), audit_layer::watch::RulesError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub(crate) rules: Vec<Rule>,
    pub(crate) integrity: IntegrityRule,
    /// How far behind the newest record time a record may be and still count.
    pub(crate) lateness: Duration,
}

impl RuleSet {
    /// Reads a rules file.
    ///
    /// # Errors
    ///
    /// [`RulesError`] naming the file, the line and what is wrong.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let rules = audit_layer::watch::RuleSet::load("rules.toml")?;
    /// # Ok::<(), audit_layer::watch::RulesError>(())
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<RuleSet, RulesError> {
        let path = path.as_ref();
        let with_path = |mut error: RulesError| {
            error.path = Some(path.to_owned());
            error
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            with_path(RulesError {
                path: None,
                line: None,
                column: None,
                message: format!("could not be read: {e}"),
            })
        })?;
        RuleSet::from_toml(&text).map_err(with_path)
    }

    /// Reads rules from TOML text.
    ///
    /// # Errors
    ///
    /// [`RulesError`] naming the line and what is wrong.
    ///
    /// # Examples
    ///
    /// See [`RuleSet`].
    pub fn from_toml(text: &str) -> Result<RuleSet, RulesError> {
        let file: RawFile = toml::from_str(text)
            .map_err(|e| RulesError::at(text, e.span(), e.message().trim_end()))?;
        if let Some(version) = &file.version
            && *version.get_ref() != 1
        {
            return Err(RulesError::at(
                text,
                Some(version.span()),
                "this version of audit reads rules files of version 1",
            ));
        }
        let defaults = file.defaults.unwrap_or_default();
        let default_suppress = defaults.suppress.map_or(Duration::from_secs(600), |d| d.0);
        let default_zone = match defaults.timezone {
            Some(zone) => {
                time_zone(zone.get_ref()).map_err(|e| RulesError::at(text, Some(zone.span()), e))?
            }
            None => jiff::tz::TimeZone::UTC,
        };
        let integrity = match file.integrity {
            None => IntegrityRule {
                severity: Severity::Critical,
                message: Template::parse(DEFAULT_INTEGRITY_MESSAGE).expect("a valid template"),
                suppress: default_suppress,
            },
            Some(raw) => {
                let span = raw.span();
                let raw = raw.into_inner();
                if raw.enabled == Some(false) {
                    return Err(RulesError::at(
                        text,
                        Some(span),
                        "integrity alerts can not be turned off",
                    ));
                }
                IntegrityRule {
                    severity: raw.severity.unwrap_or(Severity::Critical),
                    message: match raw.message {
                        Some(message) => template(text, &message, true)?,
                        None => {
                            Template::parse(DEFAULT_INTEGRITY_MESSAGE).expect("a valid template")
                        }
                    },
                    suppress: raw.suppress.map_or(default_suppress, |d| d.0),
                }
            }
        };
        let mut names = BTreeSet::new();
        let mut rules = Vec::new();
        for raw in file.rule {
            let span = raw.span();
            let raw = raw.into_inner();
            let name = raw.name.get_ref().clone();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                return Err(RulesError::at(
                    text,
                    Some(raw.name.span()),
                    "a rule's name is letters, digits, `-`, `_` and `.`",
                ));
            }
            if !names.insert(name.clone()) {
                return Err(RulesError::at(
                    text,
                    Some(raw.name.span()),
                    format!("a second rule named `{name}`"),
                ));
            }
            let rule = compile(text, span, raw, &default_zone, default_suppress)?;
            rules.push(rule);
        }
        Ok(RuleSet {
            rules,
            integrity,
            lateness: defaults.lateness.map_or(Duration::from_secs(300), |d| d.0),
        })
    }

    /// The rules, in file order (the integrity rule, always on, is not listed).
    ///
    /// # Examples
    ///
    /// See [`RuleSet`].
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }
}

const DEFAULT_INTEGRITY_MESSAGE: &str = "integrity: {finding} at seq {seq}: {detail}";

fn time_zone(name: &str) -> Result<jiff::tz::TimeZone, String> {
    jiff::tz::TimeZone::get(name).map_err(|e| format!("`{name}` is not a time zone: {e}"))
}

fn template(
    text: &str,
    message: &Spanned<String>,
    integrity: bool,
) -> Result<Template, RulesError> {
    let parsed = Template::parse(message.get_ref())
        .map_err(|e| RulesError::at(text, Some(message.span()), e))?;
    if integrity
        && let Some(bad) = parsed.placeholders().find(|p| {
            !matches!(
                p,
                Placeholder::Rule
                    | Placeholder::Severity
                    | Placeholder::Finding
                    | Placeholder::Detail
                    | Placeholder::Key
                    | Placeholder::Record(Field::Seq)
            )
        })
    {
        return Err(RulesError::at(
            text,
            Some(message.span()),
            format!(
                "an integrity message names {}; it may name {{finding}}, {{detail}}, {{seq}}, {{rule}}, {{severity}}",
                bad.written()
            ),
        ));
    }
    Ok(parsed)
}

fn compile(
    text: &str,
    span: Range<usize>,
    raw: RawRule,
    default_zone: &jiff::tz::TimeZone,
    default_suppress: Duration,
) -> Result<Rule, RulesError> {
    let kind = *raw.kind.get_ref();
    let name = raw.name.get_ref().clone();
    let fail = |span: Range<usize>, message: String| {
        RulesError::at(text, Some(span), format!("rule `{name}`: {message}"))
    };
    // Which optional keys each kind takes; any other is a mistake to report.
    let allowed: &[&str] = match kind {
        RuleKind::Match => &["where", "group_by"],
        RuleKind::Threshold => &["where", "at_least", "within", "group_by", "distinct"],
        RuleKind::Sequence => &["first", "then", "within", "key", "first_key", "then_key"],
        RuleKind::TimeOfDay => &["where", "hours", "days", "timezone", "group_by"],
        RuleKind::Silence => &["where", "quiet_for"],
        RuleKind::Integrity => {
            return Err(fail(
                raw.kind.span(),
                "integrity is always on; word it in an `[integrity]` table, not as a rule".into(),
            ));
        }
    };
    for (key, at) in raw.present_keys() {
        if !allowed.contains(&key) {
            return Err(fail(
                at,
                format!(
                    "`{}` is not a key of a {} rule (it takes {})",
                    key,
                    kind.as_str(),
                    allowed.join(", ")
                ),
            ));
        }
    }
    let need = |what: &str| -> RulesError {
        RulesError::at(
            text,
            Some(span.clone()),
            format!("rule `{name}`: a {} rule needs `{what}`", kind.as_str()),
        )
    };
    let condition = raw
        .r#where
        .clone()
        .map(Spanned::into_inner)
        .unwrap_or_default();
    let detection = match kind {
        RuleKind::Match => {
            if condition.is_empty() {
                return Err(need("where"));
            }
            Detection::Match
        }
        RuleKind::Threshold => {
            let at_least = raw.at_least.as_ref().ok_or_else(|| need("at_least"))?;
            if *at_least.get_ref() == 0 {
                return Err(fail(at_least.span(), "`at_least` must be 1 or more".into()));
            }
            let within = raw.within.as_ref().ok_or_else(|| need("within"))?;
            Detection::Threshold(Threshold {
                at_least: *at_least.get_ref(),
                within: within.get_ref().0,
                group_by: raw.group_by.clone().map(|k| k.into_inner().0),
                distinct: raw.distinct.clone().map(Spanned::into_inner),
            })
        }
        RuleKind::Sequence => {
            let first = raw.first.clone().ok_or_else(|| need("first"))?.into_inner();
            let then = raw.then.clone().ok_or_else(|| need("then"))?.into_inner();
            let within = raw
                .within
                .as_ref()
                .ok_or_else(|| need("within"))?
                .get_ref()
                .0;
            let key = raw.key.clone().map(|k| k.into_inner().0);
            let first_key = raw
                .first_key
                .clone()
                .map(|k| k.into_inner().0)
                .or(key.clone());
            let then_key = raw.then_key.clone().map(|k| k.into_inner().0).or(key);
            let (Some(first_key), Some(then_key)) = (first_key, then_key) else {
                return Err(need("key (or first_key and then_key)"));
            };
            Detection::Sequence(Sequence {
                first,
                first_key,
                then,
                then_key,
                within,
            })
        }
        RuleKind::TimeOfDay => {
            let hours = raw.hours.as_ref().ok_or_else(|| need("hours"))?;
            let (from, to) = parse_hours(hours.get_ref()).map_err(|e| fail(hours.span(), e))?;
            let days = match &raw.days {
                None => [true; 7],
                Some(days) => parse_days(days.get_ref()).map_err(|e| fail(days.span(), e))?,
            };
            let zone = match &raw.timezone {
                Some(zone) => time_zone(zone.get_ref()).map_err(|e| fail(zone.span(), e))?,
                None => default_zone.clone(),
            };
            Detection::TimeOfDay(Hours {
                from,
                to,
                days,
                zone,
            })
        }
        RuleKind::Silence => {
            let quiet = raw.quiet_for.as_ref().ok_or_else(|| need("quiet_for"))?;
            Detection::Silence(quiet.get_ref().0)
        }
        RuleKind::Integrity => unreachable!("refused above"),
    };
    let message = template(text, &raw.message, false)?;
    for placeholder in message.placeholders() {
        let fits = match placeholder {
            Placeholder::First(_) => kind == RuleKind::Sequence,
            Placeholder::Count => kind == RuleKind::Threshold,
            Placeholder::Key => kind != RuleKind::Silence,
            Placeholder::Within => matches!(
                kind,
                RuleKind::Threshold | RuleKind::Sequence | RuleKind::Silence
            ),
            Placeholder::Finding | Placeholder::Detail => false,
            _ => true,
        };
        if !fits {
            return Err(fail(
                raw.message.span(),
                format!(
                    "a {} rule's message can not name {}",
                    kind.as_str(),
                    placeholder.written()
                ),
            ));
        }
    }
    let mut rule = Rule {
        name: name.clone(),
        severity: *raw.severity.get_ref(),
        message,
        condition,
        detection,
        group_by: match kind {
            RuleKind::Match | RuleKind::TimeOfDay => raw.group_by.map(|k| k.into_inner().0),
            _ => None,
        },
        suppress: raw.suppress.map_or(default_suppress, |d| d.into_inner().0),
        fingerprint: String::new(),
    };
    // What the rule does, as compiled: the same rule written differently
    // (comments, order, spacing) keeps its state; a changed one does not.
    let compiled = format!(
        "{:?}",
        (
            &rule.severity,
            &rule.message,
            &rule.condition,
            &rule.detection,
            &rule.group_by,
            rule.suppress
        )
    );
    rule.fingerprint = Hash::of(compiled.as_bytes()).to_string();
    Ok(rule)
}

fn parse_hours(text: &str) -> Result<(u16, u16), String> {
    let clock = |part: &str| -> Option<u16> {
        let (h, m) = part.trim().split_once(':')?;
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
    };
    let bad = || format!("`{text}` is not hours as HH:MM-HH:MM (such as 08:00-18:00)");
    let (from, to) = text.split_once('-').ok_or_else(bad)?;
    let (from, to) = (clock(from).ok_or_else(bad)?, clock(to).ok_or_else(bad)?);
    if from == to {
        return Err(format!("`{text}` is an empty span of hours"));
    }
    Ok((from, to))
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn parse_days(days: &[String]) -> Result<[bool; 7], String> {
    let index = |name: &str| {
        DAY_NAMES
            .iter()
            .position(|d| name.trim().to_ascii_lowercase().starts_with(d))
            .ok_or_else(|| format!("`{name}` is not a day (mon, tue, ... sun)"))
    };
    let mut set = [false; 7];
    for day in days {
        match day.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (index(from)?, index(to)?);
                let mut at = from;
                loop {
                    set[at] = true;
                    if at == to {
                        break;
                    }
                    at = (at + 1) % 7;
                }
            }
            None => set[index(day)?] = true,
        }
    }
    Ok(set)
}

/// A duration as the file writes it: `90s`, `15m`, `8h`, `1h 30m`.
#[derive(Debug, Clone, Copy)]
struct HumanDuration(Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text)
            .map(HumanDuration)
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "`{text}` is not a duration (such as 90s, 15m, 8h): {e}"
                ))
            })
    }
}

#[derive(Debug, Clone)]
struct RawKey(KeySpec);

impl<'de> Deserialize<'de> for RawKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Field(String),
            Table {
                field: String,
                capture: Option<String>,
            },
        }
        let written = Written::deserialize(deserializer).map_err(|_| {
            serde::de::Error::custom(
                "a key is a field name, or { field = \"...\", capture = \"regex with a group\" }",
            )
        })?;
        let (field, capture) = match written {
            Written::Field(field) => (field, None),
            Written::Table { field, capture } => (field, capture),
        };
        let field = Field::parse(&field).map_err(serde::de::Error::custom)?;
        let capture = capture
            .map(|pattern| Regex::new(&pattern))
            .transpose()
            .map_err(|e| serde::de::Error::custom(format!("a bad capture regex: {e}")))?;
        Ok(RawKey(KeySpec { field, capture }))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    version: Option<Spanned<u32>>,
    defaults: Option<RawDefaults>,
    integrity: Option<Spanned<RawIntegrity>>,
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    suppress: Option<HumanDuration>,
    lateness: Option<HumanDuration>,
    timezone: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIntegrity {
    enabled: Option<bool>,
    severity: Option<Severity>,
    message: Option<Spanned<String>>,
    suppress: Option<HumanDuration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Spanned<String>,
    kind: Spanned<RuleKind>,
    severity: Spanned<Severity>,
    message: Spanned<String>,
    suppress: Option<Spanned<HumanDuration>>,
    r#where: Option<Spanned<Condition>>,
    at_least: Option<Spanned<u64>>,
    within: Option<Spanned<HumanDuration>>,
    group_by: Option<Spanned<RawKey>>,
    distinct: Option<Spanned<Field>>,
    first: Option<Spanned<Condition>>,
    then: Option<Spanned<Condition>>,
    key: Option<Spanned<RawKey>>,
    first_key: Option<Spanned<RawKey>>,
    then_key: Option<Spanned<RawKey>>,
    hours: Option<Spanned<String>>,
    days: Option<Spanned<Vec<String>>>,
    timezone: Option<Spanned<String>>,
    quiet_for: Option<Spanned<HumanDuration>>,
}

/// The keys a rule table may hold, for the schema.
pub(crate) const RULE_KEYS: [&str; 19] = [
    "name",
    "kind",
    "severity",
    "message",
    "suppress",
    "where",
    "at_least",
    "within",
    "group_by",
    "distinct",
    "first",
    "then",
    "key",
    "first_key",
    "then_key",
    "hours",
    "days",
    "timezone",
    "quiet_for",
];

impl RawRule {
    /// The kind-specific keys present, and where.
    fn present_keys(&self) -> Vec<(&'static str, Range<usize>)> {
        fn at<T>(
            name: &'static str,
            value: &Option<Spanned<T>>,
        ) -> Option<(&'static str, Range<usize>)> {
            value.as_ref().map(|v| (name, v.span()))
        }
        [
            at("where", &self.r#where),
            at("at_least", &self.at_least),
            at("within", &self.within),
            at("group_by", &self.group_by),
            at("distinct", &self.distinct),
            at("first", &self.first),
            at("then", &self.then),
            at("key", &self.key),
            at("first_key", &self.first_key),
            at("then_key", &self.then_key),
            at("hours", &self.hours),
            at("days", &self.days),
            at("timezone", &self.timezone),
            at("quiet_for", &self.quiet_for),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_is_fingerprinted_by_its_whole_text() {
        let text = "[[rule]]\nname = \"a\"\nkind = \"match\"\nseverity = \"low\"\nmessage = \"m\"\nwhere = { action = \"x\" }\n";
        let rules = RuleSet::from_toml(text).unwrap();
        let again = RuleSet::from_toml(&format!("# a comment\n{text}")).unwrap();
        assert_eq!(rules.rules[0].fingerprint, again.rules[0].fingerprint);
        let changed = RuleSet::from_toml(&text.replace("\"x\"", "\"y\"")).unwrap();
        assert_ne!(rules.rules[0].fingerprint, changed.rules[0].fingerprint);
    }

    #[test]
    fn hours_and_days_read_as_written() {
        assert_eq!(parse_hours("08:00-18:00").unwrap(), (480, 1080));
        assert_eq!(parse_hours("22:00-06:00").unwrap(), (1320, 360));
        assert_eq!(parse_hours("00:00-24:00").unwrap(), (0, 1440));
        assert!(parse_hours("8-18").is_err());
        assert!(parse_hours("08:00-08:00").is_err());
        assert_eq!(
            parse_days(&["mon-fri".into()]).unwrap(),
            [true, true, true, true, true, false, false]
        );
        assert_eq!(
            parse_days(&["sat-mon".into()]).unwrap(),
            [true, false, false, false, false, true, true]
        );
        assert!(parse_days(&["funday".into()]).is_err());
    }
}
