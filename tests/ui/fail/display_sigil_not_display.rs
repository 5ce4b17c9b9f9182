use audit_layer::audited;

#[derive(Debug)]
struct UserId(u64);

#[audited(actor = %user)]
fn publish(user: UserId) {}

fn main() {}
