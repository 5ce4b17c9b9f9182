use audit_layer::audited;

async fn load() -> u32 {
    1
}

#[audited(before = load().await)]
fn update() {}

fn main() {}
