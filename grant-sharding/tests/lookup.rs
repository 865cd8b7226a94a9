//! The `Lookup` resolver: table, default shard, bad tables.

mod common;

use std::collections::BTreeMap;

use common::TestResult;
use grant_sharding::{Lookup, ShardError, ShardResolver, ShardValue};

#[test]
fn lookup_resolves_table_then_default() -> TestResult {
    let table = BTreeMap::from([
        (ShardValue::from("acme"), "eu".to_string()),
        (ShardValue::Int(7), "us".to_string()),
        (ShardValue::Uuid([1; 16]), "ap".to_string()),
    ]);
    let l = Lookup::new(table.clone(), Some("shared".into()))?;
    assert_eq!(l.resolve(&"acme".into())?, "eu");
    assert_eq!(l.resolve(&ShardValue::Int(7))?, "us");
    assert_eq!(l.resolve(&ShardValue::UInt(7))?, "us");
    assert_eq!(l.resolve(&ShardValue::Uuid([1; 16]))?, "ap");
    assert_eq!(l.resolve(&"globex".into())?, "shared");
    assert_eq!(l.resolve(&ShardValue::Timestamp(7))?, "shared");
    assert_eq!(l.shards(), ["ap", "eu", "shared", "us"]);
    assert_eq!(l.default_shard(), Some("shared"));

    let strict = Lookup::new(table, None)?;
    let err = strict.resolve(&"globex".into()).unwrap_err();
    assert!(matches!(
        err,
        ShardError::NoShardForKey { resolver: "lookup", ref key } if *key == "globex".into()
    ));
    assert_eq!(
        err.to_string(),
        "lookup resolver: no shard for key \"globex\" and no default shard"
    );

    // UInt keys in the table are found by Int keys too; big UInts stay distinct.
    let u = Lookup::new([(5_u64, "five"), (u64::MAX, "max")], None)?;
    assert_eq!(u.resolve(&ShardValue::Int(5))?, "five");
    assert_eq!(u.resolve(&ShardValue::UInt(u64::MAX))?, "max");
    assert!(u.resolve(&ShardValue::Int(-1)).is_err());

    let only_default = Lookup::new(Vec::<(i64, String)>::new(), Some("d".into()))?;
    assert_eq!(only_default.resolve(&ShardValue::Int(1))?, "d");
    Ok(())
}

#[test]
fn lookup_rejects_bad_tables() {
    assert!(matches!(
        Lookup::new(Vec::<(i64, String)>::new(), None),
        Err(ShardError::NoShards { resolver: "lookup" })
    ));
    let dup = Lookup::new(
        [(ShardValue::Int(5), "a"), (ShardValue::UInt(5), "b")],
        None,
    );
    assert!(matches!(
        dup,
        Err(ShardError::DuplicateKey { ref key, .. }) if *key == ShardValue::Int(5)
    ));
    assert!(matches!(
        Lookup::new([(1, "")], None),
        Err(ShardError::InvalidShardName { .. })
    ));
    assert!(matches!(
        Lookup::new([(1, "a")], Some(String::new())),
        Err(ShardError::InvalidShardName { .. })
    ));
}
