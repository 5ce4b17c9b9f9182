//! Inside an audited call, state known only half-way (the loaded post, the
//! id the database assigned, the user who just logged in) can still be
//! recorded; outside one, the functions say so; and with no audit layer,
//! nothing is serialised at all.

use std::sync::atomic::{AtomicUsize, Ordering};

use audit_layer::testing::{Expect, capture};
use audit_layer::{audited, record_after, record_before, set_actor, set_context, set_resource};
use serde::{Serialize, Serializer};
use serde_json::json;

#[derive(Serialize, Clone)]
struct Post {
    title: String,
    published: bool,
}

#[audited(action = "post.publish")]
fn publish(title: &str) -> Post {
    let mut post = Post {
        title: title.into(),
        published: false,
    };
    set_resource(format_args!("post:{title}"));
    record_before(&post);
    post.published = true;
    // Inside a nested span, the call is still found.
    tracing::info_span!("db.save").in_scope(|| record_after(&post));
    post
}

#[audited(action = "session.login")]
async fn login(user: &str) -> bool {
    tokio::task::yield_now().await;
    set_actor(user);
    set_context("method", "password");
    true
}

#[test]
fn state_known_inside_the_body_is_recorded() {
    let audit = capture();
    publish("hello");
    audit.assert_one(
        &Expect::action("post.publish")
            .resource("post:hello")
            .before(json!({"title": "hello", "published": false}))
            .after(json!({"title": "hello", "published": true}))
            .change("/published", json!(false), json!(true)),
    );
}

#[tokio::test]
async fn async_bodies_can_record_after_awaiting() {
    let audit = capture();
    assert!(login("alice").await);
    audit.assert_one(
        &Expect::action("session.login")
            .actor("alice")
            .context("method", "password"),
    );
}

#[test]
fn outside_an_audited_call_nothing_is_recorded_and_the_caller_is_told() {
    let audit = capture();
    assert!(!record_before(&1));
    assert!(!record_after(&1));
    assert!(!set_actor("x"));
    assert!(!set_resource("x"));
    assert!(!set_context("k", "v"));
    tracing::info_span!("plain").in_scope(|| assert!(!set_actor("x")));
    assert!(audit.records().is_empty());
}

static SERIALIZED: AtomicUsize = AtomicUsize::new(0);
static LOADED: AtomicUsize = AtomicUsize::new(0);

struct Expensive;

impl Serialize for Expensive {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        SERIALIZED.fetch_add(1, Ordering::SeqCst);
        serializer.serialize_str("expensive")
    }
}

fn load() -> Expensive {
    LOADED.fetch_add(1, Ordering::SeqCst);
    Expensive
}

#[audited(action = "costly", before = load(), after = |_| Expensive)]
fn costly() {
    record_after(&Expensive);
}

#[test]
fn state_is_neither_loaded_nor_serialised_without_an_audit_layer() {
    // No subscriber at all, then a subscriber with only a fmt layer.
    costly();
    tracing::subscriber::with_default(
        tracing_subscriber::fmt()
            .with_writer(std::io::sink)
            .finish(),
        costly,
    );
    assert_eq!(LOADED.load(Ordering::SeqCst), 0);
    assert_eq!(SERIALIZED.load(Ordering::SeqCst), 0);

    // With an audit layer: loaded once, serialised for before, the in-body
    // after, and the `after` argument (which wins, being the last word).
    let audit = capture();
    costly();
    audit.assert_one(
        &Expect::action("costly")
            .before(json!("expensive"))
            .after(json!("expensive")),
    );
    assert_eq!(LOADED.load(Ordering::SeqCst), 1);
    assert_eq!(SERIALIZED.load(Ordering::SeqCst), 3);
}
