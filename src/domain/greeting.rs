use std::fmt::{self, Write as _};

use chrono::{Datelike, NaiveDate};

use super::username::MAX_USERNAME_LEN;
use super::{BirthDate, Username};

/// Whole calendar days from `today` to the next time the birthday comes round:
/// 0 on the day itself, 1 the day before, up to 365.
///
/// Someone born on 29 February celebrates on 28 February in common years.
pub fn days_until_next_birthday(birth: BirthDate, today: NaiveDate) -> u32 {
    let this_year = birthday_in_year(birth, today.year());
    let next = if this_year >= today {
        this_year
    } else {
        birthday_in_year(birth, today.year() + 1)
    };
    // At most 366 days apart, so the conversion cannot truncate.
    (next - today).num_days() as u32
}

fn birthday_in_year(birth: BirthDate, year: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, birth.month(), birth.day())
        // Only 29 February can be missing from a year; its stand-in is the 28th.
        .or_else(|| NaiveDate::from_ymd_opt(year, 2, 28))
        .expect("28 February exists in every year the clock can report")
}

/// What `GET /hello/{username}` says. The wording is a public contract: keep it byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    username: Username,
    days_left: u32,
}

impl Greeting {
    pub fn new(username: Username, birth: BirthDate, today: NaiveDate) -> Self {
        Self {
            username,
            days_left: days_until_next_birthday(birth, today),
        }
    }
}

impl Greeting {
    /// The message in a string allocated once: the longest name and wording fit.
    pub fn message(&self) -> String {
        let mut message = String::with_capacity(MAX_USERNAME_LEN + 48);
        // Writing into a String cannot fail.
        let _ = write!(message, "{self}");
        message
    }
}

impl fmt::Display for Greeting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.days_left {
            0 => write!(f, "Hello, {}! Happy birthday!", self.username),
            n => write!(
                f,
                "Hello, {}! Your birthday is in {n} day(s)",
                self.username
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::IsoDate;

    fn date(text: &str) -> NaiveDate {
        IsoDate::parse(text).unwrap().as_naive()
    }

    fn born(text: &str) -> BirthDate {
        BirthDate::recorded(IsoDate::parse(text).unwrap())
    }

    fn days(birth: &str, today: &str) -> u32 {
        days_until_next_birthday(born(birth), date(today))
    }

    #[test]
    fn counts_whole_calendar_days() {
        assert_eq!(days("1990-05-01", "2026-05-01"), 0);
        assert_eq!(days("1990-05-01", "2026-04-30"), 1);
        assert_eq!(days("1990-05-01", "2026-04-01"), 30);
        assert_eq!(days("1990-05-01", "2026-05-02"), 364);
        assert_eq!(
            days("1990-05-01", "2027-05-02"),
            365,
            "next year 2028 is leap"
        );
    }

    #[test]
    fn crosses_month_and_year_ends() {
        assert_eq!(days("1990-02-01", "2026-01-31"), 1);
        assert_eq!(days("1990-01-01", "2026-12-31"), 1);
        assert_eq!(days("1990-12-31", "2026-01-01"), 364);
        assert_eq!(days("1990-01-01", "2026-01-02"), 364);
        assert_eq!(days("1990-03-01", "2028-02-28"), 2, "through 29 February");
        assert_eq!(days("1990-03-01", "2027-02-28"), 1);
    }

    #[test]
    fn leap_day_birthdays_fall_on_28_february_in_common_years() {
        assert_eq!(days("2000-02-29", "2027-02-28"), 0);
        assert_eq!(days("2000-02-29", "2027-03-01"), 365);
        assert_eq!(days("2000-02-29", "2028-02-28"), 1);
        assert_eq!(days("2000-02-29", "2028-02-29"), 0);
        assert_eq!(days("2000-02-29", "2028-03-01"), 364);
        assert_eq!(days("2000-02-29", "2026-11-28"), 92);
    }

    #[test]
    fn message_wording_is_exact() {
        let alice = Username::parse("Alice").unwrap();
        let birthday = Greeting::new(alice.clone(), born("1990-11-28"), date("2026-11-28"));
        assert_eq!(birthday.to_string(), "Hello, Alice! Happy birthday!");
        let tomorrow = Greeting::new(alice.clone(), born("1990-11-29"), date("2026-11-28"));
        assert_eq!(
            tomorrow.to_string(),
            "Hello, Alice! Your birthday is in 1 day(s)"
        );
        let later = Greeting::new(alice, born("1990-12-08"), date("2026-11-28"));
        assert_eq!(
            later.to_string(),
            "Hello, Alice! Your birthday is in 10 day(s)"
        );
    }

    #[test]
    fn the_longest_message_fits_the_first_allocation() {
        let longest = Username::parse("z".repeat(MAX_USERNAME_LEN)).unwrap();
        let greeting = Greeting::new(longest, born("1990-11-27"), date("2026-11-28"));
        let message = greeting.message();
        assert_eq!(message, greeting.to_string());
        assert!(message.ends_with("in 364 day(s)"), "{message}");
        assert_eq!(message.capacity(), MAX_USERNAME_LEN + 48);
    }

    #[test]
    fn never_more_than_a_year_away() {
        let mut today = date("2023-01-01");
        while today < date("2029-01-01") {
            for birth in ["2000-02-29", "1999-12-31", "1999-01-01", "1999-03-01"] {
                let n = days_until_next_birthday(born(birth), today);
                assert!(n <= 365, "{birth} on {today}: {n}");
            }
            today = today.succ_opt().unwrap();
        }
    }
}
