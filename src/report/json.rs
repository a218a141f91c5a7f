//! JSON output: every command prints one object
//! `{"schema_version": 1, "kind": "<kind>", ...}` whose shape is fixed by
//! `schema/perfwarden-output.v1.schema.json` (JSON Schema 2020-12). Fields may be added
//! within a version; renaming or removing one bumps `schema_version`.

use serde::Serialize;

/// Version of the JSON output documented in the schema file.
pub(crate) const OUTPUT_SCHEMA_VERSION: u32 = 1;

/// The committed JSON Schema of the output.
pub const OUTPUT_SCHEMA: &str = include_str!("../../schema/perfwarden-output.v1.schema.json");

#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    schema_version: u32,
    kind: &'a str,
    #[serde(flatten)]
    body: &'a T,
}

/// Renders `body` as the versioned envelope of `kind`, pretty-printed.
pub fn render<T: Serialize>(kind: &str, body: &T) -> String {
    serde_json::to_string_pretty(&Envelope {
        schema_version: OUTPUT_SCHEMA_VERSION,
        kind,
        body,
    })
    .expect("report serializes")
}
