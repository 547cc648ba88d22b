//! The read model of twenty years of the national load, written straight
//! into PostgreSQL by `generate_series` as the services would have left it:
//! reporting's rows and monthly counts (the report bench), and for the
//! console, routing's assignments and escalation's clocks of the same
//! applications. Shared by `acikkapi-report-bench` and
//! `acikkapi-console-bench`.
//!
//! Receipts spread evenly from 2007-01-01 to "now", 2026-12-01 10:00; a
//! fifth of the country in İstanbul, 7% Ankara, 5% İzmir, the rest spread
//! over the 81 provinces; 0.1% still open (the last week's). Application i
//! is number `lpad(i, 12)` everywhere; its unit is
//! `il<province>-<valilik|belediye|milli-egitim|saglik|emniyet>` by i % 5.

use acikkapi_domain::calendar::Date;
use sqlx::PgPool;
use std::time::Instant;

/// The read model's "now": 2026-12-01 10:00, Türkiye time.
pub fn now() -> i64 {
    Date::parse("2026-12-01").unwrap().at_minute(10 * 60)
}

/// The first receipt: 2007-01-01.
pub fn start() -> i64 {
    Date::parse("2007-01-01").unwrap().at_minute(0)
}

/// The columns every table's rows derive from, for applications `$4..=$5`
/// of `$3` received between `$1` and `$2`.
const SERIES: &str = "SELECT i, $1 + (i * ($2 - $1) / $3) AS received, \
      CASE WHEN i % 100 < 20 THEN 34 WHEN i % 100 < 27 THEN 6 WHEN i % 100 < 32 THEN 35 ELSE 1 + (i * 7919) % 81 END AS prov, \
      'H' || lpad((1 + (i * 31) % 17)::text, 2, '0') AS topic, \
      i >= $3 * 999 / 1000 AS open, \
      3600000::bigint * (1 + (i * 37) % 300) AS resolution, \
      (i * 41) % 100 < 85 AS within \
      FROM generate_series($4::bigint, $5::bigint) AS i";

/// The unit of row `g` (of SERIES).
const UNIT: &str = "'il' || lpad(prov::text, 2, '0') || '-' || (ARRAY['valilik','belediye','milli-egitim','saglik','emniyet'])[(1 + i % 5)::int]";

/// Whether `table` holds the `n` seeded applications (numbers below
/// `lpad(n, 12)`; applications submitted during a run have larger ones and
/// stay).
async fn seeded(pool: &PgPool, table: &str, n: i64) -> anyhow::Result<bool> {
    let have: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM {table} WHERE number < lpad($1::text, 12, '0')"
    ))
    .bind(n)
    .fetch_one(pool)
    .await?;
    Ok(have == n)
}

/// Runs `insert` (which selects from SERIES aliased `g`) a million rows at a time.
async fn in_chunks(pool: &PgPool, n: i64, insert: &str) -> anyhow::Result<()> {
    let sql = insert.replace("{SERIES}", SERIES).replace("{UNIT}", UNIT);
    let chunk = 1_000_000;
    for from in (0..n).step_by(chunk as usize) {
        let to = (from + chunk).min(n) - 1;
        sqlx::query(&sql)
            .bind(start())
            .bind(now())
            .bind(n)
            .bind(from)
            .bind(to)
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Reporting's rows, escalations and monthly counts for `n` applications;
/// false when they were there already.
pub async fn fill(pool: &PgPool, n: i64) -> anyhow::Result<bool> {
    if seeded(pool, "rpt_applications", n).await? {
        return Ok(false);
    }
    sqlx::query("TRUNCATE rpt_applications, rpt_escalations, rpt_events, rpt_monthly")
        .execute(pool)
        .await?;
    let filled = Instant::now();
    in_chunks(
        pool,
        n,
        "INSERT INTO rpt_applications (number, received_ms, province, district, topic, type_code, unit_id, channel, kind, vulnerable, \
         status, outcome, round, concluded_ms, resolution_ms, max_level, sms_sent, within_sla, survey_sent, survey_score) \
         SELECT lpad(i::text, 12, '0'), received, prov, prov * 1000 + 1 + (i / 7) % 10, topic, topic || '-' || lpad((1 + (i * 17) % 19)::text, 2, '0'), \
                {UNIT}, \
                1 + (i * 13) % 7, 1 + (i * 11) % 3, (i * 29) % 20 = 0, \
                CASE WHEN open THEN 2 ELSE 4 END, \
                CASE WHEN open THEN 0 WHEN (i * 7) % 10 < 6 THEN 1 WHEN (i * 7) % 10 < 8 THEN 2 WHEN (i * 7) % 10 < 9 THEN 3 ELSE 4 END, \
                1, CASE WHEN open THEN NULL ELSE received + resolution END, CASE WHEN open THEN NULL ELSE resolution END, \
                CASE WHEN open OR within THEN 0 ELSE 2 END, CASE WHEN open THEN 1 ELSE 3 END, \
                CASE WHEN open THEN NULL ELSE within END, NOT open, \
                CASE WHEN NOT open AND (i * 43) % 10 < 4 THEN 1 + (i * 3) % 5 ELSE NULL END \
         FROM ({SERIES}) AS g",
    )
    .await?;
    sqlx::query(
        "INSERT INTO rpt_escalations (number, round, rung, level, at_ms) \
         SELECT number, 1, 2, 2, received_ms + 9 * 86400000 FROM rpt_applications WHERE max_level = 2",
    )
    .execute(pool)
    .await?;
    // The monthly counts, as the fold keeps them.
    sqlx::query(
        "INSERT INTO rpt_monthly (month, province, district, received, concluded, positive, negative, partial, unanswerable, verdicts, within_sla, \
         level1, level2, level3, level4, level5, level100) \
         SELECT to_char(to_timestamp((received_ms + 10800000) / 1000.0) AT TIME ZONE 'UTC', 'YYYYMM')::bigint AS month, province, district, \
                COUNT(*), SUM(CASE WHEN status = 4 THEN 1 ELSE 0 END), \
                SUM(CASE WHEN status = 4 AND outcome = 1 THEN 1 ELSE 0 END), SUM(CASE WHEN status = 4 AND outcome = 2 THEN 1 ELSE 0 END), \
                SUM(CASE WHEN status = 4 AND outcome = 3 THEN 1 ELSE 0 END), SUM(CASE WHEN status = 4 AND outcome = 4 THEN 1 ELSE 0 END), \
                SUM(CASE WHEN status = 4 AND within_sla IS NOT NULL THEN 1 ELSE 0 END), SUM(CASE WHEN status = 4 AND within_sla THEN 1 ELSE 0 END), \
                0, SUM(CASE WHEN max_level = 2 THEN 1 ELSE 0 END), 0, 0, 0, 0 \
         FROM rpt_applications GROUP BY 1, 2, 3",
    )
    .execute(pool)
    .await?;
    sqlx::query("ANALYZE rpt_monthly").execute(pool).await?;
    sqlx::query("ANALYZE rpt_applications")
        .execute(pool)
        .await?;
    sqlx::query("ANALYZE rpt_escalations").execute(pool).await?;
    println!(
        "{n} applications written to reporting in {:.1} s",
        filled.elapsed().as_secs_f64()
    );
    Ok(true)
}

/// Routing's assignments and escalation's clocks of the same `n`
/// applications (the unit's inbox, the overdue); false when they were there
/// already. An open application is routed (status 2) with a running clock
/// whose deadline is 9 calendar days after receipt (7 working days); a
/// concluded one (4) has a stopped clock.
pub async fn fill_console(pool: &PgPool, n: i64) -> anyhow::Result<bool> {
    if seeded(pool, "routing_assignments", n).await? {
        return Ok(false);
    }
    sqlx::query("TRUNCATE routing_assignments, sla_clocks")
        .execute(pool)
        .await?;
    let filled = Instant::now();
    in_chunks(
        pool,
        n,
        "INSERT INTO routing_assignments (number, province, district, topic, type_code, unit_id, rule_id, status, round, \
         vulnerability, priority, received_ms, concluded_ms, updated_ms) \
         SELECT lpad(i::text, 12, '0'), prov, prov * 1000 + 1 + (i / 7) % 10, topic, topic || '-' || lpad((1 + (i * 17) % 19)::text, 2, '0'), \
                {UNIT}, 'bench', CASE WHEN open THEN 2 ELSE 4 END, 1, 0, (i * 29) % 20 = 0, received, \
                CASE WHEN open THEN NULL ELSE received + resolution END, received \
         FROM ({SERIES}) AS g",
    )
    .await?;
    in_chunks(
        pool,
        n,
        "INSERT INTO sla_clocks (id, number, round, province, district, topic, unit_id, vulnerable, started_ms, budget_days, \
         deadline_ms, statutory_ms, paused, rung_reached, statutory_fired, next_due_ms, concluded_ms, trace, updated_ms) \
         SELECT lpad(i::text, 12, '0') || ':1', lpad(i::text, 12, '0'), 1, prov, prov * 1000 + 1 + (i / 7) % 10, topic, {UNIT}, \
                (i * 29) % 20 = 0, received, 7, received + 9 * 86400000::bigint, received + 30 * 86400000::bigint, false, \
                CASE WHEN open THEN 0 ELSE 1 END, false, NULL, CASE WHEN open THEN NULL ELSE received + resolution END, '{}', received \
         FROM ({SERIES}) AS g",
    )
    .await?;
    sqlx::query("ANALYZE routing_assignments")
        .execute(pool)
        .await?;
    sqlx::query("ANALYZE sla_clocks").execute(pool).await?;
    println!(
        "{n} assignments and clocks written in {:.1} s",
        filled.elapsed().as_secs_f64()
    );
    Ok(true)
}
