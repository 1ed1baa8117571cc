//! Building `queryFilter` values: `Field eq 'value'`, with a quote inside doubled (the
//! convention third-party clients use; Dinero does not document an escape).

pub fn eq(field: &str, value: &str) -> String {
    format!("{field} eq '{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_inside_values_are_doubled() {
        assert_eq!(super::eq("Name", "O'Brien"), "Name eq 'O''Brien'");
        assert_eq!(super::eq("Email", "a@b.dk"), "Email eq 'a@b.dk'");
    }
}
