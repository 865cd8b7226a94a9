//! `Snowflake` ids: uniqueness and order across threads, sequence exhaustion, a clock
//! that goes backwards, layout validation, decoding.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use grant_sharding::id::{IdError, Snowflake, SnowflakeLayout, SnowflakeParts};
use proptest::prelude::*;

type TestResult = Result<(), IdError>;

/// A generator on a manual clock, which reads `start` until told otherwise.
fn manual(
    layout: SnowflakeLayout,
    shard: Option<u16>,
    start: u64,
) -> Result<(Snowflake<Arc<AtomicU64>>, Arc<AtomicU64>), IdError> {
    let now = Arc::new(AtomicU64::new(start));
    let ids = Snowflake::new(layout, 1_000, 3, shard)?.with_clock(Arc::clone(&now));
    Ok((ids, now))
}

#[test]
fn ids_are_unique_and_increasing_per_thread_across_four_threads() -> TestResult {
    let ids = Arc::new(Snowflake::new(
        SnowflakeLayout::TWITTER,
        Snowflake::DEFAULT_EPOCH_MS,
        1,
        None,
    )?);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let ids = Arc::clone(&ids);
            thread::spawn(move || -> Result<Vec<i64>, IdError> {
                (0..50_000).map(|_| ids.next_id()).collect()
            })
        })
        .collect();
    let mut all = HashSet::new();
    for handle in handles {
        let batch = handle.join().expect("generator thread panicked")?;
        assert!(batch.windows(2).all(|w| w[0] < w[1]), "not increasing");
        assert!(batch.iter().all(|&id| id > 0));
        all.extend(batch);
    }
    assert_eq!(all.len(), 200_000, "duplicate ids");
    Ok(())
}

#[test]
fn a_used_up_millisecond_waits_for_the_next() -> TestResult {
    // 64 ids per millisecond.
    let layout = SnowflakeLayout {
        timestamp_bits: 41,
        shard_bits: 0,
        worker_bits: 16,
        sequence_bits: 6,
    };
    let (ids, now) = manual(layout, None, 5_000)?;
    let first: Vec<i64> = (0..64).map(|_| ids.next_id()).collect::<Result<_, _>>()?;
    assert_eq!(ids.decode(first[63])?.sequence, 63);

    // The 65th id of millisecond 5000 waits until the clock moves on.
    let ticker = {
        let now = Arc::clone(&now);
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(30));
            now.store(5_001, Ordering::SeqCst);
        })
    };
    let started = Instant::now();
    let next = ids.next_id()?;
    ticker.join().expect("ticker panicked");
    assert!(started.elapsed() >= Duration::from_millis(25));
    let parts = ids.decode(next)?;
    assert_eq!((parts.timestamp_ms, parts.sequence), (5_001, 0));
    assert!(next > first[63]);
    Ok(())
}

#[test]
fn a_clock_that_does_not_advance_is_a_typed_error() -> TestResult {
    let layout = SnowflakeLayout {
        timestamp_bits: 41,
        shard_bits: 0,
        worker_bits: 16,
        sequence_bits: 6,
    };
    let (ids, _now) = manual(layout, None, 5_000)?;
    let ids = ids.with_clock_tolerance(Duration::from_millis(10));
    for _ in 0..64 {
        ids.next_id()?;
    }
    let err = ids.next_id().unwrap_err();
    assert!(
        matches!(err, IdError::ClockStalled { at_ms: 5_000, waited } if waited >= Duration::from_millis(10)),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn a_clock_going_back_a_little_keeps_ids_increasing() -> TestResult {
    let (ids, now) = manual(SnowflakeLayout::TWITTER, None, 10_000)?;
    let mut last = ids.next_id()?;
    // Back 3 ms: ids keep counting within millisecond 10_000.
    now.store(9_997, Ordering::SeqCst);
    for _ in 0..100 {
        let id = ids.next_id()?;
        assert!(id > last);
        assert_eq!(ids.decode(id)?.timestamp_ms, 10_000);
        last = id;
    }
    // The clock catches up: back to real time.
    now.store(10_002, Ordering::SeqCst);
    let id = ids.next_id()?;
    assert!(id > last);
    assert_eq!(ids.decode(id)?.timestamp_ms, 10_002);
    Ok(())
}

#[test]
fn a_clock_going_back_waits_within_the_tolerance_once_the_sequence_is_used_up() -> TestResult {
    let (ids, now) = manual(SnowflakeLayout::TWITTER, None, 10_000)?;
    let ids = ids.with_clock_tolerance(Duration::from_secs(2));
    ids.next_id()?;
    now.store(9_990, Ordering::SeqCst);
    let mut last = 0;
    for _ in 0..4_095 {
        last = ids.next_id()?;
    }
    assert_eq!(ids.decode(last)?.sequence, 4_095);
    let catch_up = {
        let now = Arc::clone(&now);
        thread::spawn(move || {
            for t in 9_991..=10_001 {
                thread::sleep(Duration::from_millis(2));
                now.store(t, Ordering::SeqCst);
            }
        })
    };
    let next = ids.next_id()?;
    catch_up.join().expect("clock thread panicked");
    assert!(next > last);
    assert_eq!(ids.decode(next)?.timestamp_ms, 10_001);
    Ok(())
}

#[test]
fn a_clock_going_back_too_far_is_a_typed_error_and_never_a_duplicate() -> TestResult {
    let (ids, now) = manual(SnowflakeLayout::TWITTER, None, 10_000)?;
    let tolerance = Duration::from_millis(5);
    let ids = ids.with_clock_tolerance(tolerance);
    let mut issued = vec![ids.next_id()?];
    now.store(9_000, Ordering::SeqCst);
    let err = loop {
        match ids.next_id() {
            Ok(id) => issued.push(id),
            Err(err) => break err,
        }
    };
    assert_eq!(
        issued.len(),
        4_096,
        "the whole sequence of ms 10_000 is used"
    );
    assert!(issued.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        err,
        IdError::ClockMovedBackwards {
            by: Duration::from_millis(1_000),
            tolerance
        }
    );
    assert_eq!(
        err.to_string(),
        "the clock moved backwards by 1s: beyond the tolerance of 5ms, no id issued"
    );
    // Still refused, and fine again once the clock is past the last id.
    assert!(ids.next_id().is_err());
    now.store(10_001, Ordering::SeqCst);
    assert!(ids.next_id()? > issued[4_095]);
    Ok(())
}

#[test]
fn a_clock_within_the_tolerance_that_never_catches_up_is_a_typed_error() -> TestResult {
    let (ids, now) = manual(SnowflakeLayout::TWITTER, None, 10_000)?;
    let ids = ids.with_clock_tolerance(Duration::from_millis(10));
    ids.next_id()?;
    now.store(9_995, Ordering::SeqCst);
    for _ in 0..4_095 {
        ids.next_id()?;
    }
    let started = Instant::now();
    let err = ids.next_id().unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(10));
    assert!(
        matches!(err, IdError::ClockMovedBackwards { by, .. } if by == Duration::from_millis(5)),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn clock_before_the_epoch_and_timestamp_overflow_are_typed_errors() -> TestResult {
    let (ids, now) = manual(SnowflakeLayout::TWITTER, None, 999)?;
    assert_eq!(
        ids.next_id(),
        Err(IdError::ClockBeforeEpoch {
            now_ms: 999,
            epoch_ms: 1_000
        })
    );
    now.store(1_000, Ordering::SeqCst);
    assert_eq!(ids.decode(ids.next_id()?)?.timestamp_ms, 1_000);
    let max = SnowflakeLayout::TWITTER.max_timestamp();
    now.store(1_000 + max, Ordering::SeqCst);
    let id = ids.next_id()?;
    assert_eq!(ids.decode(id)?.timestamp_ms, 1_000 + max);
    assert!(id > 0);
    now.store(1_000 + max + 1, Ordering::SeqCst);
    assert_eq!(
        ids.next_id(),
        Err(IdError::TimestampOverflow {
            elapsed_ms: max + 1,
            max_ms: max
        })
    );
    Ok(())
}

#[test]
fn layouts_and_ids_are_validated() {
    let layout = |t, s, w, q| SnowflakeLayout {
        timestamp_bits: t,
        shard_bits: s,
        worker_bits: w,
        sequence_bits: q,
    };
    for (bad, reason) in [
        (layout(41, 0, 10, 11), "add up to 62"),
        (layout(41, 0, 10, 13), "add up to 64"),
        (layout(255, 255, 255, 255), "add up to 1020"),
        (layout(31, 16, 16, 0), "timestamp_bits is 31"),
        (layout(40, 17, 6, 0), "shard_bits is 17"),
        (layout(40, 0, 17, 6), "worker_bits is 17"),
    ] {
        let err = bad.validate().unwrap_err();
        assert!(matches!(err, IdError::InvalidLayout { layout, .. } if layout == bad));
        assert!(err.to_string().contains(reason), "{err}");
        assert!(Snowflake::new(bad, 0, 0, None).is_err());
        assert!(bad.decode(1, 0).is_err());
        assert_eq!(bad.shard_of(1), None);
    }
    assert!(layout(32, 16, 15, 0).validate().is_ok());

    let err = Snowflake::new(SnowflakeLayout::SHARDED, 0, 64, Some(1)).unwrap_err();
    assert_eq!(
        err,
        IdError::WorkerOutOfRange {
            worker: 64,
            bits: 6,
            max: 63
        }
    );
    let err = Snowflake::new(SnowflakeLayout::SHARDED, 0, 1, Some(300)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "shard 300 does not fit the layout's 8 shard bits (at most 255)"
    );
    assert_eq!(
        Snowflake::new(SnowflakeLayout::SHARDED, 0, 1, None).unwrap_err(),
        IdError::MissingShard { bits: 8 }
    );
    assert!(matches!(
        Snowflake::new(SnowflakeLayout::TWITTER, u64::MAX, 1, None),
        Err(IdError::InvalidEpoch {
            epoch_ms: u64::MAX,
            ..
        })
    ));
    assert_eq!(
        SnowflakeLayout::TWITTER.decode(-7, 0),
        Err(IdError::NegativeId { id: -7 })
    );
}

#[test]
fn the_shard_is_read_back_from_ids() -> TestResult {
    let generators: Vec<_> = [0, 17, 255]
        .into_iter()
        .map(|shard| Snowflake::new(SnowflakeLayout::SHARDED, 0, 63, Some(shard)))
        .collect::<Result<_, _>>()?;
    for ids in &generators {
        let shard = ids.shard();
        for _ in 0..1_000 {
            let id = ids.next_id()?;
            assert_eq!(ids.shard_of(id), shard);
            assert_eq!(SnowflakeLayout::SHARDED.shard_of(id), shard);
            assert_eq!(ids.decode(id)?.worker, 63);
        }
    }
    let plain = Snowflake::new(SnowflakeLayout::TWITTER, 0, 1, None)?;
    assert_eq!(plain.shard(), None);
    assert_eq!(plain.shard_of(plain.next_id()?), None);
    Ok(())
}

fn valid_layout() -> impl Strategy<Value = SnowflakeLayout> {
    (32_u8..=63, 0_u8..=16, 0_u8..=16).prop_filter_map("bits exceed 63", |(t, s, w)| {
        let q = 63_u8.checked_sub(t + s + w)?;
        Some(SnowflakeLayout {
            timestamp_bits: t,
            shard_bits: s,
            worker_bits: w,
            sequence_bits: q,
        })
    })
}

proptest! {
    #[test]
    fn decode_round_trips_generated_ids(
        layout in valid_layout(),
        epoch in 0_u64..=4_000_000_000_000,
        elapsed in any::<u64>(),
        worker in any::<u16>(),
        shard in any::<u16>(),
        count in 1_usize..50,
    ) {
        // Room for the clock to advance below, one millisecond per id at most.
        let elapsed = (elapsed & layout.max_timestamp()).min(layout.max_timestamp() - 64);
        let worker = worker & layout.max_worker();
        let shard = layout.max_shard().map(|max| shard & max);
        let now = Arc::new(AtomicU64::new(epoch + elapsed));
        let ids = Snowflake::new(layout, epoch, worker, shard)?.with_clock(Arc::clone(&now));
        let mut last = None;
        for _ in 0..count {
            let id = ids.next_id()?;
            prop_assert!(id >= 0);
            prop_assert!(last.is_none_or(|last| id > last));
            last = Some(id);
            let parts = ids.decode(id)?;
            prop_assert_eq!(parts.worker, worker);
            prop_assert_eq!(parts.shard, shard);
            prop_assert_eq!(ids.shard_of(id), shard);
            prop_assert_eq!(parts.timestamp_ms, now.load(Ordering::SeqCst));
            prop_assert!(parts.sequence <= layout.max_sequence());
            // Re-encoding the parts gives the id back.
            let fields = [
                (parts.timestamp_ms - epoch, layout.timestamp_bits),
                (u64::from(parts.shard.unwrap_or(0)), layout.shard_bits),
                (u64::from(parts.worker), layout.worker_bits),
                (u64::from(parts.sequence), layout.sequence_bits),
            ];
            let rebuilt = fields.iter().fold(0_u64, |acc, &(value, bits)| (acc << bits) | value);
            prop_assert_eq!(rebuilt as i64, id);
            // A clock that does not move issues ids within one millisecond until its
            // sequence is used up; advance it so the next id never has to wait.
            if parts.sequence == layout.max_sequence() {
                now.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    #[test]
    fn decode_never_panics(layout in valid_layout(), id in any::<i64>(), epoch in any::<u64>()) {
        match layout.decode(id, epoch) {
            Ok(SnowflakeParts { shard, worker, sequence, .. }) => {
                prop_assert!(id >= 0);
                prop_assert_eq!(shard, layout.shard_of(id));
                prop_assert!(worker <= layout.max_worker());
                prop_assert!(sequence <= layout.max_sequence());
            }
            Err(IdError::NegativeId { .. }) => prop_assert!(id < 0),
            Err(IdError::InvalidEpoch { .. }) => {}
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }
}
