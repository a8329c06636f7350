-- D07: an inpatient stay overlapping an earlier stay of the same person (any institution) by
-- min_overlap_days or more calendar days, or lying wholly inside it (a stay within one day has no calendar
-- overlap, yet nobody is in two hospitals at once); the later stay (by begntime, then mdtrt_id) is flagged.
WITH pairs AS (
  SELECT b.mdtrt_id, a.mdtrt_id AS earlier_id,
         {{ days_between(b.begn_date, CASE WHEN a.end_date < b.end_date THEN a.end_date ELSE b.end_date END) }} AS overlap_days,
         a.begntime AS earlier_begntime, CASE WHEN b.endtime <= a.endtime THEN 1 ELSE 0 END AS nested
  FROM inpatient_stays b
  JOIN inpatient_stays a
    ON a.psn_no = b.psn_no
   AND (a.begntime < b.begntime OR (a.begntime = b.begntime AND a.mdtrt_id < b.mdtrt_id))
   AND (a.end_date > b.begn_date OR b.endtime <= a.endtime)
  WHERE {{ days_between(b.begn_date, CASE WHEN a.end_date < b.end_date THEN a.end_date ELSE b.end_date END) }} >= $min_overlap_days
     OR b.endtime <= a.endtime
),
best AS (
  SELECT mdtrt_id, earlier_id, overlap_days, nested FROM (
    SELECT p.*, ROW_NUMBER() OVER (PARTITION BY mdtrt_id ORDER BY overlap_days DESC, earlier_begntime, earlier_id) AS rn
    FROM pairs p
  ) x WHERE rn = 1
),
ids AS (
  SELECT mdtrt_id, {{ list_agg(id) }} AS mdtrt_ids FROM (
    SELECT mdtrt_id, mdtrt_id AS id FROM best
    UNION ALL
    SELECT mdtrt_id, earlier_id AS id FROM pairs
  ) u GROUP BY mdtrt_id
)
SELECT b.mdtrt_id, s.psn_no, s.setl_id, s.fixmedins_code,
       s.hifp_pay AS vola_amt,
       b.earlier_id AS ev_earlier_mdtrt_id,
       e.fixmedins_code AS ev_earlier_fixmedins_code,
       CAST(e.begn_date AS VARCHAR) AS ev_earlier_begn_date,
       CAST(e.end_date AS VARCHAR) AS ev_earlier_end_date,
       s.fixmedins_code AS ev_fixmedins_code,
       CAST(s.begn_date AS VARCHAR) AS ev_begn_date,
       CAST(s.end_date AS VARCHAR) AS ev_end_date,
       b.overlap_days AS ev_overlap_days,
       CASE WHEN b.overlap_days < $min_overlap_days THEN '重叠（本次住院完全落在其期间之内）'
            ELSE concat('重叠 ', CAST(b.overlap_days AS VARCHAR), ' 天（标准 ', CAST($min_overlap_days AS VARCHAR), ' 天）')
       END AS ev_overlap_text,
       s.hifp_pay AS ev_hifp_pay,
       i.mdtrt_ids
FROM best b
JOIN inpatient_stays s ON s.mdtrt_id = b.mdtrt_id
JOIN inpatient_stays e ON e.mdtrt_id = b.earlier_id
JOIN ids i ON i.mdtrt_id = b.mdtrt_id
