-- C03: one drug prescribed to one person (outside inpatient stays) on min_distinct_days or more days of some window
WITH lines AS (
  SELECT l.feedetl_sn, l.mdtrt_id, l.psn_no, l.hilist_code, l.item_name, l.fee_date
  FROM fee_lines l
  WHERE l.med_chrgitm_type IN ('09', '10', '11') AND l.prd_days IS NOT NULL
    AND l.med_type NOT IN ('21', '52')
),
all_days AS (
  SELECT DISTINCT psn_no, hilist_code, fee_date FROM lines
),
-- only a person and drug with min_distinct_days dates in all can have that many in one window: the
-- window self-join runs over those (most person-drug pairs have a date or two)
days AS (
  SELECT d.psn_no, d.hilist_code, d.fee_date
  FROM all_days d
  JOIN (SELECT psn_no, hilist_code FROM all_days GROUP BY psn_no, hilist_code HAVING COUNT(*) >= $min_distinct_days) m
    ON m.psn_no = d.psn_no AND m.hilist_code = d.hilist_code
),
windows AS (
  SELECT a.psn_no, a.hilist_code, a.fee_date AS window_start,
         {{ add_days(a.fee_date, $window_days - 1) }} AS window_end, COUNT(*) AS distinct_days
  FROM days a
  JOIN days b
    ON b.psn_no = a.psn_no AND b.hilist_code = a.hilist_code
   AND b.fee_date >= a.fee_date AND b.fee_date <= {{ add_days(a.fee_date, $window_days - 1) }}
  GROUP BY a.psn_no, a.hilist_code, a.fee_date
  HAVING COUNT(*) >= $min_distinct_days
),
summary AS (
  SELECT psn_no, hilist_code, MIN(window_start) AS first_window_start, MAX(distinct_days) AS max_distinct_days,
         COUNT(*) AS window_count
  FROM windows
  GROUP BY psn_no, hilist_code
),
-- the message names the window with the most dates (the earliest of equals), so its start and count agree
busiest AS (
  SELECT w.psn_no, w.hilist_code, MIN(w.window_start) AS busiest_window_start
  FROM windows w
  JOIN summary s ON s.psn_no = w.psn_no AND s.hilist_code = w.hilist_code AND w.distinct_days = s.max_distinct_days
  GROUP BY w.psn_no, w.hilist_code
),
evidence AS (
  SELECT l.psn_no, l.hilist_code, MAX(l.item_name) AS item_name,
         {{ list_agg(l.feedetl_sn) }} AS feedetl_sns, {{ list_agg(l.mdtrt_id) }} AS mdtrt_ids,
         {{ list_agg(CAST(l.fee_date AS VARCHAR)) }} AS fee_dates
  FROM lines l
  WHERE EXISTS (SELECT 1 FROM windows w
                WHERE w.psn_no = l.psn_no AND w.hilist_code = l.hilist_code
                  AND l.fee_date >= w.window_start AND l.fee_date <= w.window_end)
  GROUP BY l.psn_no, l.hilist_code
)
SELECT s.psn_no, s.hilist_code AS flag_detail, CAST(0 AS DECIMAL(16,2)) AS vola_amt,
       e.feedetl_sns, e.mdtrt_ids, s.hilist_code, e.item_name,
       s.first_window_start AS ev_first_window_start, b.busiest_window_start AS ev_busiest_window_start,
       s.max_distinct_days AS ev_max_distinct_days, e.fee_dates AS ev_fee_dates
FROM summary s
JOIN busiest b ON b.psn_no = s.psn_no AND b.hilist_code = s.hilist_code
JOIN evidence e ON e.psn_no = s.psn_no AND e.hilist_code = s.hilist_code
