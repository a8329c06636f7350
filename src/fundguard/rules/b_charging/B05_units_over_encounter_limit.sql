-- B05: units of an item on one encounter beyond its per-encounter limit, on the latest lines; a flag rests
-- on its line and the encounter's earlier lines of the item (they used up the limit)
WITH flagged AS (
SELECT l.feedetl_sn, l.fee_ocur_time, l.psn_no, l.mdtrt_id, l.setl_id, l.fixmedins_code,
       CASE WHEN x.cum_cnt - x.max_cnt >= x.net_cnt THEN x.net_cnt ELSE x.cum_cnt - x.max_cnt END * x.pric AS vola_amt,
       l.hilist_code, l.item_name,
       x.kb_hilist_code AS ev_kb_code, x.source AS ev_kb_source, x.max_cnt AS ev_kb_max_cnt, x.cum_cnt AS ev_cum_cnt,
       CASE WHEN x.cum_cnt - x.max_cnt >= x.net_cnt THEN x.net_cnt ELSE x.cum_cnt - x.max_cnt END AS ev_beyond_cnt
FROM (
  SELECT f.feedetl_sn, f.net_cnt, f.pric, k.kb_hilist_code, k.source, k.max_cnt,
         SUM(f.net_cnt) OVER (PARTITION BY f.mdtrt_id, f.hilist_code, k.kb_hilist_code
                              ORDER BY f.fee_ocur_time, f.feedetl_sn
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum_cnt
  FROM fee_net f
  JOIN kb_item_limit_match k ON k.hilist_code = f.hilist_code
  -- the running sum is needed only where the encounter's total exceeds the limit (one aggregate first,
  -- so only those groups are sorted)
  JOIN (
    SELECT g.mdtrt_id, g.hilist_code, gk.kb_hilist_code
    FROM fee_net g
    JOIN kb_item_limit_match gk ON gk.hilist_code = g.hilist_code
    WHERE gk.per = 'mdtrt'
    GROUP BY g.mdtrt_id, g.hilist_code, gk.kb_hilist_code
    HAVING SUM(g.net_cnt) > MIN(gk.max_cnt)
  ) o ON o.mdtrt_id = f.mdtrt_id AND o.hilist_code = f.hilist_code AND o.kb_hilist_code = k.kb_hilist_code
  WHERE k.per = 'mdtrt'
) x
JOIN fee_lines l ON l.feedetl_sn = x.feedetl_sn
WHERE x.cum_cnt > x.max_cnt
),
involved AS (
  SELECT a.feedetl_sn, {{ list_agg(b.feedetl_sn) }} AS feedetl_sns
  FROM flagged a
  JOIN fee_net b
    ON b.mdtrt_id = a.mdtrt_id AND b.hilist_code = a.hilist_code
   AND (b.fee_ocur_time < a.fee_ocur_time OR (b.fee_ocur_time = a.fee_ocur_time AND b.feedetl_sn <= a.feedetl_sn))
  GROUP BY a.feedetl_sn
)
SELECT a.feedetl_sn, a.psn_no, a.mdtrt_id, a.setl_id, a.fixmedins_code, a.vola_amt, a.hilist_code, a.item_name,
       i.feedetl_sns, a.ev_kb_code, a.ev_kb_source, a.ev_kb_max_cnt, a.ev_cum_cnt, a.ev_beyond_cnt
FROM flagged a
JOIN involved i ON i.feedetl_sn = a.feedetl_sn
