use audit_layer::audited;

#[audited(actr = user)]
fn publish(_user: &str) {}

fn main() {}
