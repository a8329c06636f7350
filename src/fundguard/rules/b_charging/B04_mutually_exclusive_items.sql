-- B04: both items of an exclusive pair within its scope; the cheaper side's lines are flagged
WITH a_side AS (
  SELECT k.hilist_code_a, k.hilist_code_b, k.scope, k.source AS kb_source, 'a' AS side, k.hilist_code_b AS other_code,
         CASE WHEN k.scope = 'day' THEN f.fee_date ELSE DATE '1900-01-01' END AS bucket,
         f.feedetl_sn, f.psn_no, f.mdtrt_id, f.setl_id, f.fixmedins_code, f.net_amt, f.hilist_code, f.item_name
  FROM fee_lines f
  JOIN kb_code_map c ON c.kb_table = 'kb_exclusive' AND c.kb_column = 'hilist_code_a' AND c.hilist_code = f.hilist_code
  JOIN kb_exclusive k ON k.hilist_code_a = c.kb_code
),
b_side AS (
  SELECT k.hilist_code_a, k.hilist_code_b, k.scope, k.source AS kb_source, 'b' AS side, k.hilist_code_a AS other_code,
         CASE WHEN k.scope = 'day' THEN f.fee_date ELSE DATE '1900-01-01' END AS bucket,
         f.feedetl_sn, f.psn_no, f.mdtrt_id, f.setl_id, f.fixmedins_code, f.net_amt, f.hilist_code, f.item_name
  FROM fee_lines f
  JOIN kb_code_map c ON c.kb_table = 'kb_exclusive' AND c.kb_column = 'hilist_code_b' AND c.hilist_code = f.hilist_code
  JOIN kb_exclusive k ON k.hilist_code_b = c.kb_code
),
-- only lines whose pair has both sides in the same encounter and bucket go on (a join of the two sides,
-- not a group-by of every line that holds either code)
sides AS (
  SELECT a.* FROM a_side a
  WHERE EXISTS (SELECT 1 FROM b_side b
                WHERE b.hilist_code_a = a.hilist_code_a AND b.hilist_code_b = a.hilist_code_b AND b.scope = a.scope
                  AND b.mdtrt_id = a.mdtrt_id AND b.bucket = a.bucket)
  UNION ALL
  SELECT b.* FROM b_side b
  WHERE EXISTS (SELECT 1 FROM a_side a
                WHERE a.hilist_code_a = b.hilist_code_a AND a.hilist_code_b = b.hilist_code_b AND a.scope = b.scope
                  AND a.mdtrt_id = b.mdtrt_id AND a.bucket = b.bucket)
),
totals AS (
  SELECT hilist_code_a, hilist_code_b, scope, mdtrt_id, bucket,
         SUM(CASE WHEN side = 'a' THEN net_amt ELSE 0 END) AS amt_a,
         SUM(CASE WHEN side = 'b' THEN net_amt ELSE 0 END) AS amt_b,
         SUM(CASE WHEN side = 'a' THEN 1 ELSE 0 END) AS n_a,
         SUM(CASE WHEN side = 'b' THEN 1 ELSE 0 END) AS n_b
  FROM sides
  GROUP BY hilist_code_a, hilist_code_b, scope, mdtrt_id, bucket
),
-- the flagged line of the cheaper side (the first pair of a line in two pairs)
picked AS (
  SELECT * FROM (
    SELECT s.feedetl_sn, s.psn_no, s.mdtrt_id, s.setl_id, s.fixmedins_code, s.net_amt AS vola_amt,
           s.hilist_code, s.item_name, s.hilist_code_a, s.hilist_code_b, s.scope, s.kb_source, s.bucket, s.side,
           s.other_code, CASE WHEN s.side = 'a' THEN t.amt_b ELSE t.amt_a END AS other_amt,
           ROW_NUMBER() OVER (PARTITION BY s.feedetl_sn ORDER BY s.hilist_code_a, s.hilist_code_b) AS rn
    FROM sides s
    JOIN totals t
      ON t.hilist_code_a = s.hilist_code_a AND t.hilist_code_b = s.hilist_code_b AND t.scope = s.scope
     AND t.mdtrt_id = s.mdtrt_id AND t.bucket = s.bucket
    WHERE t.n_a > 0 AND t.n_b > 0
      AND s.side = CASE WHEN t.amt_a < t.amt_b THEN 'a' ELSE 'b' END
  ) x
  WHERE rn = 1
),
-- the lines the flag rests on: itself and the other side's lines of its pair, encounter and bucket
involved AS (
  SELECT p.feedetl_sn, {{ list_agg(o.feedetl_sn) }} AS feedetl_sns,
         MIN(CASE WHEN o.side <> p.side THEN o.item_name END) AS other_name
  FROM picked p
  JOIN sides o
    ON o.hilist_code_a = p.hilist_code_a AND o.hilist_code_b = p.hilist_code_b AND o.scope = p.scope
   AND o.mdtrt_id = p.mdtrt_id AND o.bucket = p.bucket
   AND (o.side <> p.side OR o.feedetl_sn = p.feedetl_sn)
  GROUP BY p.feedetl_sn
)
SELECT p.feedetl_sn, p.psn_no, p.mdtrt_id, p.setl_id, p.fixmedins_code, p.vola_amt, p.hilist_code, p.item_name,
       i.feedetl_sns,
       p.other_code AS ev_other_code, COALESCE(i.other_name, p.other_code) AS ev_other_name,
       p.scope AS ev_kb_scope,
       CASE WHEN p.scope = 'day' THEN '同一天' ELSE '同一就诊' END AS ev_scope_label,
       p.other_amt AS ev_other_amt,
       p.hilist_code_a AS ev_kb_code_a, p.hilist_code_b AS ev_kb_code_b, p.kb_source AS ev_kb_source
FROM picked p
JOIN involved i ON i.feedetl_sn = p.feedetl_sn
