//! The `Modulo` resolver, including bad input.

mod common;

use common::{names, TestResult};
use grant_sharding::{Modulo, ShardError, ShardResolver, ShardValue};

#[test]
fn modulo_resolves_integers_with_rem_euclid() -> TestResult {
    let m = Modulo::new(names("s", 3))?;
    assert_eq!(m.shards(), ["s0", "s1", "s2"]);
    for (key, shard) in [
        (0, "s0"),
        (1, "s1"),
        (2, "s2"),
        (3, "s0"),
        (-1, "s2"),
        (-3, "s0"),
    ] {
        assert_eq!(m.resolve(&ShardValue::Int(key))?, shard, "key {key}");
    }
    assert_eq!(m.resolve(&ShardValue::Int(i64::MIN))?, "s1"); // -2^63 mod 3 = 1
    assert_eq!(m.resolve(&ShardValue::UInt(u64::MAX))?, "s0"); // 2^64-1 mod 3 = 0
    assert_eq!(
        m.resolve(&ShardValue::UInt(4))?,
        m.resolve(&ShardValue::Int(4))?
    );
    Ok(())
}

#[test]
fn modulo_rejects_bad_input() {
    let m = Modulo::new(["a", "b"]).unwrap();
    let err = m.resolve(&ShardValue::from("seven")).unwrap_err();
    match &err {
        ShardError::WrongKeyType {
            resolver,
            expected,
            found,
            key,
        } => {
            assert_eq!(*resolver, "modulo");
            assert_eq!(*expected, "an integer");
            assert_eq!(*found, "text");
            assert_eq!(*key, ShardValue::from("seven"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "modulo resolver expects an integer key, found text key \"seven\""
    );
    assert!(m.resolve(&ShardValue::Timestamp(1)).is_err());

    assert!(matches!(
        Modulo::new(Vec::<String>::new()),
        Err(ShardError::NoShards { resolver: "modulo" })
    ));
    assert!(matches!(
        Modulo::new(["a", "b", "a"]),
        Err(ShardError::DuplicateShard { ref shard, .. }) if shard == "a"
    ));
    assert!(matches!(
        Modulo::new(["a", ""]),
        Err(ShardError::InvalidShardName { .. })
    ));
    assert!(matches!(
        Modulo::new([" a"]),
        Err(ShardError::InvalidShardName { .. })
    ));
    assert!(matches!(
        Modulo::new(["a\nb"]),
        Err(ShardError::InvalidShardName { .. })
    ));
}
