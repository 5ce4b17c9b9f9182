//! `#[audited]` works on every shape of function a service has, and each
//! call makes one record naming what the attribute named.

use audit_layer::audited;
use audit_layer::testing::{Expect, capture};

#[audited(action = "shape.sync", actor = user, resource = id)]
fn sync_fn(user: &str, id: u64) -> u64 {
    id + 1
}

#[audited(action = "shape.async", actor = user, resource = id)]
async fn async_fn(user: &str, id: u64) -> u64 {
    tokio::task::yield_now().await;
    id + 1
}

struct Account {
    owner: String,
    balance: i64,
}

impl Account {
    #[audited(action = "account.read", actor = self.owner, resource = "account")]
    fn balance(&self) -> i64 {
        self.balance
    }

    #[audited(action = "account.deposit", actor = self.owner, before = self.balance, after = |_| "deposited")]
    fn deposit(&mut self, amount: i64) -> i64 {
        self.balance += amount;
        self.balance
    }

    #[audited(action = "account.close", actor = self.owner)]
    fn close(self) -> String {
        self.owner
    }

    #[audited(action = "account.read_async", actor = self.owner)]
    async fn balance_async(&self) -> i64 {
        self.balance
    }

    /// Returns a borrow of `self`: the body's closure must hand it back intact.
    #[audited(action = "account.owner")]
    fn owner(&self) -> &str {
        &self.owner
    }

    /// Returns a mutable borrow of `self`.
    #[audited(action = "account.balance_mut")]
    fn balance_mut(&mut self) -> &mut i64 {
        &mut self.balance
    }

    /// `after` uses an argument the body also used: the body only borrows it.
    #[audited(action = "account.rename", before = self.owner.clone(), after = |_| self.owner.clone())]
    fn rename(&mut self, owner: String) {
        self.owner = owner;
    }

    #[audited(action = "account.balance_mut_async")]
    async fn balance_mut_async(&mut self) -> &mut i64 {
        tokio::task::yield_now().await;
        &mut self.balance
    }

    #[audited(action = "account.rename_async", after = |_| format!("{}:{note}", self.owner))]
    async fn rename_async(&mut self, owner: String, note: String) {
        tokio::task::yield_now().await;
        self.owner = owner;
        let _ = note.len();
    }
}

#[audited(action = "shape.generic", resource = item)]
fn generic<'a, T, U: Clone>(item: &'a T, extra: U) -> (&'a T, U)
where
    T: std::fmt::Display + ?Sized,
{
    (item, extra.clone())
}

#[audited(action = "shape.impl_trait", resource = name)]
fn impl_trait(
    name: impl std::fmt::Display,
    items: impl IntoIterator<Item = u32>,
) -> impl Iterator<Item = u32> {
    let _ = name.to_string();
    items.into_iter().map(|n| n * 2)
}

struct Pair(u32, u32);

#[audited(action = "shape.patterns", resource = left)]
fn patterns(Pair(left, right): Pair, (a, _): (u8, u8), mut counter: u32) -> u32 {
    counter += 1;
    left + right + u32::from(a) + counter
}

/// # Safety
/// `value` must point to a valid `u32`.
#[audited(action = "shape.unsafe")]
unsafe fn unsafe_fn(value: *const u32) -> u32 {
    // SAFETY: the caller promises `value` is valid.
    unsafe { *value }
}

#[audited(action = "shape.early_return", resource = n)]
fn early_return(n: i32) -> Result<i32, String> {
    if n < 0 {
        return Err(format!("{n} is negative"));
    }
    let parsed: i32 = n
        .to_string()
        .parse()
        .map_err(|e: std::num::ParseIntError| e.to_string())?;
    Ok(parsed * 2)
}

#[audited(action = "shape.question_mark")]
fn question_mark(text: &str) -> Result<i64, std::num::ParseIntError> {
    let value: i64 = text.parse()?;
    Ok(value)
}

#[audited(action = "shape.async_question_mark")]
async fn async_question_mark(text: &str) -> Result<i64, std::num::ParseIntError> {
    tokio::task::yield_now().await;
    let value: i64 = text.parse()?;
    Ok(value)
}

trait Repository {
    async fn delete(&self, id: u64) -> Result<(), String>;
}

struct Posts;

impl Repository for Posts {
    #[audited(action = "post.delete", resource = id)]
    async fn delete(&self, id: u64) -> Result<(), String> {
        if id == 0 {
            Err("no post 0".into())
        } else {
            Ok(())
        }
    }
}

#[async_trait::async_trait]
trait Store {
    async fn put(&self, key: &str, value: u32) -> Result<u32, String>;
}

struct MemoryStore {
    user: String,
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    #[audited(action = "store.put", actor = self.user, resource = key)]
    async fn put(&self, key: &str, value: u32) -> Result<u32, String> {
        tokio::task::yield_now().await;
        if value == 0 {
            return Err("zero".into());
        }
        Ok(value)
    }
}

#[test]
fn sync_fn_is_recorded() {
    let audit = capture();
    assert_eq!(sync_fn("alice", 1), 2);
    let record = audit.assert_one(
        &Expect::action("shape.sync")
            .actor("alice")
            .resource("1")
            .success(),
    );
    let code = record.code.unwrap();
    assert_eq!(code.function.as_deref(), Some("sync_fn"));
    assert_eq!(code.module.as_deref(), Some("audited_function_shapes"));
    assert!(code.file.unwrap().ends_with("audited_function_shapes.rs"));
    assert!(record.duration.is_some());
}

#[tokio::test]
async fn async_fn_is_recorded() {
    let audit = capture();
    assert_eq!(async_fn("bob", 41).await, 42);
    audit.assert_one(
        &Expect::action("shape.async")
            .actor("bob")
            .resource("41")
            .success(),
    );
}

#[test]
fn methods_taking_ref_mut_and_value_self_are_recorded() {
    let audit = capture();
    let mut account = Account {
        owner: "carol".into(),
        balance: 10,
    };
    assert_eq!(account.balance(), 10);
    assert_eq!(account.deposit(5), 15);
    assert_eq!(account.owner(), "carol");
    assert_eq!(account.close(), "carol");
    audit.assert_exactly(&[
        Expect::action("account.read")
            .actor("carol")
            .resource("account"),
        Expect::action("account.deposit")
            .actor("carol")
            .before(serde_json::json!(10))
            .after(serde_json::json!("deposited")),
        Expect::action("account.owner"),
        Expect::action("account.close").actor("carol"),
    ]);
}

#[tokio::test]
async fn bodies_returning_borrows_and_after_reading_arguments_are_recorded() {
    let audit = capture();
    let mut account = Account {
        owner: "frank".into(),
        balance: 1,
    };
    *account.balance_mut() += 1;
    account.rename("grace".into());
    *account.balance_mut_async().await += 1;
    account.rename_async("heidi".into(), "moved".into()).await;
    assert_eq!((account.balance, account.owner.as_str()), (3, "heidi"));
    audit.assert_exactly(&[
        Expect::action("account.balance_mut"),
        Expect::action("account.rename")
            .before(serde_json::json!("frank"))
            .after(serde_json::json!("grace")),
        Expect::action("account.balance_mut_async"),
        Expect::action("account.rename_async").after(serde_json::json!("heidi:moved")),
    ]);
}

#[tokio::test]
async fn async_methods_are_recorded() {
    let audit = capture();
    let account = Account {
        owner: "dave".into(),
        balance: 3,
    };
    assert_eq!(account.balance_async().await, 3);
    audit.assert_one(&Expect::action("account.read_async").actor("dave"));
}

#[test]
fn generics_lifetimes_and_where_clauses_are_recorded() {
    let audit = capture();
    let (item, extra) = generic("thing", vec![1]);
    assert_eq!((item, extra), ("thing", vec![1]));
    audit.assert_one(&Expect::action("shape.generic").resource("thing"));
}

#[test]
fn impl_trait_arguments_and_returns_are_recorded() {
    let audit = capture();
    let doubled: Vec<u32> = impl_trait("list", [1, 2]).collect();
    assert_eq!(doubled, [2, 4]);
    audit.assert_one(&Expect::action("shape.impl_trait").resource("list"));
}

#[test]
fn pattern_arguments_are_recorded() {
    let audit = capture();
    assert_eq!(patterns(Pair(1, 2), (3, 4), 0), 7);
    audit.assert_one(&Expect::action("shape.patterns").resource("1"));
}

#[test]
fn unsafe_fn_is_recorded() {
    let audit = capture();
    let value = 9;
    // SAFETY: points to a live u32.
    assert_eq!(unsafe { unsafe_fn(&value) }, 9);
    audit.assert_one(&Expect::action("shape.unsafe"));
}

#[test]
fn early_return_and_question_mark_keep_their_meaning() {
    let audit = capture();
    assert_eq!(early_return(-1), Err("-1 is negative".into()));
    assert_eq!(early_return(4), Ok(8));
    assert!(question_mark("x").is_err());
    assert_eq!(question_mark("12"), Ok(12));
    audit.assert_exactly(&[
        Expect::action("shape.early_return")
            .resource("-1")
            .failure()
            .reason("-1 is negative"),
        Expect::action("shape.early_return").resource("4").success(),
        Expect::action("shape.question_mark")
            .failure()
            .reason("invalid digit found in string"),
        Expect::action("shape.question_mark").success(),
    ]);
}

#[tokio::test]
async fn async_question_mark_keeps_its_meaning() {
    let audit = capture();
    assert!(async_question_mark("x").await.is_err());
    audit.assert_one(&Expect::action("shape.async_question_mark").failure());
}

#[tokio::test]
async fn native_async_fn_in_traits_is_recorded() {
    let audit = capture();
    Posts.delete(3).await.unwrap();
    Posts.delete(0).await.unwrap_err();
    audit.assert_exactly(&[
        Expect::action("post.delete").resource("3").success(),
        Expect::action("post.delete")
            .resource("0")
            .failure()
            .reason("no post 0"),
    ]);
}

#[tokio::test]
async fn async_trait_methods_are_recorded() {
    let audit = capture();
    let store = MemoryStore {
        user: "erin".into(),
    };
    assert_eq!(store.put("k", 5).await, Ok(5));
    assert!(store.put("z", 0).await.is_err());
    audit.assert_exactly(&[
        Expect::action("store.put")
            .actor("erin")
            .resource("k")
            .success(),
        Expect::action("store.put")
            .actor("erin")
            .resource("z")
            .failure()
            .reason("zero"),
    ]);
}

#[test]
fn the_default_action_is_the_function_path() {
    #[audited(actor = "system")]
    fn nightly_cleanup() {}

    let audit = capture();
    nightly_cleanup();
    let record = audit.records().remove(0);
    assert_eq!(record.action, "audited_function_shapes::nightly_cleanup");
}

struct UserRepo;
struct PostRepo;

impl UserRepo {
    #[audited]
    fn delete(&self, _id: u64) {}

    #[audited]
    fn create() -> Self {
        UserRepo
    }
}

impl PostRepo {
    #[audited]
    fn delete(&self, _id: u64) {}
}

trait Archive {
    fn archive(&self);
}

struct Generic<T>(T);

impl<T> Archive for Generic<T> {
    #[audited]
    fn archive(&self) {}
}

#[test]
fn the_default_action_of_a_method_names_its_type() {
    let audit = capture();
    UserRepo.delete(1);
    PostRepo.delete(1);
    let _ = UserRepo::create();
    Generic(1_u8).archive();
    Generic("x").archive();
    audit.assert_exactly(&[
        Expect::action("audited_function_shapes::UserRepo::delete"),
        Expect::action("audited_function_shapes::PostRepo::delete"),
        Expect::action("audited_function_shapes::UserRepo::create"),
        // One action per method, whatever the type is instantiated with.
        Expect::action("audited_function_shapes::Generic::archive"),
        Expect::action("audited_function_shapes::Generic::archive"),
    ]);
}

/// A body that starts with an inner attribute keeps it.
#[audited(action = "shape.inner_attribute")]
fn inner_attribute() -> u32 {
    #![allow(clippy::identity_op)]
    1 + 0
}

/// A function that never returns: only a panic ends its call.
#[audited(action = "shape.diverging", actor = who)]
fn diverging(who: &str) -> ! {
    panic!("{who} stopped the world")
}

#[test]
fn inner_attributes_and_never_returning_functions_are_recorded() {
    let audit = capture();
    assert_eq!(inner_attribute(), 1);
    assert!(std::panic::catch_unwind(|| diverging("ivan")).is_err());
    audit.assert_exactly(&[
        Expect::action("shape.inner_attribute").success(),
        Expect::action("shape.diverging")
            .actor("ivan")
            .failure_kind(audit_layer::FailureKind::Panicked),
    ]);
}

#[async_trait::async_trait]
trait Ledger {
    async fn credit(&mut self, amount: i64) -> Result<i64, String>;
}

struct Wallet {
    owner: String,
    balance: i64,
}

#[async_trait::async_trait]
impl Ledger for Wallet {
    /// `&mut self`, and `after` reads `self` once the body is done with it.
    #[audited(
        action = "wallet.credit",
        actor = self.owner,
        before = self.balance,
        after = |_| self.balance,
    )]
    async fn credit(&mut self, amount: i64) -> Result<i64, String> {
        tokio::task::yield_now().await;
        if amount < 0 {
            return Err("negative credit".into());
        }
        self.balance += amount;
        Ok(self.balance)
    }
}

#[tokio::test]
async fn async_trait_methods_on_mut_self_can_read_self_after_the_body() {
    let audit = capture();
    let mut wallet = Wallet {
        owner: "judy".into(),
        balance: 5,
    };
    assert_eq!(wallet.credit(3).await, Ok(8));
    assert!(wallet.credit(-1).await.is_err());
    audit.assert_exactly(&[
        Expect::action("wallet.credit")
            .actor("judy")
            .before(serde_json::json!(5))
            .after(serde_json::json!(8))
            .success(),
        Expect::action("wallet.credit")
            .before(serde_json::json!(8))
            .after(serde_json::json!(8))
            .failure()
            .reason("negative credit"),
    ]);
}

/// A `macro_rules!` that writes audited functions around what its caller
/// passes: a body, and an `after` expression.
macro_rules! audited_operation {
    ($name:ident($input:ident), $action:literal, after = $after:expr, $body:block) => {
        #[audited(action = $action, after = $after)]
        fn $name($input: u32) -> u32 $body
    };
}

audited_operation!(
    doubled(input),
    "macro.doubled",
    after = |ret: &u32| *ret + 1,
    {
        let factor = 2;
        input * factor
    }
);

audited_operation!(tripled(input), "macro.tripled", after = "constant state", {
    input * 3
});

#[test]
fn functions_written_by_macro_rules_are_recorded() {
    let audit = capture();
    assert_eq!(doubled(2), 4);
    assert_eq!(tripled(2), 6);
    audit.assert_exactly(&[
        // The closure passed as `$after:expr` is called, not recorded as a value.
        Expect::action("macro.doubled").after(serde_json::json!(5)),
        Expect::action("macro.tripled").after(serde_json::json!("constant state")),
    ]);
}

async fn load_title(id: u64) -> String {
    tokio::task::yield_now().await;
    format!("post {id}")
}

/// Decision: in an `async fn`, `before` and `after` may `.await`.
#[audited(
    action = "post.rename",
    resource = id,
    before = load_title(id).await,
    after = |_| load_title(id + 1).await,
)]
async fn rename_post(id: u64) -> Result<(), String> {
    Ok(())
}

#[tokio::test]
async fn before_and_after_may_await_in_an_async_fn() {
    let audit = capture();
    rename_post(4).await.unwrap();
    audit.assert_one(
        &Expect::action("post.rename")
            .resource("4")
            .before(serde_json::json!("post 4"))
            .after(serde_json::json!("post 5")),
    );
}

#[derive(Debug)]
struct UserId(u64);

/// `?value` records `Debug`, `%value` `Display`, as `tracing` writes them.
#[audited(action = "shape.sigils", actor = ?user, resource = %id, fields(ticket = ?Some("T-1")))]
fn sigils(user: UserId, id: u64) {
    let _ = user.0;
    let _ = id;
}

#[test]
fn values_may_be_recorded_with_debug_or_display_as_in_tracing() {
    let audit = capture();
    sigils(UserId(7), 8);
    audit.assert_one(
        &Expect::action("shape.sigils")
            .actor("UserId(7)")
            .resource("8")
            .context("ticket", "Some(\"T-1\")"),
    );
}
