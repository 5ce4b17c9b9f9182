use audit_layer::audited;

struct User;

#[audited(actor = user)]
fn publish(user: User) {}

fn main() {}
