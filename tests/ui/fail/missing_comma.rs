use audit_layer::audited;

#[audited(actor = user resource = id)]
fn publish(_user: &str, _id: u64) {}

fn main() {}
