-- C08: supply of a course-limited drug on days beyond max_days from the first use of its course; a flag
-- rests on its line and the lines of the course's first day
WITH drug AS (
  SELECT f.feedetl_sn, f.mdtrt_id, f.psn_no, f.fee_date, f.fee_ocur_time, f.prd_days, f.net_amt,
         {{ add_days(f.fee_date, f.prd_days) }} AS supply_end,
         k.kb_hilist_code, k.source AS kb_source, k.max_days
  FROM fee_net f
  JOIN kb_item_course_match k ON k.hilist_code = f.hilist_code
  WHERE f.med_chrgitm_type IN ('09', '10', '11') AND f.prd_days IS NOT NULL AND f.prd_days > 0
    AND k.max_days IS NOT NULL
),
seq AS (
  SELECT d.*,
         MAX(d.supply_end) OVER (PARTITION BY d.psn_no, d.kb_hilist_code ORDER BY d.fee_ocur_time, d.feedetl_sn
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
  FROM drug d
),
-- a course breaks when course_gap_days or more pass from the last day supplied so far to the next fee day
courses AS (
  SELECT s.*,
         SUM(CASE WHEN s.prev_end IS NULL OR {{ days_between(s.prev_end, s.fee_date) }} + 1 >= $course_gap_days THEN 1 ELSE 0 END)
           OVER (PARTITION BY s.psn_no, s.kb_hilist_code ORDER BY s.fee_ocur_time, s.feedetl_sn
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS course_no
  FROM seq s
),
bounded AS (
  SELECT c.*, MIN(c.fee_date) OVER (PARTITION BY c.psn_no, c.kb_hilist_code, c.course_no) AS course_start
  FROM courses c
),
beyond AS (
  SELECT b.*, {{ add_days(b.course_start, b.max_days) }} AS course_end
  FROM bounded b
),
measured AS (
  SELECT x.*,
         {{ days_between(CASE WHEN x.fee_date > x.course_end THEN x.fee_date ELSE x.course_end END, x.supply_end) }} AS beyond_days
  FROM beyond x
  WHERE x.supply_end > x.course_end
),
involved AS (
  SELECT m.feedetl_sn, {{ list_agg(d.feedetl_sn) }} AS feedetl_sns, {{ list_agg(d.mdtrt_id) }} AS mdtrt_ids
  FROM measured m
  JOIN drug d ON d.psn_no = m.psn_no AND d.kb_hilist_code = m.kb_hilist_code
   AND (d.fee_date = m.course_start OR d.feedetl_sn = m.feedetl_sn)
  GROUP BY m.feedetl_sn
)
SELECT m.feedetl_sn, i.feedetl_sns, i.mdtrt_ids,
       {{ prorate_amt(m.net_amt, m.beyond_days, m.prd_days) }} AS vola_amt,
       l.psn_no, l.mdtrt_id, l.setl_id, l.fixmedins_code, l.hilist_code, l.item_name,
       m.kb_hilist_code AS ev_kb_hilist_code, m.kb_source AS ev_kb_source, m.max_days AS ev_kb_max_days,
       m.course_start AS ev_course_start, {{ add_days(m.course_end, -1) }} AS ev_course_last_day,
       m.fee_date AS ev_fee_date, m.prd_days AS ev_prd_days, m.beyond_days AS ev_beyond_days
FROM measured m
JOIN involved i ON i.feedetl_sn = m.feedetl_sn
JOIN fee_lines l ON l.feedetl_sn = m.feedetl_sn
