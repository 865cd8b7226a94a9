//! Time series across yearly SQLite files: prices of 2023 and 2024 live in one file per
//! year, routed by date through an `interval` resolver. The past year is read-only: a
//! late 2023 price is refused before any SQL and nothing is written anywhere. A date-range
//! query visits only the years it can match; ORDER BY/LIMIT/OFFSET and COUNT/SUM/AVG over
//! every year equal the same queries on one merged database. Last, the missing days of
//! January 2024 are found, filled into a staging shard, and merged into the current year.
//!
//! `cargo run --example time_series`

use chrono::{Datelike, Duration, NaiveDate};
use grant::{raw, Config, Error, Grant, Model};

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "prices")]
#[shard_by(day)]
struct Price {
    #[grant(primary_key, manual)]
    id: i64,
    day: NaiveDate,
    cents: i64,
}

/// The same rows in one merged database, to compare with.
#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "prices", database = "merged")]
struct MergedPrice {
    #[grant(primary_key, manual)]
    id: i64,
    day: NaiveDate,
    cents: i64,
}

const CREATE: &str =
    "CREATE TABLE prices (id INTEGER PRIMARY KEY, day TEXT NOT NULL, cents INTEGER NOT NULL)";

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid date")
}

/// A deterministic price series with gaps: every third day of January 2024 is missing.
fn series() -> Vec<Price> {
    let mut out = Vec::new();
    let mut id = 1;
    let mut d = day(2023, 11, 1);
    while d <= day(2024, 2, 15) {
        let gap = d.year() == 2024 && d.month() == 1 && d.day() % 3 == 0;
        if !gap {
            out.push(Price {
                id,
                day: d,
                cents: 10_000 + (id * 37) % 500,
            });
            id += 1;
        }
        d += Duration::days(1);
    }
    out
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join("grant-time-series");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let file = |name: &str| format!("sqlite://{}/{name}.db", dir.display());

    // Last year's file was written when it was current; it is read-only from now on.
    let rows = series();
    let (past, current): (Vec<Price>, Vec<Price>) =
        rows.iter().cloned().partition(|p| p.day.year() == 2023);
    {
        let archive = Grant::connect(&file("prices_2023")).await?;
        raw(CREATE).execute(&archive).await?;
        for p in &past {
            raw("INSERT INTO prices (id, day, cents) VALUES (?, ?, ?)")
                .bind(p.id)
                .bind(p.day)
                .bind(p.cents)
                .execute(&archive)
                .await?;
        }
        archive.close().await;
    }

    let toml = format!(
        r#"
        default = "prices"

        [databases.prices]
        url = "{current}"
        shards.prices_2023 = {{ url = "{y2023}", readonly = true }}
        shards.prices_2024 = {{ url = "{current}" }}
        shards.staging = {{ url = "{staging}" }}

        [databases.prices.sharding]
        resolver = "interval"
        every = "year"
        pattern = "prices_{{yyyy}}"

        [databases.merged]
        url = "{merged}"
        "#,
        current = file("prices_2024"),
        y2023 = file("prices_2023"),
        staging = file("staging"),
        merged = file("merged"),
    );
    let db = Grant::from_config(Config::from_toml_str(&toml)?)?;
    raw(CREATE).execute(db.on_shard("prices_2024")).await?;
    raw(CREATE).execute(db.on_shard("staging")).await?;
    raw(CREATE).on("merged").execute(&db).await?;

    // This year's rows, routed by date; every row into the merged reference too.
    let mut this_year = current.clone();
    let n = Price::insert_all(&db, &mut this_year).await?;
    println!("inserted {n} prices of 2024 into prices_2024");
    let mut merged: Vec<MergedPrice> = rows
        .iter()
        .map(|p| MergedPrice {
            id: p.id,
            day: p.day,
            cents: p.cents,
        })
        .collect();
    MergedPrice::insert_all(&db, &mut merged).await?;

    // A late price for last year: refused before any SQL, nothing written anywhere.
    let before = Price::query().count(&db).await?;
    let mut late = Price {
        id: 9_999,
        day: day(2023, 12, 31),
        cents: 1,
    };
    match late.insert(&db).await {
        Err(e @ Error::ReadOnly { .. }) => println!("late 2023 price refused: {e}"),
        other => return Err(format!("expected a read-only error, got {other:?}").into()),
    }
    assert_eq!(Price::query().count(&db).await?, before);
    assert!(Price::find(&db, 9_999).await?.is_none());

    // A date range visits only the years it can match.
    let report = Price::query()
        .filter(
            Price::DAY
                .ge(day(2024, 1, 1))
                .and(Price::DAY.lt(day(2024, 2, 1))),
        )
        .all_with_report(&db)
        .await?;
    let visited: Vec<_> = report
        .shards
        .iter()
        .filter_map(|o| o.shard.clone())
        .collect();
    println!(
        "January 2024: {} prices, shards visited: {visited:?}",
        report.rows.len()
    );
    assert_eq!(visited, ["prices_2024"]);
    let report = Price::query()
        .filter(Price::DAY.ge(day(2023, 12, 20)))
        .all_with_report(&db)
        .await?;
    let visited: Vec<_> = report
        .shards
        .iter()
        .filter_map(|o| o.shard.clone())
        .collect();
    println!("since 2023-12-20: shards visited: {visited:?}");

    // ORDER BY day DESC LIMIT/OFFSET across the years equals one merged database.
    let page = Price::query()
        .order_by(Price::DAY.desc())
        .limit(5)
        .offset(40)
        .all(&db)
        .await?;
    let expected = MergedPrice::query()
        .order_by(MergedPrice::DAY.desc())
        .limit(5)
        .offset(40)
        .all(&db)
        .await?;
    let days: Vec<NaiveDate> = page.iter().map(|p| p.day).collect();
    assert_eq!(days, expected.iter().map(|p| p.day).collect::<Vec<_>>());
    println!("page 9 (newest first): {days:?}");

    // COUNT / SUM / AVG over every year equal the merged database's.
    let (count, sum, avg) = (
        Price::query().count(&db).await?,
        Price::query().sum(Price::CENTS, &db).await?,
        Price::query().avg(Price::CENTS, &db).await?,
    );
    assert_eq!(count, MergedPrice::query().count(&db).await?);
    assert_eq!(
        sum,
        MergedPrice::query().sum(MergedPrice::CENTS, &db).await?
    );
    assert_eq!(
        avg,
        MergedPrice::query().avg(MergedPrice::CENTS, &db).await?
    );
    println!("all years: count {count}, sum {sum:?}, avg {avg:?} (same as the merged database)");

    // Gap filling: find the missing days of January 2024 ...
    let january = Price::query()
        .filter(
            Price::DAY
                .ge(day(2024, 1, 1))
                .and(Price::DAY.le(day(2024, 1, 31))),
        )
        .order_by(Price::DAY.asc())
        .all(&db)
        .await?;
    let present: std::collections::BTreeSet<NaiveDate> = january.iter().map(|p| p.day).collect();
    let mut filled = Vec::new();
    let mut next_id = 100_000;
    for d in day(2024, 1, 1).iter_days().take_while(|d| d.month() == 1) {
        if !present.contains(&d) {
            // ... interpolated from the day before, staged apart from the real series.
            let before = january
                .iter()
                .rev()
                .find(|p| p.day < d)
                .map_or(10_000, |p| p.cents);
            filled.push(Price {
                id: next_id,
                day: d,
                cents: before,
            });
            next_id += 1;
        }
    }
    let staged = Price::insert_all(db.on_shard("staging"), &mut filled).await?;
    println!("staged {staged} gap-filling prices");
    // ... then merged into the current year: routed by date, removed from staging.
    let mut to_merge = Price::query().all(db.on_shard("staging")).await?;
    Price::insert_all(&db, &mut to_merge).await?;
    Price::query().delete_all(db.on_shard("staging")).await?;
    let january_now = Price::query()
        .filter(
            Price::DAY
                .ge(day(2024, 1, 1))
                .and(Price::DAY.le(day(2024, 1, 31))),
        )
        .count(&db)
        .await?;
    assert_eq!(january_now, 31);
    assert_eq!(Price::query().count(db.on_shard("staging")).await?, 0);
    println!("January 2024 now has {january_now} prices; staging is empty");

    db.close().await;
    Ok(())
}
