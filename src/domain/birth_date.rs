use std::fmt;

use chrono::{Datelike, NaiveDate};

/// A real calendar date written strictly as `YYYY-MM-DD`.
///
/// Strict on purpose: `1990-1-1` or a full timestamp is a client bug we want to surface,
/// not guess at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct IsoDate(NaiveDate);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IsoDateError {
    #[error("date must be written as YYYY-MM-DD, e.g. 1990-05-01")]
    Format,
    #[error("date {0} does not exist in the calendar")]
    NoSuchDay(String),
}

impl IsoDate {
    pub fn parse(text: &str) -> Result<Self, IsoDateError> {
        let [year, month, day] = split_iso(text).ok_or(IsoDateError::Format)?;
        NaiveDate::from_ymd_opt(year as i32, month, day)
            .map(Self)
            .ok_or_else(|| IsoDateError::NoSuchDay(text.to_owned()))
    }

    pub fn as_naive(self) -> NaiveDate {
        self.0
    }

    /// A date read back from a store that keeps dates as dates: fine if it can be written
    /// as `YYYY-MM-DD`, i.e. its year is 0000 to 9999.
    pub fn from_naive(date: NaiveDate) -> Result<Self, IsoDateError> {
        if (0..=9999).contains(&date.year()) {
            Ok(Self(date))
        } else {
            Err(IsoDateError::Format)
        }
    }
}

/// Splits `YYYY-MM-DD` into its numbers, or `None` if the shape is off in any way.
fn split_iso(text: &str) -> Option<[u32; 3]> {
    let bytes = text.as_bytes();
    let shape_ok = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shape_ok {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<u32>().ok();
    Some([number(0..4)?, number(5..7)?, number(8..10)?])
}

impl TryFrom<String> for IsoDate {
    type Error = IsoDateError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl fmt::Display for IsoDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

/// A date of birth: a real date strictly before the day it was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BirthDate(IsoDate);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BirthDateError {
    #[error("dateOfBirth must be before today ({today})")]
    NotInPast { today: IsoDate },
}

impl BirthDate {
    /// Accepts `date` as a birth date if it lies strictly before `today`.
    pub fn new(date: IsoDate, today: NaiveDate) -> Result<Self, BirthDateError> {
        if date.as_naive() < today {
            Ok(Self(date))
        } else {
            Err(BirthDateError::NotInPast {
                today: IsoDate(today),
            })
        }
    }

    /// A birth date read back from a store. It was checked against the clock when it was
    /// written, and time only moves forward, so it is still in the past.
    pub fn recorded(date: IsoDate) -> Self {
        Self(date)
    }

    pub fn as_naive(self) -> NaiveDate {
        self.0.as_naive()
    }

    pub fn month(self) -> u32 {
        self.0.as_naive().month()
    }

    pub fn day(self) -> u32 {
        self.0.as_naive().day()
    }
}

impl fmt::Display for BirthDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        IsoDate::parse(text).unwrap().as_naive()
    }

    #[test]
    fn parses_strict_iso_dates() {
        assert_eq!(
            IsoDate::parse("1990-05-01").unwrap().to_string(),
            "1990-05-01"
        );
        assert_eq!(
            IsoDate::parse("2000-02-29").unwrap().to_string(),
            "2000-02-29"
        );
        assert_eq!(
            IsoDate::parse("0001-01-01").unwrap().to_string(),
            "0001-01-01"
        );
    }

    #[test]
    fn rejects_other_shapes() {
        for text in [
            "",
            "1990-1-1",
            "1990-01-1",
            "90-01-01",
            "1990/01/01",
            "1990-01-01T00:00:00Z",
            "1990-01-01 ",
            " 1990-01-01",
            "+990-01-01",
            "1990-+1-01",
            "19900101",
            "1990-01-0١",
        ] {
            assert_eq!(IsoDate::parse(text), Err(IsoDateError::Format), "{text:?}");
        }
    }

    #[test]
    fn rejects_days_the_calendar_lacks() {
        for text in [
            "2021-02-29",
            "2021-13-01",
            "2021-00-10",
            "2021-04-31",
            "1900-02-29",
            "2021-01-00",
        ] {
            assert!(
                matches!(IsoDate::parse(text), Err(IsoDateError::NoSuchDay(_))),
                "{text:?}"
            );
        }
    }

    #[test]
    fn birth_date_must_be_strictly_before_today() {
        let today = day("2026-11-28");
        assert!(BirthDate::new(IsoDate::parse("2026-11-27").unwrap(), today).is_ok());
        assert!(BirthDate::new(IsoDate::parse("2026-11-28").unwrap(), today).is_err());
        assert!(BirthDate::new(IsoDate::parse("2026-11-29").unwrap(), today).is_err());
    }
}
