-- D02: outpatient encounters (11, 13, 14) of one person at min_institutions or more institutions on one day.
-- the days at min_institutions or more come first (one count per person and day); only their encounters
-- are listed (a list per day of every person would be built and thrown away)
WITH visits AS (
  SELECT psn_no, begn_date, fixmedins_code, mdtrt_id FROM mdtrt_ctx WHERE med_type IN ('11', '13', '14')
),
days AS (
  SELECT psn_no, begn_date FROM visits
  GROUP BY psn_no, begn_date
  HAVING COUNT(DISTINCT fixmedins_code) >= $min_institutions
)
SELECT v.psn_no,
       CAST(v.begn_date AS VARCHAR) AS flag_detail,
       CAST(0 AS DECIMAL(16,2)) AS vola_amt,
       CAST(v.begn_date AS VARCHAR) AS ev_date,
       COUNT(DISTINCT v.fixmedins_code) AS ev_institutions,
       COUNT(*) AS ev_encounters,
       {{ list_agg(v.mdtrt_id) }} AS mdtrt_ids
FROM visits v JOIN days d ON d.psn_no = v.psn_no AND d.begn_date = v.begn_date
GROUP BY v.psn_no, v.begn_date
