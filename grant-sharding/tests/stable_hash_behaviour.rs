//! The `StableHash` resolver's behaviour: bad input, even distribution, minimal key
//! movement when a shard is added, determinism.

mod common;

use std::borrow::Cow;
use std::collections::HashMap;

use common::{names, TestResult};
use grant_sharding::{ShardError, ShardResolver, ShardValue, StableHash};

#[test]
fn stable_hash_rejects_bad_input() {
    assert!(matches!(
        StableHash::new(Vec::<String>::new()),
        Err(ShardError::NoShards {
            resolver: "stable_hash"
        })
    ));
    assert!(matches!(
        StableHash::new(["a", "a"]),
        Err(ShardError::DuplicateShard { .. })
    ));
    assert!(matches!(
        StableHash::new([""]),
        Err(ShardError::InvalidShardName { .. })
    ));
    let h = StableHash::new(["a", "b"]).unwrap();
    let bad = ShardValue::Date {
        year: 2023,
        month: 2,
        day: 30,
    };
    assert!(matches!(
        h.resolve(&bad),
        Err(ShardError::InvalidKey { resolver: "stable_hash", ref key, .. }) if *key == bad
    ));
}

#[test]
fn stable_hash_distribution_is_even() -> TestResult {
    let h = StableHash::new(names("s", 4))?;
    let keysets: [Vec<ShardValue>; 3] = [
        (0..10_000_i64).map(ShardValue::Int).collect(),
        (0..10_000).map(|i| format!("user-{i}").into()).collect(),
        (0..10_000_u32)
            .map(|i| {
                let mut b = [0_u8; 16];
                b[12..].copy_from_slice(&i.to_be_bytes());
                ShardValue::Uuid(b)
            })
            .collect(),
    ];
    for keys in &keysets {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for key in keys {
            *counts.entry(h.resolve(key)?.into_owned()).or_default() += 1;
        }
        assert_eq!(counts.len(), 4);
        for (shard, count) in &counts {
            assert!(
                (2_250..=2_750).contains(count),
                "{shard} got {count} of 10000 keys ({:?}...)",
                keys[0]
            );
        }
    }
    Ok(())
}

#[test]
fn jump_hash_only_moves_keys_to_the_new_shard() -> TestResult {
    let keys: Vec<ShardValue> = (0..10_000_i64)
        .map(ShardValue::Int)
        .chain((0..2_000).map(|i| format!("tenant-{i}").into()))
        .collect();
    for n in 1..=16 {
        let before = StableHash::new(names("s", n))?;
        let after = StableHash::new(names("s", n + 1))?;
        let new_shard = format!("s{n}");
        let mut moved = 0;
        for key in &keys {
            let (a, b) = (before.resolve(key)?, after.resolve(key)?);
            if a != b {
                assert_eq!(
                    b,
                    new_shard.as_str(),
                    "{key} moved from {a} to {b}, not the new shard"
                );
                moved += 1;
            }
        }
        // About 1/(n+1) of the keys move; allow a generous +-25% around that.
        let expected = keys.len() as f64 / (n + 1) as f64;
        let moved = f64::from(moved);
        assert!(
            (expected * 0.75..=expected * 1.25).contains(&moved),
            "{n} -> {}: moved {moved}, expected about {expected}",
            n + 1
        );
    }
    Ok(())
}

#[test]
fn stable_hash_is_deterministic_across_fresh_resolvers() -> TestResult {
    let keys: Vec<ShardValue> = vec![
        ShardValue::Int(123_456_789),
        ShardValue::UInt(u64::MAX),
        "tenant-acme".into(),
        ShardValue::Uuid([7; 16]),
        ShardValue::Timestamp(-86_401),
        ShardValue::date(1999, 12, 31)?,
    ];
    for key in &keys {
        let first = StableHash::new(names("shard_", 7))?
            .resolve(key)?
            .into_owned();
        let second = StableHash::new(names("shard_", 7))?
            .resolve(key)?
            .into_owned();
        assert_eq!(first, second, "{key}");
        // A freshly spawned thread (new stack, nothing shared) agrees too.
        let key2 = key.clone();
        let third = std::thread::spawn(move || {
            StableHash::new(names("shard_", 7)).and_then(|h| h.resolve(&key2).map(Cow::into_owned))
        })
        .join()
        .expect("thread")?;
        assert_eq!(first, third, "{key}");
    }
    Ok(())
}
