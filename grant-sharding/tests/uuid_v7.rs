//! UUIDv7: version, embedded time, and order within a generator and a process.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use grant_sharding::id::{uuid_v7, Clock, SystemClock, UuidV7};
use uuid::Uuid;

fn unix_ms(uuid: Uuid) -> u64 {
    let (secs, nanos) = uuid
        .get_timestamp()
        .expect("a v7 UUID has a timestamp")
        .to_unix();
    secs * 1_000 + u64::from(nanos / 1_000_000)
}

#[test]
fn uuids_are_unique_and_increasing_per_thread_across_four_threads() {
    let ids = Arc::new(UuidV7::new());
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let ids = Arc::clone(&ids);
            thread::spawn(move || (0..50_000).map(|_| ids.next_uuid()).collect::<Vec<_>>())
        })
        .collect();
    let mut all = HashSet::new();
    for handle in handles {
        let batch = handle.join().expect("generator thread panicked");
        assert!(batch.windows(2).all(|w| w[0] < w[1]), "not increasing");
        assert!(batch.iter().all(|u| u.get_version_num() == 7));
        all.extend(batch);
    }
    assert_eq!(all.len(), 200_000, "duplicate UUIDs");
}

#[test]
fn the_process_wide_helper_is_increasing_across_threads() {
    let before = SystemClock.now_ms();
    let handles: Vec<_> = (0..4)
        .map(|_| thread::spawn(|| (0..10_000).map(|_| uuid_v7()).collect::<Vec<_>>()))
        .collect();
    let mut all = HashSet::new();
    for handle in handles {
        let batch = handle.join().expect("generator thread panicked");
        assert!(batch.windows(2).all(|w| w[0] < w[1]), "not increasing");
        all.extend(batch);
    }
    assert_eq!(all.len(), 40_000);
    let first = all.iter().min().copied().expect("non-empty");
    assert!(unix_ms(first) >= before);
}

#[test]
fn the_clock_is_embedded_and_going_backwards_keeps_order() {
    let now = Arc::new(AtomicU64::new(1_700_000_000_000));
    let ids = UuidV7::new().with_clock(Arc::clone(&now));
    let first = ids.next_uuid();
    assert_eq!(unix_ms(first), 1_700_000_000_000);

    now.store(1_699_999_999_000, Ordering::SeqCst); // one second back
    let mut last = first;
    for _ in 0..1_000 {
        let next = ids.next_uuid();
        assert!(next > last);
        // The timestamp stays at the latest millisecond seen.
        assert_eq!(unix_ms(next), 1_700_000_000_000);
        last = next;
    }

    now.store(1_700_000_000_500, Ordering::SeqCst);
    let later = ids.next_uuid();
    assert!(later > last);
    assert_eq!(unix_ms(later), 1_700_000_000_500);
}
