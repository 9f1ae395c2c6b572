//! The OpenAPI document is generated from the routes; this snapshot makes
//! every change to it a reviewed change. `GRANTFLOW_UPDATE_OPENAPI=1 cargo
//! test -p grantflow-http --test openapi` writes the new document.

/// Given the routes as built, when their OpenAPI document is generated,
/// then it is the checked-in `openapi.json`, byte for byte.
#[test]
fn the_openapi_document_matches_its_snapshot() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    let now = serde_json::to_string_pretty(&grantflow_http::openapi()).expect("JSON") + "\n";
    if std::env::var_os("GRANTFLOW_UPDATE_OPENAPI").is_some() && std::env::var_os("CI").is_none() {
        std::fs::write(&path, &now).expect("write the snapshot");
        return;
    }
    let then = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        then == now,
        "the OpenAPI document changed: review it and run `GRANTFLOW_UPDATE_OPENAPI=1 cargo test -p grantflow-http --test openapi`; the new document is:\n{now}"
    );
}
