//! Domain types. Every value a handler touches is parsed into one of these first,
//! so the rest of the code never has to ask "is this valid?".

mod birth_date;
mod greeting;
mod username;

pub use birth_date::{BirthDate, BirthDateError, IsoDate, IsoDateError};
pub use greeting::{Greeting, days_until_next_birthday};
pub use username::{Username, UsernameError};
