use audit_layer::audited;

#[audited(actor)]
fn publish(_user: &str) {}

fn main() {}
