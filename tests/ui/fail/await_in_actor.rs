use audit_layer::audited;

async fn current_user() -> String {
    "alice".into()
}

#[audited(actor = current_user().await)]
async fn update() {}

fn main() {}
