//! Regenerates the committed demo fixtures after a deliberate generator change:
//! `cargo test --test cli regenerate_fixtures -- --ignored`. `demo_city.rs` checks they are up to date.

#[test]
#[ignore = "writes into tests/fixtures; run by hand after changing the generator"]
fn regenerate_fixtures() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    brandpunt::demo::write_fixtures(&dir).unwrap();
}

#[test]
#[ignore = "writes the default demo city (~40k addresses, 104 weeks) into $DEMO_DIR for the Python oracle"]
fn generate_default_city() {
    let dir = std::env::var("DEMO_DIR").unwrap_or_else(|_| "/tmp/demo-default".to_string());
    brandpunt::demo::generate(
        std::path::Path::new(&dir),
        &brandpunt::demo::DemoConfig::default(),
    )
    .unwrap();
}
