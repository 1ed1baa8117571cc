//! Dinero's `queryFilter`: `Field eq 'value'` or `Field contains 'value'`, joined by `;` (AND),
//! values in single quotes (a quote inside is doubled), matched case-insensitively.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operator {
    Eq,
    Contains,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The canonical (PascalCase) field name from the allowed list.
    pub field: &'static str,
    pub operator: Operator,
    /// Lower-cased for case-insensitive matching.
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError(pub String);

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parse a filter, accepting only the given fields (matched case-insensitively).
pub fn parse(input: &str, allowed: &[&'static str]) -> Result<Vec<Condition>, FilterError> {
    let mut conditions = Vec::new();
    let mut rest = input.trim();
    if rest.is_empty() {
        return Ok(conditions);
    }
    loop {
        let (condition, after) = parse_condition(rest, allowed)?;
        conditions.push(condition);
        let after = after.trim_start();
        if after.is_empty() {
            return Ok(conditions);
        }
        rest = after
            .strip_prefix(';')
            .ok_or_else(|| FilterError(format!("expected ';' between conditions at '{after}'")))?
            .trim_start();
        if rest.is_empty() {
            return Err(FilterError("a condition must follow ';'".into()));
        }
    }
}

fn parse_condition<'a>(
    input: &'a str,
    allowed: &[&'static str],
) -> Result<(Condition, &'a str), FilterError> {
    let field_end = input.find(char::is_whitespace).ok_or_else(|| {
        FilterError(format!(
            "condition '{input}' must be <Field> <eq|contains> '<value>'"
        ))
    })?;
    let name = &input[..field_end];
    let field = allowed
        .iter()
        .find(|allowed| allowed.eq_ignore_ascii_case(name))
        .copied()
        .ok_or_else(|| {
            FilterError(format!(
                "field '{name}' cannot be filtered on; allowed: {}",
                allowed.join(", ")
            ))
        })?;
    let rest = input[field_end..].trim_start();
    let operator_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let operator = match rest[..operator_end].to_ascii_lowercase().as_str() {
        "eq" => Operator::Eq,
        "contains" => Operator::Contains,
        other => {
            return Err(FilterError(format!(
                "unknown operator '{other}'; use eq or contains"
            )))
        }
    };
    let rest = rest[operator_end..].trim_start();
    let mut chars = rest.char_indices();
    if !matches!(chars.next(), Some((_, '\''))) {
        return Err(FilterError(format!(
            "the value of '{field}' must be in single quotes"
        )));
    }
    let mut value = String::new();
    let mut chars = chars.peekable();
    while let Some((index, c)) = chars.next() {
        if c != '\'' {
            value.push(c);
            continue;
        }
        if matches!(chars.peek(), Some((_, '\''))) {
            chars.next();
            value.push('\'');
            continue;
        }
        let condition = Condition {
            field,
            operator,
            value: value.to_lowercase(),
        };
        return Ok((condition, &rest[index + 1..]));
    }
    Err(FilterError(format!(
        "unterminated quote in the value of '{field}'"
    )))
}

/// Whether a record matches all conditions; `lookup` gives a field's value as text.
pub fn matches<'a>(conditions: &[Condition], lookup: impl Fn(&str) -> Option<&'a str>) -> bool {
    conditions.iter().all(|condition| {
        let actual = lookup(condition.field).map(str::to_lowercase);
        match (&condition.operator, actual) {
            (Operator::Eq, Some(actual)) => actual == condition.value,
            (Operator::Eq, None) => condition.value.is_empty(),
            (Operator::Contains, Some(actual)) => actual.contains(&condition.value),
            (Operator::Contains, None) => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[&str] = &["ExternalReference", "Email", "Name", "IsPerson"];

    #[test]
    fn parses_and_joined_conditions_case_insensitively() {
        let parsed = parse(
            "email eq 'Anna@Example.de'; Name contains 'schmidt'",
            FIELDS,
        )
        .unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].field, "Email");
        assert_eq!(parsed[0].value, "anna@example.de");
        assert_eq!(parsed[1].operator, Operator::Contains);
    }

    #[test]
    fn doubled_quotes_and_separators_inside_values() {
        let parsed = parse("Name eq 'O''Brien; Sons'", FIELDS).unwrap();
        assert_eq!(parsed[0].value, "o'brien; sons");
    }

    #[test]
    fn bad_filters_are_rejected_with_a_reason() {
        for bad in [
            "Email",
            "Email eq anna",
            "Email like 'x'",
            "Street eq 'x'",
            "Email eq 'x",
            "Email eq 'x' Name eq 'y'",
            "Email eq 'x';",
        ] {
            assert!(parse(bad, FIELDS).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn matching_is_case_insensitive_and_and_joined() {
        let parsed = parse("Email eq 'A@B.DK';Name contains 'ann'", FIELDS).unwrap();
        let record = |field: &str| match field {
            "Email" => Some("a@b.dk"),
            "Name" => Some("Joanna"),
            _ => None,
        };
        assert!(matches(&parsed, record));
        let other = |field: &str| {
            if field == "Email" {
                Some("a@b.dk")
            } else {
                Some("Bo")
            }
        };
        assert!(!matches(&parsed, other));
    }
}
