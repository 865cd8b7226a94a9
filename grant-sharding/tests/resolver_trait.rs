//! Resolvers as trait objects, a custom resolver with its own error source, and the
//! auto traits of `ShardError`.

mod common;

use std::borrow::Cow;
use std::sync::Arc;

use common::TestResult;
use grant_sharding::{Lookup, Modulo, Range, ShardError, ShardResolver, ShardValue, StableHash};

#[derive(Debug)]
struct EvenOdd;

#[derive(Debug, thiserror::Error)]
#[error("key {0} is odd")]
struct Odd(i64);

impl ShardResolver for EvenOdd {
    fn resolve(&self, key: &ShardValue) -> Result<Cow<'_, str>, ShardError> {
        match key {
            ShardValue::Int(n) if n % 2 == 0 => Ok(Cow::Borrowed("even")),
            ShardValue::Int(n) => Err(ShardError::Custom {
                resolver: "even_odd",
                source: Box::new(Odd(*n)),
            }),
            other => Err(ShardError::WrongKeyType {
                resolver: "even_odd",
                expected: "an int",
                found: other.kind(),
                key: other.clone(),
            }),
        }
    }

    fn shards(&self) -> Vec<&str> {
        vec!["even"]
    }
}

#[test]
fn resolvers_work_as_trait_objects() -> TestResult {
    let all: Vec<Arc<dyn ShardResolver>> = vec![
        Arc::new(Modulo::new(["a", "b"])?),
        Arc::new(StableHash::new(["a", "b"])?),
        Arc::new(Range::new([(0, "a"), (10, "b")], None)?),
        Arc::new(Lookup::new([(2, "a")], Some("b".into()))?),
        Arc::new(EvenOdd),
    ];
    for resolver in &all {
        let shard = resolver.resolve(&ShardValue::Int(2))?;
        assert!(resolver.shards().contains(&shard.as_ref()), "{resolver:?}");
        assert!(!format!("{resolver:?}").is_empty());
    }
    let boxed: Box<dyn ShardResolver> = Box::new(EvenOdd);
    assert_eq!(boxed.resolve(&ShardValue::Int(4))?, "even");
    let err = boxed.resolve(&ShardValue::Int(3)).unwrap_err();
    assert_eq!(err.to_string(), "even_odd resolver: key 3 is odd");
    let source = std::error::Error::source(&err).expect("source kept");
    assert_eq!(source.to_string(), "key 3 is odd");
    Ok(())
}

#[test]
fn errors_are_send_sync_and_static() {
    fn check<T: Send + Sync + 'static + std::error::Error>() {}
    check::<ShardError>();
}
