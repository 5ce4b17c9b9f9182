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
