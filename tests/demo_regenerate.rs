//! Regenerates the committed demo fixtures after a deliberate generator change:
//! `cargo test --test demo_regenerate -- --ignored`. `demo_city.rs` checks they are up to date.

#[test]
#[ignore = "writes into tests/fixtures; run by hand after changing the generator"]
fn regenerate_fixtures() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    brandpunt::demo::write_fixtures(&dir).unwrap();
}
