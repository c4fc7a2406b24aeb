//! Usernames for the tests and the load generators: letters only, distinct for every number.
//! The load generators (`tools/src/bin/rollout_load.rs`, `overload_load.rs`) include this file
//! by path, so there is one scheme in Rust; the benchmark (`scripts/harness/bench.py`) writes the
//! same names for wrk to read.

/// `n` in base 26, least significant letter first.
pub fn letters(mut n: u64) -> String {
    let mut out = String::new();
    loop {
        out.push(char::from(b'a' + (n % 26) as u8));
        n /= 26;
        if n == 0 {
            return out;
        }
    }
}

/// A distinct valid username for each `n`: `user` and `n` in letters.
pub fn nth_name(n: usize) -> String {
    format!("user{}", letters(n as u64))
}
