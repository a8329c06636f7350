-- E03: examination, lab and drug costs of outpatient encounters at the same institution within window_days
-- before admission or after discharge, above share of the stay's cost.
WITH stays AS (
  SELECT mdtrt_id, psn_no, setl_id, fixmedins_code, begntime, endtime, begn_date, end_date, medfee_sumamt FROM inpatient_stays
),
-- an outpatient visit during any inpatient stay of the person (admission to discharge time, any
-- institution) is left to D03, not counted as shifted cost of another stay
during AS (
  SELECT DISTINCT o.mdtrt_id
  FROM mdtrt_ctx o
  JOIN inpatient_stays s ON s.psn_no = o.psn_no AND s.begntime <= o.begntime AND o.begntime <= s.endtime
  WHERE o.med_type IN ('11', '13', '14')
),
outp AS (
  SELECT o.mdtrt_id, o.psn_no, o.fixmedins_code, o.begntime, o.begn_date
  FROM mdtrt_ctx o
  LEFT JOIN during d ON d.mdtrt_id = o.mdtrt_id
  WHERE o.med_type IN ('11', '13', '14') AND d.mdtrt_id IS NULL
),
links AS (
  SELECT out_id, stay_id, side, gap_days FROM (
    SELECT o.mdtrt_id AS out_id, s.mdtrt_id AS stay_id,
           CASE WHEN o.begntime < s.begntime THEN 0 ELSE 1 END AS side,
           CASE WHEN o.begntime < s.begntime THEN {{ days_between(o.begn_date, s.begn_date) }}
                ELSE {{ days_between(s.end_date, o.begn_date) }} END AS gap_days,
           ROW_NUMBER() OVER (
             PARTITION BY o.mdtrt_id
             ORDER BY CASE WHEN o.begntime < s.begntime THEN 0 ELSE 1 END,
                      CASE WHEN o.begntime < s.begntime THEN {{ days_between(o.begn_date, s.begn_date) }}
                           ELSE {{ days_between(s.end_date, o.begn_date) }} END,
                      s.mdtrt_id) AS rn
    FROM outp o
    JOIN stays s
      ON s.psn_no = o.psn_no
     AND s.fixmedins_code = o.fixmedins_code
    WHERE (o.begntime < s.begntime AND {{ days_between(o.begn_date, s.begn_date) }} BETWEEN 0 AND $window_days)
       OR (o.begntime > s.endtime AND {{ days_between(s.end_date, o.begn_date) }} BETWEEN 0 AND $window_days)
  ) l WHERE rn = 1
),
counted AS (
  SELECT l.stay_id, l.out_id, l.side, f.feedetl_sn, f.net_amt
  FROM links l
  JOIN fee_net f ON f.mdtrt_id = l.out_id
  WHERE f.med_chrgitm_type IN ('03', '04', '09', '10', '11')
),
per_stay AS (
  SELECT stay_id,
         SUM(net_amt) AS out_cost,
         SUM(CASE WHEN side = 0 THEN net_amt ELSE 0 END) AS before_cost,
         SUM(CASE WHEN side = 1 THEN net_amt ELSE 0 END) AS after_cost,
         COUNT(DISTINCT out_id) AS out_encounters,
         {{ list_agg(feedetl_sn) }} AS feedetl_sns
  FROM counted
  GROUP BY stay_id
),
ids AS (
  SELECT stay_id, {{ list_agg(id) }} AS mdtrt_ids FROM (
    SELECT DISTINCT stay_id, out_id AS id FROM counted
    UNION ALL
    SELECT DISTINCT stay_id, stay_id AS id FROM counted
  ) u GROUP BY stay_id
)
SELECT s.mdtrt_id, s.psn_no, s.setl_id, s.fixmedins_code,
       p.out_cost AS vola_amt,
       p.out_cost AS ev_outpatient_cost,
       p.before_cost AS ev_before_cost,
       p.after_cost AS ev_after_cost,
       p.out_encounters AS ev_outpatient_encounters,
       s.medfee_sumamt AS ev_stay_cost,
       CAST($share * s.medfee_sumamt AS DECIMAL(16,2)) AS ev_cost_limit,
       CAST(s.begn_date AS VARCHAR) AS ev_begn_date,
       CAST(s.end_date AS VARCHAR) AS ev_end_date,
       p.feedetl_sns,
       i.mdtrt_ids
FROM per_stay p
JOIN stays s ON s.mdtrt_id = p.stay_id
JOIN ids i ON i.stay_id = p.stay_id
WHERE p.out_cost > $share * s.medfee_sumamt
