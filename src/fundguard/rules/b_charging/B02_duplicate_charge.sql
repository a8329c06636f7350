-- B02 (a): units beyond an hour/day limit, on the later lines; (b) identical duplicate lines of unlimited items.
-- A flag rests on its line and the lines before it that used up the limit, or the line it repeats.
WITH limited AS (
  SELECT f.feedetl_sn, f.mdtrt_id, f.hilist_code, f.fee_ocur_time, f.pric, f.net_cnt,
         k.kb_hilist_code, k.source, k.max_cnt, k.per,
         CASE WHEN k.per = 'hour' THEN {{ trunc_hour(f.fee_ocur_time) }} ELSE CAST(f.fee_date AS TIMESTAMP) END AS bucket,
         SUM(f.net_cnt) OVER (
           PARTITION BY f.mdtrt_id, f.hilist_code, k.kb_hilist_code, k.per,
                        CASE WHEN k.per = 'hour' THEN {{ trunc_hour(f.fee_ocur_time) }} ELSE CAST(f.fee_date AS TIMESTAMP) END
           ORDER BY f.fee_ocur_time, f.feedetl_sn
           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum_cnt
  FROM fee_net f
  JOIN kb_item_limit_match k ON k.hilist_code = f.hilist_code
  WHERE k.per IN ('hour', 'day')
),
beyond AS (
  SELECT feedetl_sn, mdtrt_id, hilist_code, fee_ocur_time, kb_hilist_code, source, per, bucket, max_cnt,
         CASE WHEN cum_cnt - max_cnt >= net_cnt THEN net_cnt ELSE cum_cnt - max_cnt END AS beyond_cnt,
         pric
  FROM limited
  WHERE cum_cnt > max_cnt
),
by_limit AS (
  SELECT * FROM (
    SELECT b.*, b.beyond_cnt * b.pric AS vola_amt,
           ROW_NUMBER() OVER (PARTITION BY b.feedetl_sn ORDER BY b.beyond_cnt * b.pric DESC, b.per) AS rn
    FROM beyond b
  ) x WHERE rn = 1
),
-- the flagged line and the lines of its hour/day before it (in the running sum's order): looked up in
-- fee_net for the few flagged lines, not by a second pass over every limited line's window
limit_lines AS (
  SELECT b.feedetl_sn, {{ list_agg(a.feedetl_sn) }} AS feedetl_sns
  FROM by_limit b
  JOIN fee_net a
    ON a.mdtrt_id = b.mdtrt_id AND a.hilist_code = b.hilist_code
   AND CASE WHEN b.per = 'hour' THEN {{ trunc_hour(a.fee_ocur_time) }} ELSE CAST(a.fee_date AS TIMESTAMP) END = b.bucket
   AND (a.fee_ocur_time < b.fee_ocur_time OR (a.fee_ocur_time = b.fee_ocur_time AND a.feedetl_sn <= b.feedetl_sn))
  GROUP BY b.feedetl_sn
),
-- identical lines: a hash of the five values narrows 10M lines to the few candidates, whose values are
-- then compared exactly (a group-by on one 64-bit key instead of five columns over every line)
dup_hashes AS (
  SELECT {{ key_hash(mdtrt_id, hilist_code, net_cnt, pric, fee_ocur_time) }} AS h
  FROM fee_net
  GROUP BY {{ key_hash(mdtrt_id, hilist_code, net_cnt, pric, fee_ocur_time) }}
  HAVING COUNT(*) > 1
),
dup_candidates AS (
  SELECT f.feedetl_sn, f.mdtrt_id, f.hilist_code, f.net_cnt, f.pric, f.fee_ocur_time, f.net_amt,
         f.psn_no, f.setl_id, f.fixmedins_code, f.item_name
  FROM fee_lines f
  JOIN dup_hashes d ON d.h = {{ key_hash(f.mdtrt_id, f.hilist_code, f.net_cnt, f.pric, f.fee_ocur_time) }}
),
dup_groups AS (
  SELECT mdtrt_id, hilist_code, net_cnt, pric, fee_ocur_time, MIN(feedetl_sn) AS first_sn
  FROM dup_candidates
  GROUP BY mdtrt_id, hilist_code, net_cnt, pric, fee_ocur_time
  HAVING COUNT(*) > 1
),
duplicates AS (
  SELECT f.feedetl_sn, f.psn_no, f.mdtrt_id, f.setl_id, f.fixmedins_code, f.net_amt AS vola_amt, f.hilist_code, f.item_name,
         g.first_sn
  FROM dup_candidates f
  JOIN dup_groups g
    ON g.mdtrt_id = f.mdtrt_id AND g.hilist_code = f.hilist_code AND g.net_cnt = f.net_cnt
   AND g.pric = f.pric AND g.fee_ocur_time = f.fee_ocur_time
  WHERE f.feedetl_sn <> g.first_sn
    AND NOT EXISTS (SELECT 1 FROM kb_item_limit_match k WHERE k.hilist_code = f.hilist_code)
)
SELECT l.feedetl_sn, l.psn_no, l.mdtrt_id, l.setl_id, l.fixmedins_code, b.vola_amt, l.hilist_code, l.item_name,
       i.feedetl_sns,
       b.kb_hilist_code AS ev_kb_code, b.source AS ev_kb_source,
       b.per AS ev_kb_per, b.max_cnt AS ev_kb_max_cnt, b.beyond_cnt AS ev_beyond_cnt,
       CAST(NULL AS VARCHAR) AS ev_first_feedetl_sn,
       concat('每', CASE WHEN b.per = 'hour' THEN '小时' ELSE '日' END, '限 ', CAST(b.max_cnt AS VARCHAR),
              ' 单位，本明细超出 ', {{ num_text(b.beyond_cnt) }}, ' 单位') AS ev_reason
FROM by_limit b
JOIN fee_lines l ON l.feedetl_sn = b.feedetl_sn
JOIN limit_lines i ON i.feedetl_sn = b.feedetl_sn
UNION ALL
SELECT d.feedetl_sn, d.psn_no, d.mdtrt_id, d.setl_id, d.fixmedins_code, d.vola_amt, d.hilist_code, d.item_name,
       {{ list_of(d.first_sn, d.feedetl_sn) }} AS feedetl_sns,
       CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR),
       CAST(NULL AS VARCHAR), CAST(NULL AS INTEGER), CAST(NULL AS DECIMAL(16,4)),
       d.first_sn,
       concat('与同一就诊中明细 ', d.first_sn, ' 的数量、单价、收费时间完全相同，重复收费') AS ev_reason
FROM duplicates d
