-- C05: more days of one drug dispensed to one person within a rolling window than is plausible; amount beyond window_days of supply
-- drug lines outside hospital stays (an inpatient's per-dose lines are not medicine taken home); a partly
-- refunded line supplies prd_days x net_cnt / cnt whole days (as C02)
WITH supplied AS (
  SELECT l.feedetl_sn, l.mdtrt_id, l.psn_no, l.hilist_code, l.item_name, l.fee_date, l.fee_ocur_time, l.net_amt,
         CASE WHEN l.net_cnt >= l.cnt THEN l.prd_days
              ELSE CAST(FLOOR(CAST(l.prd_days AS DOUBLE) * CAST(l.net_cnt AS DOUBLE) / CAST(l.cnt AS DOUBLE) + 0.000001) AS INTEGER)
         END AS prd_days
  FROM fee_lines l
  WHERE l.med_chrgitm_type IN ('09', '10', '11') AND l.prd_days IS NOT NULL AND l.prd_days > 0
    AND l.med_type NOT IN ('21', '52')
),
lines AS (
  SELECT * FROM supplied WHERE prd_days > 0
),
-- only a person and drug with more than max_supply_days of supply in all can exceed it in one window
heavy AS (
  SELECT l.*
  FROM lines l
  JOIN (SELECT psn_no, hilist_code FROM lines GROUP BY psn_no, hilist_code HAVING SUM(prd_days) > $max_supply_days) h
    ON h.psn_no = l.psn_no AND h.hilist_code = l.hilist_code
),
starts AS (
  SELECT DISTINCT psn_no, hilist_code, fee_date AS window_start FROM heavy
),
windows AS (
  SELECT s.psn_no, s.hilist_code, s.window_start, {{ add_days(s.window_start, $window_days - 1) }} AS window_end,
         SUM(l.prd_days) AS supply_days
  FROM starts s
  JOIN heavy l
    ON l.psn_no = s.psn_no AND l.hilist_code = s.hilist_code
   AND l.fee_date >= s.window_start AND l.fee_date <= {{ add_days(s.window_start, $window_days - 1) }}
  GROUP BY s.psn_no, s.hilist_code, s.window_start
  HAVING SUM(l.prd_days) > $max_supply_days
),
-- one flag per person and drug: the window with the most supply days (the earliest of equals)
best AS (
  SELECT psn_no, hilist_code, window_start, window_end, supply_days FROM (
    SELECT w.*, ROW_NUMBER() OVER (PARTITION BY w.psn_no, w.hilist_code ORDER BY w.supply_days DESC, w.window_start) AS rn
    FROM windows w
  ) x WHERE rn = 1
),
in_window AS (
  SELECT b.psn_no, b.hilist_code, b.window_start, b.window_end, b.supply_days,
         l.feedetl_sn, l.mdtrt_id, l.item_name, l.prd_days, l.net_amt,
         SUM(l.prd_days) OVER (PARTITION BY b.psn_no, b.hilist_code ORDER BY l.fee_ocur_time, l.feedetl_sn
                               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum_days
  FROM best b
  JOIN heavy l
    ON l.psn_no = b.psn_no AND l.hilist_code = b.hilist_code
   AND l.fee_date >= b.window_start AND l.fee_date <= b.window_end
),
beyond AS (
  SELECT i.*,
         CASE
           WHEN i.cum_days <= $window_days THEN 0
           WHEN i.cum_days - $window_days >= i.prd_days THEN i.prd_days
           ELSE i.cum_days - $window_days
         END AS beyond_days
  FROM in_window i
)
SELECT psn_no, hilist_code AS flag_detail,
       SUM({{ prorate_amt(net_amt, beyond_days, prd_days) }}) AS vola_amt,
       {{ list_agg(feedetl_sn) }} AS feedetl_sns, {{ list_agg(mdtrt_id) }} AS mdtrt_ids,
       hilist_code, MAX(item_name) AS item_name,
       MIN(window_start) AS ev_window_start, MAX(window_end) AS ev_window_end,
       MAX(supply_days) AS ev_supply_days, SUM(beyond_days) AS ev_beyond_days
FROM beyond
GROUP BY psn_no, hilist_code
