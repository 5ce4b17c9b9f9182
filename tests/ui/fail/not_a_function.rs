use audit_layer::audited;

#[audited]
struct Post;

fn main() {}
