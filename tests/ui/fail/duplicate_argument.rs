use audit_layer::audited;

#[audited(actor = a, actor = b)]
fn publish(_a: &str, _b: &str) {}

fn main() {}
