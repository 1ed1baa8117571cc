//! The bundled OpenAPI document (an abridged copy of Dinero's own) and validators for the
//! request and response bodies of each operation, for `--validate-spec` and for tests.

use std::collections::HashMap;

use jsonschema::Validator;
use serde_json::{json, Value};

/// Dinero's OpenAPI document as transcribed in `../shared/dinero/dinero-openapi.json`.
pub const OPENAPI: &str = include_str!("../spec/dinero-openapi.json");

struct Operation {
    request: Option<Validator>,
    response: Option<Validator>,
}

/// Validators keyed by (METHOD, path template), e.g. ("POST", "/v1/{organizationId}/invoices").
pub struct Spec {
    operations: HashMap<(String, String), Operation>,
}

impl Spec {
    pub fn load() -> Self {
        let document: Value = serde_json::from_str(OPENAPI).expect("bundled OpenAPI is JSON");
        let components = document["components"].clone();
        let compile = |schema: &Value| -> Option<Validator> {
            let mut root = schema.clone();
            root.as_object_mut()?
                .insert("components".into(), components.clone());
            Some(jsonschema::validator_for(&root).expect("bundled schemas compile"))
        };
        let mut operations = HashMap::new();
        for (path, item) in document["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                let request = op
                    .pointer("/requestBody/content")
                    .and_then(first_schema)
                    .and_then(&compile);
                let response = op
                    .pointer("/responses/200/content")
                    .and_then(first_schema)
                    .and_then(&compile);
                operations.insert(
                    (method.to_uppercase(), path.clone()),
                    Operation { request, response },
                );
            }
        }
        Spec { operations }
    }

    pub fn has_operation(&self, method: &str, path: &str) -> bool {
        self.operations
            .contains_key(&(method.to_owned(), path.to_owned()))
    }

    /// Problems with a request body, empty when it conforms or the operation takes none.
    pub fn check_request(&self, method: &str, path: &str, body: &Value) -> Vec<String> {
        self.check(method, path, body, |op| op.request.as_ref())
    }

    /// Problems with a response body. Projected items (`fields`) cannot match the item schemas
    /// (they carry only the requested properties, spelled as requested), so for projected
    /// arrays and for every `Collection` (lists always project, by default or on request)
    /// only the envelope is checked.
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        body: &Value,
        projected: bool,
    ) -> Vec<String> {
        let mut body = body.clone();
        if let (true, Value::Array(items)) = (projected, &mut body) {
            items.clear();
        }
        if let Value::Object(map) = &mut body {
            if map.contains_key("Collection") {
                map.insert("Collection".into(), json!([]));
            }
        }
        self.check(method, path, &body, |op| op.response.as_ref())
    }

    fn check(
        &self,
        method: &str,
        path: &str,
        body: &Value,
        pick: impl Fn(&Operation) -> Option<&Validator>,
    ) -> Vec<String> {
        let Some(validator) = self
            .operations
            .get(&(method.to_owned(), path.to_owned()))
            .and_then(pick)
        else {
            return Vec::new();
        };
        validator
            .iter_errors(body)
            .map(|error| format!("{method} {path}: {} at '{}'", error, error.instance_path()))
            .collect()
    }
}

fn first_schema(content: &Value) -> Option<&Value> {
    let content = content.as_object()?;
    content
        .get("application/json")
        .or_else(|| content.values().next())
        .and_then(|media| media.get("schema"))
}
