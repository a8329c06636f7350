-- D03: an outpatient or pharmacy encounter of the person strictly inside an inpatient stay's days
-- (from the day after admission to the day before discharge), at any institution.
WITH hit AS (
  SELECT mdtrt_id, stay_id FROM (
    SELECT o.mdtrt_id, s.mdtrt_id AS stay_id,
           ROW_NUMBER() OVER (PARTITION BY o.mdtrt_id ORDER BY s.begntime, s.mdtrt_id) AS rn
    FROM mdtrt_ctx o
    JOIN inpatient_stays s
      ON s.psn_no = o.psn_no
     AND o.begn_date > s.begn_date
     AND o.begn_date < s.end_date
    WHERE o.med_type IN ('11', '13', '14', '41', '51')
  ) p WHERE rn = 1
),
ids AS (
  SELECT mdtrt_id, {{ list_agg(id) }} AS mdtrt_ids FROM (
    SELECT mdtrt_id, mdtrt_id AS id FROM hit
    UNION ALL
    SELECT mdtrt_id, stay_id AS id FROM hit
  ) u GROUP BY mdtrt_id
)
SELECT o.mdtrt_id, o.psn_no, o.setl_id, o.fixmedins_code,
       o.hifp_pay AS vola_amt,
       o.med_type AS ev_med_type,
       CASE o.med_type WHEN '11' THEN '普通门诊' WHEN '13' THEN '急诊' WHEN '14' THEN '门诊慢特病' WHEN '21' THEN '住院' WHEN '41' THEN '定点药店购药' WHEN '51' THEN '生育门诊' WHEN '52' THEN '生育住院' ELSE o.med_type END AS ev_med_type_label,
       CAST(o.begn_date AS VARCHAR) AS ev_visit_date,
       o.fixmedins_code AS ev_visit_fixmedins_code,
       s.mdtrt_id AS ev_stay_mdtrt_id,
       s.fixmedins_code AS ev_stay_fixmedins_code,
       CAST(s.begn_date AS VARCHAR) AS ev_stay_begn_date,
       CAST(s.end_date AS VARCHAR) AS ev_stay_end_date,
       o.hifp_pay AS ev_hifp_pay,
       i.mdtrt_ids
FROM hit h
JOIN mdtrt_ctx o ON o.mdtrt_id = h.mdtrt_id
JOIN inpatient_stays s ON s.mdtrt_id = h.stay_id
JOIN ids i ON i.mdtrt_id = h.mdtrt_id
