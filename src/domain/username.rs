use std::fmt;

/// Longest accepted username. Bounded so a key always fits comfortably in any store
/// and a log line, and so a client cannot make us hash or store megabytes.
pub const MAX_USERNAME_LEN: usize = 64;

/// A username: 1 to 64 ASCII letters, case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Username(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error("username must not be empty")]
    Empty,
    #[error("username must be at most {MAX_USERNAME_LEN} letters long")]
    TooLong,
    #[error("username must contain only the letters A-Z and a-z")]
    NotLetters,
}

impl Username {
    pub fn parse(candidate: impl Into<String>) -> Result<Self, UsernameError> {
        let candidate = candidate.into();
        if candidate.is_empty() {
            return Err(UsernameError::Empty);
        }
        if !candidate.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(UsernameError::NotLetters);
        }
        if candidate.len() > MAX_USERNAME_LEN {
            return Err(UsernameError::TooLong);
        }
        Ok(Self(candidate))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Username {
    type Error = UsernameError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ascii_letters_of_any_case() {
        for name in ["a", "Alice", "ALICE", "bOb", &"z".repeat(MAX_USERNAME_LEN)] {
            assert_eq!(Username::parse(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn keeps_case_so_names_differing_in_case_are_different_users() {
        assert_ne!(
            Username::parse("alice").unwrap(),
            Username::parse("Alice").unwrap()
        );
    }

    #[test]
    fn rejects_empty() {
        assert_eq!(Username::parse(""), Err(UsernameError::Empty));
    }

    #[test]
    fn rejects_longer_than_the_limit() {
        let name = "a".repeat(MAX_USERNAME_LEN + 1);
        assert_eq!(Username::parse(name), Err(UsernameError::TooLong));
    }

    #[test]
    fn rejects_anything_but_ascii_letters() {
        for name in [
            "al1ce",
            "al-ice",
            "al ice",
            "al_ice",
            "élodie",
            "ａｌｉｃｅ",
            "alice\n",
            "a.b",
            "%41",
        ] {
            assert_eq!(
                Username::parse(name),
                Err(UsernameError::NotLetters),
                "{name:?}"
            );
        }
    }
}
