use audit_layer::audited;

#[derive(serde::Serialize, Clone)]
struct Post {
    id: u64,
}

struct Request {
    user: String,
    ticket: u32,
    ip: std::net::IpAddr,
}

#[audited(
    action = "post.publish",
    actor = req.user,
    resource = format_args!("post:{}", post.id),
    before = post.clone(),
    after = |ret: &Result<Post, String>| ret.as_ref().ok().map(|p| p.id),
    fields(ticket = req.ticket, source_ip = req.ip),
    level = "warn",
    crate = ::audit_layer,
)]
fn publish(req: &Request, post: Post) -> Result<Post, String> {
    Ok(post)
}

#[audited(action = format!("export.{}", kind), level = tracing::Level::DEBUG, after = kind.len())]
fn export(kind: &str) {}

#[audited]
fn defaults() {}

#[audited()]
fn empty_parens() {}

#[audited(action = "trailing.comma",)]
fn trailing_comma() {}

fn main() {
    let req = Request { user: "alice".into(), ticket: 7, ip: [127, 0, 0, 1].into() };
    publish(&req, Post { id: 1 }).unwrap();
    export("users");
    defaults();
    empty_parens();
    trailing_comma();
}
