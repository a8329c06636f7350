-- B11: uses of a course-limited item beyond max_days from the course's first day, or too soon after the previous use;
-- a flag rests on its line and the person's lines of the item on the course's first day and the previous use day
WITH uses AS (
  SELECT DISTINCT f.psn_no, k.kb_hilist_code, f.fee_date, k.max_days, k.min_interval_days
  FROM fee_net f
  JOIN kb_item_course_match k ON k.hilist_code = f.hilist_code
  WHERE NOT (f.med_chrgitm_type IN ('09', '10', '11') AND f.prd_days IS NOT NULL)
),
seq AS (
  SELECT u.*, LAG(u.fee_date) OVER (PARTITION BY u.psn_no, u.kb_hilist_code ORDER BY u.fee_date) AS prev_date
  FROM uses u
),
courses AS (
  SELECT s.*,
         SUM(CASE WHEN s.prev_date IS NULL OR {{ days_between(s.prev_date, s.fee_date) }} >= $course_gap_days THEN 1 ELSE 0 END)
           OVER (PARTITION BY s.psn_no, s.kb_hilist_code ORDER BY s.fee_date
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS course_no
  FROM seq s
),
starts AS (
  SELECT c.*, MIN(c.fee_date) OVER (PARTITION BY c.psn_no, c.kb_hilist_code, c.course_no) AS course_start
  FROM courses c
),
bad_days AS (
  SELECT psn_no, kb_hilist_code, fee_date, course_start, prev_date, max_days, min_interval_days,
         CASE WHEN max_days IS NOT NULL AND {{ days_between(course_start, fee_date) }} > max_days
              THEN concat('疗程限 ', CAST(max_days AS VARCHAR), ' 天，疗程自 ', CAST(course_start AS VARCHAR),
                          ' 起，首日后第 ', CAST({{ days_between(course_start, fee_date) }} AS VARCHAR), ' 天仍收费')
              ELSE concat('两次使用最少间隔 ', CAST(min_interval_days AS VARCHAR), ' 天，距上次 ', CAST(prev_date AS VARCHAR),
                          ' 仅 ', CAST({{ days_between(prev_date, fee_date) }} AS VARCHAR), ' 天')
         END AS reason
  FROM starts
  WHERE (max_days IS NOT NULL AND {{ days_between(course_start, fee_date) }} > max_days)
     OR (min_interval_days IS NOT NULL AND prev_date IS NOT NULL
         AND {{ days_between(prev_date, fee_date) }} < min_interval_days)
),
flagged AS (
SELECT l.feedetl_sn, l.psn_no, l.mdtrt_id, l.setl_id, l.fixmedins_code, l.net_amt AS vola_amt, l.hilist_code, l.item_name,
       b.course_start AS ev_course_start, b.prev_date AS ev_prev_date,
       b.max_days AS ev_kb_max_days, b.min_interval_days AS ev_kb_min_interval_days,
       b.reason AS ev_reason,
       k.kb_hilist_code AS ev_kb_code, k.source AS ev_kb_source
FROM fee_lines l
JOIN kb_item_course_match k ON k.hilist_code = l.hilist_code
JOIN bad_days b ON b.psn_no = l.psn_no AND b.kb_hilist_code = k.kb_hilist_code AND b.fee_date = l.fee_date
WHERE NOT (l.med_chrgitm_type IN ('09', '10', '11') AND l.prd_days IS NOT NULL)
),
involved AS (
  SELECT a.feedetl_sn, {{ list_agg(x.feedetl_sn) }} AS feedetl_sns, {{ list_agg(x.mdtrt_id) }} AS mdtrt_ids
  FROM flagged a
  -- the course items' lines first (a join with the small match view), then the flagged lines' persons
  JOIN (
    SELECT x.feedetl_sn, x.mdtrt_id, x.psn_no, x.fee_date, kx.kb_hilist_code
    FROM fee_net x
    JOIN kb_item_course_match kx ON kx.hilist_code = x.hilist_code
    WHERE NOT (x.med_chrgitm_type IN ('09', '10', '11') AND x.prd_days IS NOT NULL)
  ) x ON x.psn_no = a.psn_no AND x.kb_hilist_code = a.ev_kb_code
  WHERE x.feedetl_sn = a.feedetl_sn OR x.fee_date = a.ev_course_start OR x.fee_date = a.ev_prev_date
  GROUP BY a.feedetl_sn
)
SELECT a.*, i.feedetl_sns, i.mdtrt_ids
FROM flagged a
JOIN involved i ON i.feedetl_sn = a.feedetl_sn
