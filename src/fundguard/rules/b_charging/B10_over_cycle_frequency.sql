-- B10: units of a cycle-limited item beyond max_cnt in the cycle_days window ending at each line; the
-- flag rests on the window's lines (the earlier ones used up the limit)
WITH lines AS (
  SELECT f.feedetl_sn, f.mdtrt_id, f.psn_no, f.fee_date, f.fee_ocur_time, f.net_cnt, f.pric,
         k.kb_hilist_code, k.source, k.max_cnt, k.cycle_days
  FROM fee_net f
  JOIN kb_item_cycle_match k ON k.hilist_code = f.hilist_code
),
windowed AS (
  SELECT a.feedetl_sn, a.net_cnt, a.pric, a.kb_hilist_code, a.source, a.max_cnt, a.cycle_days,
         SUM(b.net_cnt) AS window_cnt, MIN(b.fee_date) AS window_start,
         {{ list_agg(b.feedetl_sn) }} AS feedetl_sns, {{ list_agg(b.mdtrt_id) }} AS mdtrt_ids
  FROM lines a
  JOIN lines b
    ON b.psn_no = a.psn_no AND b.kb_hilist_code = a.kb_hilist_code
   AND b.fee_date >= {{ add_days(a.fee_date, 1 - a.cycle_days) }}
   AND (b.fee_ocur_time < a.fee_ocur_time OR (b.fee_ocur_time = a.fee_ocur_time AND b.feedetl_sn <= a.feedetl_sn))
  GROUP BY a.feedetl_sn, a.net_cnt, a.pric, a.kb_hilist_code, a.source, a.max_cnt, a.cycle_days
)
SELECT l.feedetl_sn, l.psn_no, l.mdtrt_id, l.setl_id, l.fixmedins_code,
       CASE WHEN w.window_cnt - w.max_cnt >= w.net_cnt THEN w.net_cnt ELSE w.window_cnt - w.max_cnt END * w.pric AS vola_amt,
       l.hilist_code, l.item_name, w.feedetl_sns, w.mdtrt_ids,
       w.kb_hilist_code AS ev_kb_code, w.source AS ev_kb_source, w.max_cnt AS ev_kb_max_cnt, w.cycle_days AS ev_kb_cycle_days,
       w.window_cnt AS ev_window_cnt, w.window_start AS ev_window_start
FROM windowed w
JOIN fee_lines l ON l.feedetl_sn = w.feedetl_sn
WHERE w.window_cnt > w.max_cnt
