-- D06: an inpatient stay whose days mostly carry only bed (01), nursing (07) and other (14) charges,
-- or with absence check-ins (result 2) on absent_days or more calendar days.
-- The stay's days are day 0 (admission date) .. stay_days - 1; a fee or check-in dated before admission
-- counts for day 0, one dated on or after the discharge date for the last day.
WITH stays AS (
  SELECT mdtrt_id, psn_no, setl_id, fixmedins_code, begn_date, end_date, stay_days, hifp_pay FROM inpatient_stays
),
services AS (
  SELECT s.mdtrt_id, s.stay_days, {{ days_between(s.begn_date, f.fee_date) }} AS d
  FROM fee_net f
  JOIN stays s ON s.mdtrt_id = f.mdtrt_id
  WHERE f.med_chrgitm_type NOT IN ('01', '07', '14')
),
absences AS (
  SELECT s.mdtrt_id, s.stay_days, {{ days_between(s.begn_date, c.chk_time) }} AS d,
         {{ to_date(c.chk_time) }} AS chk_date
  FROM checkin c
  JOIN stays s ON s.mdtrt_id = c.mdtrt_id
  WHERE c.result = '2'
),
marks AS (
  SELECT mdtrt_id, CASE WHEN d < 0 THEN 0 WHEN d >= stay_days THEN stay_days - 1 ELSE d END AS day_idx,
         1 AS has_service, 0 AS is_absent
  FROM services
  UNION ALL
  SELECT mdtrt_id, CASE WHEN d < 0 THEN 0 WHEN d >= stay_days THEN stay_days - 1 ELSE d END AS day_idx,
         0 AS has_service, 1 AS is_absent
  FROM absences
),
stay_marks AS (
  SELECT mdtrt_id,
         SUM(has_service) AS service_days,
         SUM(CASE WHEN has_service = 1 AND is_absent = 0 THEN 1 ELSE 0 END) AS attended_days,
         SUM(is_absent) AS absent_stay_days
  FROM (
    SELECT mdtrt_id, day_idx, MAX(has_service) AS has_service, MAX(is_absent) AS is_absent
    FROM marks
    GROUP BY mdtrt_id, day_idx
  ) d
  GROUP BY mdtrt_id
),
absent_dates AS (
  SELECT mdtrt_id, COUNT(DISTINCT chk_date) AS absent_days FROM absences GROUP BY mdtrt_id
),
-- stays with any check-in record: "0 days absent" means checked and present only where there are records
checked AS (
  SELECT c.mdtrt_id, COUNT(*) AS checkins FROM checkin c JOIN stays s ON s.mdtrt_id = c.mdtrt_id GROUP BY c.mdtrt_id
),
measured AS (
  SELECT s.mdtrt_id, s.psn_no, s.setl_id, s.fixmedins_code, s.stay_days, s.hifp_pay, s.begn_date, s.end_date,
         s.stay_days - COALESCE(m.service_days, 0) AS empty_days,
         s.stay_days - COALESCE(m.attended_days, 0) AS empty_or_absent_days,
         COALESCE(m.absent_stay_days, 0) AS absent_stay_days,
         COALESCE(a.absent_days, 0) AS absent_days,
         COALESCE(c.checkins, 0) AS checkins
  FROM stays s
  LEFT JOIN stay_marks m ON m.mdtrt_id = s.mdtrt_id
  LEFT JOIN absent_dates a ON a.mdtrt_id = s.mdtrt_id
  LEFT JOIN checked c ON c.mdtrt_id = s.mdtrt_id
),
judged AS (
  SELECT x.*,
         -- the empty days are unpaid only when they make the empty-day finding; a stay flagged for its
         -- absences alone is charged for the days with an absence check-in
         CASE WHEN x.empty_finding THEN x.empty_or_absent_days ELSE x.absent_stay_days END AS unpaid_days
  FROM (
    SELECT m.*, (m.stay_days >= $min_stay_days AND m.empty_days >= $empty_day_share * m.stay_days) AS empty_finding
    FROM measured m
  ) x
)
SELECT mdtrt_id, psn_no, setl_id, fixmedins_code,
       -- hifp_pay x unpaid_days / stay_days in cents, rounded half away from zero
       CASE WHEN hifp_pay > 0 THEN {{ prorate_amt(hifp_pay, unpaid_days, stay_days) }}
            ELSE CAST(0 AS DECIMAL(16,2)) END AS vola_amt,
       stay_days AS ev_stay_days,
       CAST(begn_date AS VARCHAR) AS ev_begn_date,
       CAST(end_date AS VARCHAR) AS ev_end_date,
       empty_days AS ev_empty_days,
       {{ pct1(empty_days, stay_days) }} AS ev_empty_pct,
       absent_days AS ev_absent_days,
       checkins AS ev_checkins,
       CASE WHEN checkins = 0 THEN '无签到核验记录'
            ELSE concat(CAST(absent_days AS VARCHAR), ' 天签到不在院（标准 ', CAST($absent_days AS VARCHAR), ' 天）')
       END AS ev_absence_text,
       unpaid_days AS ev_unpaid_days,
       hifp_pay AS ev_hifp_pay
FROM judged
WHERE empty_finding OR absent_days >= $absent_days
