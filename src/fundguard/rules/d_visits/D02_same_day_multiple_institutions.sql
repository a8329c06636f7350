-- D02: outpatient encounters (11, 13, 14) of one person at min_institutions or more institutions on one day.
SELECT psn_no,
       CAST(begn_date AS VARCHAR) AS flag_detail,
       CAST(0 AS DECIMAL(16,2)) AS vola_amt,
       CAST(begn_date AS VARCHAR) AS ev_date,
       COUNT(DISTINCT fixmedins_code) AS ev_institutions,
       COUNT(*) AS ev_encounters,
       {{ list_agg(mdtrt_id) }} AS mdtrt_ids
FROM mdtrt_ctx
WHERE med_type IN ('11', '13', '14')
GROUP BY psn_no, begn_date
HAVING COUNT(DISTINCT fixmedins_code) >= $min_institutions
