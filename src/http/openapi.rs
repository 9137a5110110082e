//! The served OpenAPI description: what utoipa derives from the routes, completed where the
//! derivation falls short of what the service answers.

use serde_json::{Map, Value};
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::Response;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, ResponseBuilder};

/// The description as `GET /openapi.json` serves it.
pub fn render(mut api: OpenApi) -> String {
    super::auth::document(&mut api);
    error_responses(&mut api);
    let mut spec = serde_json::to_value(&api).unwrap_or_default();
    merge_tagged_variants(&mut spec);
    spec.to_string()
}

/// An answer in the contract's error body, described.
fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

/// The operations of a path, whatever their method.
pub(super) fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

/// Adds the answer `code` to `op`, described, unless it is there already.
pub(super) fn answers(op: &mut Operation, code: &str, description: &str) {
    op.responses
        .responses
        .entry(code.into())
        .or_insert_with(|| error_response(description).into());
}

/// The errors any operation may answer, in the contract's error body: 400 for a query or body
/// that does not parse and 422 for one that does not validate; 404 where the path names
/// something; 413 where there is a body.
fn error_responses(api: &mut OpenApi) {
    for (path, item) in api.paths.paths.iter_mut() {
        for op in operations(item) {
            let takes_input =
                op.request_body.is_some() || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
            if takes_input {
                answers(op, "400", "A query or body that does not parse");
                answers(
                    op,
                    "422",
                    "A query or body that does not validate; `field` names it",
                );
            }
            if path.contains('{') {
                answers(op, "404", "Nothing by that id");
            }
            if op.request_body.is_some() {
                answers(op, "413", "A body larger than the limit");
            }
        }
    }
}

/// A serde internally tagged enum of structs that refuse unknown fields comes out of utoipa as
/// `oneOf: [{allOf: [{$ref: X}, {properties: {kind}}]}, ...]`, where X says
/// `additionalProperties: false`: X refuses the `kind` its sibling requires, so no value
/// passes. Each such branch becomes one object with X's properties and `kind`.
fn merge_tagged_variants(spec: &mut Value) {
    let Some(schemas) = spec
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let originals = schemas.clone();
    for schema in schemas.values_mut() {
        let Some(branches) = schema.get_mut("oneOf").and_then(Value::as_array_mut) else {
            continue;
        };
        for branch in branches {
            if let Some(merged) = merged_branch(branch, &originals) {
                *branch = merged;
            }
        }
    }
}

fn merged_branch(branch: &Value, schemas: &Map<String, Value>) -> Option<Value> {
    let [a, b] = branch.get("allOf")?.as_array()?.as_slice() else {
        return None;
    };
    let (reference, tag) = if a.get("$ref").is_some() {
        (a, b)
    } else {
        (b, a)
    };
    let name = reference["$ref"]
        .as_str()?
        .strip_prefix("#/components/schemas/")?;
    let mut merged = schemas.get(name)?.as_object()?.clone();
    let properties = merged
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()?;
    properties.extend(tag.get("properties")?.as_object()?.clone());
    let required = merged
        .entry("required")
        .or_insert_with(|| Value::Array(Vec::new()))
        .as_array_mut()?;
    for r in tag
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if !required.contains(r) {
            required.push(r.clone());
        }
    }
    Some(Value::Object(merged))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_tagged_variant_of_a_closed_struct_becomes_one_object_a_value_can_match() {
        let mut spec = json!({"components": {"schemas": {
            "A": {"type": "object", "required": ["x"], "properties": {"x": {"type": "number"}},
                  "additionalProperties": false},
            "Rule": {"oneOf": [{"allOf": [
                {"$ref": "#/components/schemas/A"},
                {"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string", "enum": ["a"]}}}
            ]}]}
        }}});
        merge_tagged_variants(&mut spec);
        assert_eq!(
            spec["components"]["schemas"]["Rule"]["oneOf"][0],
            json!({"type": "object", "required": ["x", "kind"],
                   "properties": {"x": {"type": "number"}, "kind": {"type": "string", "enum": ["a"]}},
                   "additionalProperties": false})
        );
    }
}
