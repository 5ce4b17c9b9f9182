//! A function that is not `async fn` but returns a future (`impl Future`,
//! `BoxFuture`, `Pin<Box<dyn Future>>`, a tower-style `Self::Future`) is
//! recorded when that future completes, with the outcome it completed with;
//! a future dropped before it completes, or never awaited, is `cancelled`.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use audit_layer::testing::{Expect, capture};
use audit_layer::{FailureKind, audited};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

#[audited(action = "opaque", resource = id)]
fn opaque(id: u64) -> impl Future<Output = Result<u64, String>> {
    async move {
        tokio::task::yield_now().await;
        if id == 0 {
            Err("no id 0".into())
        } else {
            Ok(id)
        }
    }
}

#[audited(action = "opaque.unpin")]
fn opaque_unpin(fail: bool) -> impl Future<Output = Result<(), String>> + Unpin {
    Box::pin(async move {
        if fail {
            Err("unpin failed".into())
        } else {
            Ok(())
        }
    })
}

#[audited(action = "boxed", resource = id)]
fn boxed(id: u64) -> BoxFuture<'static, Result<u64, String>> {
    async move {
        tokio::task::yield_now().await;
        Err(format!("{id} is locked"))
    }
    .boxed()
}

struct Repo {
    owner: String,
    rows: Vec<u64>,
}

impl Repo {
    /// `Box::pin(async { .. })` without `move`, borrowing `self`.
    #[audited(action = "repo.count", actor = self.owner)]
    fn count(&self) -> Pin<Box<dyn Future<Output = Result<usize, String>> + Send + '_>> {
        Box::pin(async {
            tokio::task::yield_now().await;
            if self.rows.is_empty() {
                Err("empty".into())
            } else {
                Ok(self.rows.len())
            }
        })
    }

    /// An early `return` of another future, then the usual one.
    #[audited(action = "repo.get", resource = id)]
    fn get(&self, id: u64) -> Pin<Box<dyn Future<Output = Result<u64, String>> + Send + '_>> {
        if id == 0 {
            return Box::pin(async { Err("id 0 is reserved".into()) });
        }
        Box::pin(async move {
            self.rows
                .iter()
                .copied()
                .find(|row| *row == id)
                .ok_or_else(|| "missing".into())
        })
    }

    /// `after` may await in a future; it sees the future's output.
    #[audited(action = "repo.len", after = |ret: &usize| async move { *ret * 10 }.await)]
    fn len(&self) -> impl Future<Output = usize> + '_ {
        async move { self.rows.len() }
    }
}

/// A tower-style service whose future is named by an associated type.
trait Service {
    type Future: Future<Output = Result<String, String>>;
    fn call(&mut self, request: String) -> Self::Future;
}

struct Echo {
    calls: u32,
}

impl Service for Echo {
    type Future = BoxFuture<'static, Result<String, String>>;

    #[audited(action = "echo.call", resource = request)]
    fn call(&mut self, request: String) -> Self::Future {
        self.calls += 1;
        Box::pin(async move {
            if request.is_empty() {
                Err("empty request".into())
            } else {
                Ok(request)
            }
        })
    }
}

#[tokio::test]
async fn an_impl_future_is_recorded_with_the_outcome_it_resolves_to() {
    let audit = capture();
    assert_eq!(opaque(0).await, Err("no id 0".into()));
    assert_eq!(opaque(7).await, Ok(7));
    assert!(opaque_unpin(true).await.is_err());
    audit.assert_exactly(&[
        Expect::action("opaque")
            .resource("0")
            .failure_kind(FailureKind::Error)
            .reason("no id 0"),
        Expect::action("opaque").resource("7").success(),
        Expect::action("opaque.unpin")
            .failure()
            .reason("unpin failed"),
    ]);
}

#[tokio::test]
async fn a_box_future_is_recorded_with_the_outcome_it_resolves_to() {
    let audit = capture();
    assert!(boxed(3).await.is_err());
    let repo = Repo {
        owner: "alice".into(),
        rows: vec![],
    };
    assert!(repo.count().await.is_err());
    let repo = Repo {
        owner: "bob".into(),
        rows: vec![4, 5],
    };
    assert_eq!(repo.count().await, Ok(2));
    assert_eq!(repo.get(0).await, Err("id 0 is reserved".into()));
    assert_eq!(repo.get(5).await, Ok(5));
    assert_eq!(repo.len().await, 2);
    audit.assert_exactly(&[
        Expect::action("boxed")
            .resource("3")
            .failure()
            .reason("3 is locked"),
        Expect::action("repo.count")
            .actor("alice")
            .failure()
            .reason("empty"),
        Expect::action("repo.count").actor("bob").success(),
        Expect::action("repo.get")
            .resource("0")
            .failure()
            .reason("id 0 is reserved"),
        Expect::action("repo.get").resource("5").success(),
        Expect::action("repo.len")
            .success()
            .after(serde_json::json!(20)),
    ]);
}

#[tokio::test]
async fn a_self_future_of_a_service_is_recorded_when_it_completes() {
    let audit = capture();
    let mut echo = Echo { calls: 0 };
    assert_eq!(echo.call("hi".into()).await, Ok("hi".into()));
    assert!(echo.call(String::new()).await.is_err());
    assert_eq!(echo.calls, 2);
    audit.assert_exactly(&[
        Expect::action("echo.call").resource("hi").success(),
        Expect::action("echo.call")
            .resource("")
            .failure()
            .reason("empty request"),
    ]);
}

#[tokio::test]
async fn a_returned_future_that_times_out_is_cancelled() {
    #[audited(action = "slow")]
    fn slow() -> impl Future<Output = Result<(), String>> {
        async {
            std::future::pending::<()>().await;
            Ok(())
        }
    }

    let audit = capture();
    let timed_out = tokio::time::timeout(Duration::from_millis(1), slow()).await;
    assert!(timed_out.is_err());
    audit.assert_one(&Expect::action("slow").failure_kind(FailureKind::Cancelled));
}

#[tokio::test]
async fn a_returned_future_never_awaited_is_cancelled_not_successful() {
    let audit = capture();
    drop(boxed(9));
    drop(opaque(9));
    audit.assert_exactly(&[
        Expect::action("boxed")
            .resource("9")
            .failure_kind(FailureKind::Cancelled),
        Expect::action("opaque")
            .resource("9")
            .failure_kind(FailureKind::Cancelled),
    ]);
    audit.assert_none(&Expect::action("boxed").success());
}
