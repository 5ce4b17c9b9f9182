use audit_layer::audited;

#[audited(fields(actor = user))]
fn publish(_user: &str) {}

fn main() {}
