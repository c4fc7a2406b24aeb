//! `dynamodb://TABLE`: which table.

use std::fmt;
use std::str::FromStr;

/// The table a `dynamodb://` URL names. Region, credentials and endpoint come from the
/// standard AWS chain, not from the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    name: String,
}

impl Table {
    pub fn name(&self) -> &str {
        &self.name
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ - .)")]
pub struct BadTableName(String);

impl FromStr for Table {
    type Err = BadTableName;

    /// `name` is what follows `dynamodb://`.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        if !is_table_name(name) {
            return Err(BadTableName(name.to_owned()));
        }
        Ok(Self {
            name: name.to_owned(),
        })
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

fn is_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_table_names_and_refuses_anything_else() {
        assert_eq!("users-prod".parse::<Table>().unwrap().name(), "users-prod");
        for bad in ["", "ab", "a/b", "users prod", &"x".repeat(256)] {
            assert!(bad.parse::<Table>().is_err(), "{bad:?}");
        }
    }
}
