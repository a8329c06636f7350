-- B09: second and later full-price operations of one group on one encounter and day; the main operation
-- (charged in full) is the one with the highest catalog price, ties by fee time and line
WITH ops AS (
  SELECT l.feedetl_sn, l.mdtrt_id, l.psn_no, l.setl_id, l.fixmedins_code, l.fee_date, l.fee_ocur_time, l.pric, l.net_cnt, l.hilist_code, l.item_name,
         g.group_name, g.source AS group_source, h.pric_uplmt_amt AS catalog_pric, h.source AS pric_source
  FROM fee_lines l
  JOIN kb_oprn_group g ON g.hilist_code = l.hilist_code
  JOIN kb_hilist h ON h.hilist_code = l.hilist_code
  WHERE h.pric_uplmt_amt > 0
    AND l.pric >= h.pric_uplmt_amt * $full_price_ratio
),
ranked AS (
  SELECT o.*, ROW_NUMBER() OVER (PARTITION BY o.mdtrt_id, o.group_name, o.fee_date
                                 ORDER BY o.catalog_pric DESC, o.fee_ocur_time, o.feedetl_sn) AS seq
  FROM ops o
),
-- an operation listed in several groups may come second in more than one: one flag per line, the
-- group named first (the amount does not depend on the group); a price at or below the discounted
-- price is no finding even when `full_price_ratio` is set that low
-- the main line billed more than once (a bilateral or repeated operation on one line): its units after
-- the first are second operations too. A line that comes first in one group and later in another is
-- judged where more of its units come later
later AS (
  SELECT r.*, CASE WHEN r.seq = 1 THEN r.net_cnt - 1 ELSE r.net_cnt END AS later_cnt
  FROM ranked r
  WHERE (r.seq >= 2 OR r.net_cnt > 1) AND r.pric > r.catalog_pric * $max_discounted_ratio
),
picked AS (
  SELECT l.*, ROW_NUMBER() OVER (PARTITION BY l.feedetl_sn ORDER BY l.later_cnt DESC, l.group_name) AS pick
  FROM later l
),
flagged AS (SELECT * FROM picked WHERE pick = 1),
-- the flag rests on its line and the lines ranked before it in its group and day (the main operation),
-- found in `ops` by the ranking's own order (joining `ranked` again would run its window twice)
involved AS (
  SELECT f.feedetl_sn, {{ list_agg(o.feedetl_sn) }} AS feedetl_sns
  FROM flagged f
  JOIN ops o ON o.mdtrt_id = f.mdtrt_id AND o.group_name = f.group_name AND o.fee_date = f.fee_date
  WHERE o.catalog_pric > f.catalog_pric
     OR (o.catalog_pric = f.catalog_pric
         AND (o.fee_ocur_time < f.fee_ocur_time OR (o.fee_ocur_time = f.fee_ocur_time AND o.feedetl_sn <= f.feedetl_sn)))
  GROUP BY f.feedetl_sn
)
SELECT f.feedetl_sn, f.psn_no, f.mdtrt_id, f.setl_id, f.fixmedins_code,
       (f.pric - f.catalog_pric * $max_discounted_ratio) * f.later_cnt AS vola_amt,
       f.hilist_code, f.item_name, i.feedetl_sns,
       f.group_name AS ev_kb_group_name, f.group_source AS ev_kb_group_source,
       f.catalog_pric AS ev_catalog_pric, f.pric_source AS ev_kb_pric_source, f.pric AS ev_pric, f.seq AS ev_seq,
       f.later_cnt AS ev_discounted_cnt, {{ num_text($max_discounted_ratio * 100) }} AS ev_discount_pct
FROM flagged f
JOIN involved i ON i.feedetl_sn = f.feedetl_sn
