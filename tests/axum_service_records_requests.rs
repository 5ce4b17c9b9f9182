//! The axum example, driven over HTTP on 127.0.0.1, records each request as
//! the audit event it should be: actor from the session, source IP, session
//! and request id from the request span, before/after state, and denied and
//! failing requests with their kind.

#[path = "../examples/blog/mod.rs"]
mod blog;

use std::net::SocketAddr;
use std::sync::Arc;

use audit_layer::FailureKind;
use audit_layer::testing::{Expect, capture};
use axum::http::Method;
use serde_json::json;

use blog::client::Client;
use blog::domain::Blog;

async fn start() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(blog::http::serve(listener, Arc::new(Blog::with_team())));
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_become_the_audit_events_they_should() {
    let audit = capture();
    let addr = start().await;

    let mut carol = Client::new(addr, "198.51.100.7");
    assert_eq!(carol.login("carol", "lorac").await.status, 200);
    let created = carol
        .send(
            Method::POST,
            "/posts",
            Some(json!({"title": "Offsite", "body": "It was fun"})),
        )
        .await;
    assert_eq!(created.status, 201);
    let id = created.body["id"].as_u64().unwrap();
    let edited = carol
        .send(
            Method::PUT,
            &format!("/posts/{id}"),
            Some(json!({"title": "Offsite recap", "body": "It was fun"})),
        )
        .await;
    assert_eq!(edited.status, 200);
    // Denied: an author cannot approve.
    assert_eq!(
        carol
            .send(Method::POST, &format!("/posts/{id}/approve"), None)
            .await
            .status,
        403
    );
    // Failing: there is no such post.
    assert_eq!(
        carol
            .send(Method::POST, "/posts/999/publish", None)
            .await
            .status,
        404
    );

    let mut stranger = Client::new(addr, "203.0.113.66");
    assert_eq!(stranger.login("carol", "guess").await.status, 401);
    assert_eq!(
        stranger.send(Method::GET, "/export", None).await.status,
        401
    );

    let resource = format!("post:{id}");
    let login = audit.assert_one(
        &Expect::action("session.login")
            .actor("carol")
            .success()
            .context("source_ip", "198.51.100.7"),
    );
    let session = login
        .context
        .get("session")
        .expect("the login names its session")
        .clone();
    assert_eq!(session.len(), 12, "a digest of the token, not the token");
    audit.assert_one(
        &Expect::action("post.create")
            .actor("carol")
            .resource(&resource)
            .success()
            .context("source_ip", "198.51.100.7")
            .context("session", &session),
    );
    audit.assert_one(
        &Expect::action("post.edit")
            .actor("carol")
            .resource(&resource)
            .change("/title", json!("Offsite"), json!("Offsite recap")),
    );
    audit.assert_one(
        &Expect::action("post.approve")
            .actor("carol")
            .resource(&resource)
            .failure_kind(FailureKind::Denied)
            .reason("carol is not an editor"),
    );
    audit.assert_one(
        &Expect::action("post.publish")
            .resource("post:999")
            .failure_kind(FailureKind::Other("not_found".into()))
            .reason("there is no post 999"),
    );
    audit.assert_one(
        &Expect::action("session.login")
            .actor("carol")
            .failure_kind(FailureKind::Denied)
            .context("source_ip", "203.0.113.66"),
    );
    audit.assert_one(
        &Expect::action("export.posts")
            .no_actor()
            .failure_kind(FailureKind::Denied),
    );

    // Every record has a request id of its own, and no password anywhere.
    let records = audit.records();
    assert_eq!(records.len(), 7);
    let mut request_ids: Vec<&String> = records.iter().map(|r| &r.context["request_id"]).collect();
    request_ids.sort();
    request_ids.dedup();
    assert_eq!(request_ids.len(), 7);
    let everything = serde_json::to_string(&records).unwrap();
    assert!(!everything.contains("lorac") && !everything.contains("guess"));
    audit.assert_chain_verifies();
}

/// Requests that axum's extractors reject never reach a handler; the
/// example's middleware records them, with axum's reason and the request's
/// context, and only them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_rejected_before_the_handler_are_recorded() {
    let audit = capture();
    let addr = start().await;
    let mut bob = Client::new(addr, "192.0.2.10");
    assert_eq!(bob.login("bob", "bob").await.status, 200);

    let malformed = bob
        .send_raw(
            Method::POST,
            "/posts",
            Some(("application/json", "{\"title\": ".into())),
        )
        .await;
    assert_eq!(malformed.status, 400);
    let missing_field = bob
        .send(Method::POST, "/posts", Some(json!({"title": "no body"})))
        .await;
    assert_eq!(missing_field.status, 422);
    let bad_id = bob
        .send(Method::POST, "/posts/not-a-number/publish", None)
        .await;
    assert_eq!(bad_id.status, 400);

    let rejected = |path: &str| {
        Expect::action("request.rejected")
            .actor("bob")
            .resource(path)
            .failure_kind(FailureKind::Invalid)
            .context("method", "POST")
            .context("source_ip", "192.0.2.10")
    };
    let reasons: Vec<String> = audit
        .records()
        .iter()
        .filter(|record| rejected("/posts").matches(record))
        .map(|record| record.outcome.reason().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons[0].starts_with("HTTP 400: ") && reasons[0].contains("JSON"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].starts_with("HTTP 422: ") && reasons[1].contains("missing field `body`"),
        "{reasons:?}"
    );
    audit.assert_one(&rejected("/posts/not-a-number/publish"));
    // The login that reached its handler is recorded once, by the handler.
    audit.assert_one(&Expect::action("session.login").actor("bob").success());
    assert_eq!(audit.records().len(), 4);
}
