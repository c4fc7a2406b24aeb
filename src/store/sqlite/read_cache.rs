//! An in-memory cache of point reads that stays correct when several processes share the
//! database file (a rolling deploy on one host, or `import` next to a running server).
//!
//! Every process that opens the database maps the same small file of write counters,
//! `<database>-generations`. After a commit, and before acknowledging it, a writer advances
//! the counter of each key it wrote (keys share [`SLOTS`] counters by hash). A cached answer
//! remembers the value its counter had just before the answer was read from SQLite, and is
//! served only while the counter still has that value. So once a write is acknowledged, no
//! process serves an answer read before it.
//!
//! The file is plain shared memory: counters are atomics, no lock is taken on the read path.
//! Its layout (slot count, hash) is shared by every release that may run side by side; a
//! change must use a new file name.
//!
//! Writes made behind hello-birthday's back (the `sqlite3` shell) do not advance the counters;
//! a running server may then keep serving what it cached until it restarts.

use std::fs::OpenOptions;
use std::hash::Hasher;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use compact_str::CompactString;
use fnv::FnvHasher;
use memmap2::MmapRaw;
use metrics::Counter;

use crate::domain::BirthDate;

/// Enough counters that an update of one user rarely invalidates anyone else's cached answer.
pub const SLOTS: usize = 4096;
const FILE_SIZE: u64 = (SLOTS * size_of::<AtomicU64>()) as u64;

/// The shared write counters of one database file.
pub struct Generations {
    map: MmapRaw,
}

impl Generations {
    pub fn open(database: &Path) -> anyhow::Result<Self> {
        let path = sidecar_path(database);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        // Only ever grown, never shrunk: another process may have it mapped.
        if file.metadata()?.len() < FILE_SIZE {
            file.set_len(FILE_SIZE)
                .with_context(|| format!("cannot size {}", path.display()))?;
        }
        let map =
            MmapRaw::map_raw(&file).with_context(|| format!("cannot map {}", path.display()))?;
        Ok(Self { map })
    }

    fn slots(&self) -> &[AtomicU64] {
        // SAFETY: the mapping is page-aligned, at least FILE_SIZE bytes long (the file is never
        // shrunk), writable, and lives as long as `self`. Every access, from this process or
        // another, goes through atomics, so sharing it is no data race.
        unsafe { std::slice::from_raw_parts(self.map.as_mut_ptr().cast::<AtomicU64>(), SLOTS) }
    }

    fn slot(&self, key: &str) -> &AtomicU64 {
        // FNV, not std's hasher: every process and every release must pick the same slot.
        let mut hasher = FnvHasher::default();
        hasher.write(key.as_bytes());
        let index = usize::try_from(hasher.finish() % SLOTS as u64).expect("below SLOTS");
        &self.slots()[index]
    }

    fn current(&self, key: &str) -> u64 {
        self.slot(key).load(Ordering::Acquire)
    }

    /// Called after a commit that wrote `key` (or may have), before it is acknowledged.
    pub fn advance(&self, key: &str) {
        self.slot(key).fetch_add(1, Ordering::AcqRel);
    }

    /// Invalidates every process's cache. A process that died between a commit and advancing
    /// its counters leaves caches that may miss that write; the next process to open the
    /// database repairs that.
    pub fn advance_all(&self) {
        for slot in self.slots() {
            slot.fetch_add(1, Ordering::AcqRel);
        }
    }
}

fn sidecar_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-generations");
    PathBuf::from(name)
}

/// What the database held for a user (`None`: no such user) at a known counter value.
#[derive(Clone)]
struct Entry {
    birth_date: Option<BirthDate>,
    generation: u64,
}

/// The counter value to remember with an answer, taken before the answer is read.
#[must_use]
pub struct Ticket(u64);

pub struct ReadCache {
    /// Names up to 24 bytes live inside the entry itself: one memory access fewer per lookup.
    entries: quick_cache::sync::Cache<CompactString, Entry>,
    /// Registered on first use: stores are opened before the metrics recorder is installed.
    lookups: OnceLock<Lookups>,
}

struct Lookups {
    hits: Counter,
    misses: Counter,
}

impl ReadCache {
    pub fn new(capacity: NonZeroUsize) -> Self {
        Self {
            entries: quick_cache::sync::Cache::new(capacity.get()),
            lookups: OnceLock::new(),
        }
    }

    fn lookups(&self) -> &Lookups {
        self.lookups.get_or_init(|| Lookups {
            hits: metrics::counter!("store_read_cache_lookups_total", "result" => "hit"),
            misses: metrics::counter!("store_read_cache_lookups_total", "result" => "miss"),
        })
    }

    /// The cached answer for `key`, if nobody has acknowledged a write to it since it was read.
    pub fn get(&self, generations: &Generations, key: &str) -> Option<Option<BirthDate>> {
        let fresh = self
            .entries
            .get(key)
            .filter(|entry| entry.generation == generations.current(key));
        match fresh {
            Some(entry) => {
                self.lookups().hits.increment(1);
                Some(entry.birth_date)
            }
            None => {
                self.lookups().misses.increment(1);
                None
            }
        }
    }

    /// Take this before reading `key` from the database, and hand it to [`ReadCache::insert`].
    pub fn ticket(generations: &Generations, key: &str) -> Ticket {
        Ticket(generations.current(key))
    }

    pub fn insert(&self, key: &str, ticket: Ticket, birth_date: Option<BirthDate>) {
        let entry = Entry {
            birth_date,
            generation: ticket.0,
        };
        self.entries.insert(CompactString::from(key), entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::IsoDate;

    fn date(text: &str) -> Option<BirthDate> {
        Some(BirthDate::recorded(IsoDate::parse(text).unwrap()))
    }

    fn database() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.db");
        (dir, path)
    }

    /// A cache holding alice's answer, read at the counter's current value.
    fn cache_with_alice(generations: &Generations) -> ReadCache {
        let cache = ReadCache::new(NonZeroUsize::new(10).unwrap());
        let ticket = ReadCache::ticket(generations, "alice");
        cache.insert("alice", ticket, date("1990-05-01"));
        cache
    }

    #[test]
    fn an_answer_is_served_until_its_key_is_written() {
        let (_dir, path) = database();
        let generations = Generations::open(&path).unwrap();
        assert_eq!(
            ReadCache::new(NonZeroUsize::new(10).unwrap()).get(&generations, "alice"),
            None
        );

        let cache = cache_with_alice(&generations);
        assert_eq!(cache.get(&generations, "alice"), Some(date("1990-05-01")));

        generations.advance("alice");
        assert_eq!(cache.get(&generations, "alice"), None);
    }

    #[test]
    fn absent_users_are_cached_too() {
        let (_dir, path) = database();
        let generations = Generations::open(&path).unwrap();
        let cache = ReadCache::new(NonZeroUsize::new(10).unwrap());
        cache.insert("bob", ReadCache::ticket(&generations, "bob"), None);
        assert_eq!(cache.get(&generations, "bob"), Some(None));
    }

    #[test]
    fn a_write_acknowledged_during_the_read_keeps_the_answer_out() {
        let (_dir, path) = database();
        let generations = Generations::open(&path).unwrap();
        let cache = ReadCache::new(NonZeroUsize::new(10).unwrap());
        let ticket = ReadCache::ticket(&generations, "alice");
        // The read saw the old value, and a write committed before the answer was cached.
        generations.advance("alice");
        cache.insert("alice", ticket, date("1990-05-01"));
        assert_eq!(cache.get(&generations, "alice"), None);
    }

    #[test]
    fn a_write_by_another_process_invalidates() {
        let (_dir, path) = database();
        // Two mappings of one file share memory exactly as two processes do.
        let ours = Generations::open(&path).unwrap();
        let theirs = Generations::open(&path).unwrap();
        let cache = cache_with_alice(&ours);

        theirs.advance("alice");
        assert_eq!(cache.get(&ours, "alice"), None);
    }

    #[test]
    fn opening_the_database_invalidates_every_cache() {
        let (_dir, path) = database();
        let ours = Generations::open(&path).unwrap();
        let cache = cache_with_alice(&ours);

        Generations::open(&path).unwrap().advance_all();
        assert_eq!(cache.get(&ours, "alice"), None);
    }

    /// The file is shared by releases running side by side: its size, hash and slot order
    /// are frozen. These values were computed outside this code (FNV-1a 64 of the key's
    /// bytes, modulo 4096, one little-endian u64 per slot); if this fails, the layout changed
    /// and needs a new file name.
    #[test]
    fn the_counter_file_layout_is_frozen() {
        let (_dir, path) = database();
        let generations = Generations::open(&path).unwrap();
        let file = sidecar_path(&path);
        assert_eq!(std::fs::metadata(&file).unwrap().len(), 32_768);
        let counter = |slot: usize| {
            let bytes = std::fs::read(&file).unwrap();
            u64::from_le_bytes(bytes[slot * 8..slot * 8 + 8].try_into().unwrap())
        };
        for (key, slot) in [("alice", 2311), ("Bob", 1716)] {
            let before = counter(slot);
            generations.advance(key);
            assert_eq!(counter(slot), before + 1, "{key} lives in slot {slot}");
        }
    }

    #[test]
    fn the_counter_file_is_created_next_to_the_database() {
        let (_dir, path) = database();
        Generations::open(&path).unwrap();
        let sidecar = path.with_file_name("users.db-generations");
        assert_eq!(std::fs::metadata(sidecar).unwrap().len(), FILE_SIZE);
    }
}
