//! Identifiers checked once, where they come in: a `TenantId` in hand is a plain identifier
//! that is safe in URLs, Kafka keys, SQL parameters and Dinero references.

use std::fmt;

/// A shop: 1-64 of `A-Z a-z 0-9 _ -`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TenantId(String);

impl TenantId {
    pub fn parse(text: &str) -> Option<TenantId> {
        is_identifier(text).then(|| TenantId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An order of a shop, as the shop names it: 1-100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrderId(String);

impl OrderId {
    pub fn parse(text: &str) -> Option<OrderId> {
        is_plain_text(text, 100).then(|| OrderId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An event, as its sender names it: 1-200 characters, no control characters. A resend keeps
/// it, which is how a duplicate is known.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(String);

impl EventId {
    pub fn parse(text: &str) -> Option<EventId> {
        is_plain_text(text, 200).then(|| EventId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Tenant ids travel in URLs, Kafka keys and Dinero references: keep them plain.
pub fn is_identifier(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// 1..=`max` characters with something other than spaces and no control characters (a NUL
/// cannot even be stored by PostgreSQL).
pub fn is_plain_text(text: &str, max: usize) -> bool {
    !text.trim().is_empty() && text.chars().count() <= max && !text.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_once_at_the_edge() {
        assert!(TenantId::parse("shop_1-a").is_some());
        for bad in ["", "a/b", "../x", "shop\0", "a b", &"x".repeat(65)] {
            assert!(TenantId::parse(bad).is_none(), "{bad:?}");
        }
        assert!(OrderId::parse("#1001 (web)").is_some());
        assert!(EventId::parse("msg_2Zb.1").is_some());
        assert!(EventId::parse(&"e".repeat(201)).is_none());
        for bad in ["", "  ", "1\u{0}", "a\nb", &"9".repeat(101)] {
            assert!(OrderId::parse(bad).is_none(), "{bad:?}");
        }
    }
}
