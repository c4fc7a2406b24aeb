//! How a user is laid out as a DynamoDB item.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::BirthDate;
use crate::store::{StoreError, User, decode_birth_date};

/// The partition key.
pub const USERNAME: &str = "username";
pub const DATE_OF_BIRTH: &str = "dateOfBirth";
/// When the item was last written (RFC 3339), for operators; the service never reads it.
pub const UPDATED_AT: &str = "updatedAt";

pub fn encode(user: &User, updated_at: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            USERNAME.to_owned(),
            AttributeValue::S(user.username.as_str().to_owned()),
        ),
        (
            DATE_OF_BIRTH.to_owned(),
            AttributeValue::S(user.birth_date.to_string()),
        ),
        (
            UPDATED_AT.to_owned(),
            AttributeValue::S(updated_at.to_owned()),
        ),
    ])
}

fn string_attribute<'a>(
    item: &'a HashMap<String, AttributeValue>,
    name: &str,
) -> Result<&'a str, StoreError> {
    item.get(name)
        .and_then(|value| value.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| StoreError::failed(format!("stored item has no string attribute {name}")))
}

pub fn birth_date(item: &HashMap<String, AttributeValue>) -> Result<BirthDate, StoreError> {
    decode_birth_date(string_attribute(item, DATE_OF_BIRTH)?)
}

pub fn user(item: &HashMap<String, AttributeValue>) -> Result<User, StoreError> {
    User::decode(
        string_attribute(item, USERNAME)?,
        string_attribute(item, DATE_OF_BIRTH)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{IsoDate, Username};

    #[test]
    fn an_encoded_user_decodes_to_itself() {
        let alice = User {
            username: Username::parse("alice").unwrap(),
            birth_date: BirthDate::recorded(IsoDate::parse("1990-05-01").unwrap()),
        };
        let item = encode(&alice, "2026-12-02T10:00:00.000Z");
        assert_eq!(user(&item).unwrap(), alice);
        assert_eq!(birth_date(&item).unwrap(), alice.birth_date);
        assert_eq!(item[UPDATED_AT].as_s().unwrap(), "2026-12-02T10:00:00.000Z");
    }

    #[test]
    fn an_item_missing_an_attribute_is_a_store_fault() {
        let mut item = encode(
            &User {
                username: Username::parse("bob").unwrap(),
                birth_date: BirthDate::recorded(IsoDate::parse("1991-02-03").unwrap()),
            },
            "t",
        );
        item.remove(DATE_OF_BIRTH);
        assert!(matches!(user(&item), Err(StoreError::Failed(_))));
    }
}
