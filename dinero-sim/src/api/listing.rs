//! What list endpoints share: `fields` projection (names come back spelled as requested),
//! `page`/`pageSize` paging and the `Collection` + `Pagination` envelope.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::model::{Collection, Pagination};

pub const MAX_PAGE_SIZE: usize = 1000;

pub type Params = HashMap<String, String>;

/// A query parameter, matched case-insensitively like ASP.NET model binding.
pub fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
        .filter(|value| !value.is_empty())
}

pub fn bool_param(params: &Params, name: &str) -> ApiResult<Option<bool>> {
    param(params, name)
        .map(|value| {
            value
                .to_ascii_lowercase()
                .parse()
                .map_err(|_| ApiError::field(name, format!("'{value}' is not true or false")))
        })
        .transpose()
}

/// The requested field names, or the endpoint's default list.
pub fn fields(params: &Params, default: &str) -> Vec<String> {
    param(params, "fields")
        .unwrap_or(default)
        .split(',')
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .collect()
}

/// Keep only the requested properties, under the requested spelling.
pub fn project(full: &Value, fields: &[String]) -> Value {
    let Value::Object(full) = full else {
        return full.clone();
    };
    let mut out = Map::new();
    for name in fields {
        if let Some((_, value)) = full.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)) {
            out.insert(name.clone(), value.clone());
        }
    }
    Value::Object(out)
}

/// Page the filtered rows and wrap them in Dinero's envelope.
pub fn page(
    params: &Params,
    rows: Vec<Value>,
    without_filter: usize,
    fields: &[String],
) -> ApiResult<Collection> {
    let number = |name: &str, default: usize| -> ApiResult<usize> {
        param(params, name)
            .map(|v| {
                v.parse()
                    .map_err(|_| ApiError::field(name, format!("'{v}' is not a number")))
            })
            .transpose()
            .map(|v| v.unwrap_or(default))
    };
    let page = number("page", 0)?;
    let page_size = number("pageSize", 100)?;
    if page_size == 0 || page_size > MAX_PAGE_SIZE {
        return Err(ApiError::field(
            "pageSize",
            format!("must be from 1 to {MAX_PAGE_SIZE}"),
        ));
    }
    let result = rows.len();
    let collection = rows
        .into_iter()
        .skip(page.saturating_mul(page_size))
        .take(page_size)
        .map(|row| project(&row, fields))
        .collect();
    Ok(Collection {
        collection,
        pagination: Pagination {
            max_page_size_allowed: MAX_PAGE_SIZE as i32,
            page_size: page_size as i32,
            result: result as i32,
            result_without_filter: without_filter as i32,
            page: page as i32,
        },
    })
}

/// `changesSince` as UTC `YYYY-MM-DDTHH:mm:ssZ`.
pub fn changes_since(params: &Params) -> ApiResult<Option<chrono::DateTime<chrono::Utc>>> {
    param(params, "changesSince")
        .map(|text| {
            chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|_| ApiError::field("changesSince", "must be YYYY-MM-DDTHH:mm:ssZ"))
        })
        .transpose()
}
