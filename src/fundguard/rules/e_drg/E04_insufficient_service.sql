-- E04: a stay discharged on medical advice (dscg_way 1) whose cost and length are both far below its DRG group's averages.
SELECT s.mdtrt_id, s.psn_no, s.setl_id, s.fixmedins_code,
       CAST(0 AS DECIMAL(16,2)) AS vola_amt,
       s.drg_code AS ev_drg_code,
       COALESCE(k.drg_name, s.drg_code) AS ev_drg_name,
       s.medfee_sumamt AS ev_cost,
       k.avg_cost AS ev_kb_avg_cost,
       k.source AS ev_kb_source,
       CAST($cost_share * k.avg_cost AS DECIMAL(16,2)) AS ev_cost_limit,
       s.stay_days AS ev_stay_days,
       CAST(k.avg_los AS DECIMAL(8,2)) AS ev_kb_avg_los,
       CAST($los_share * k.avg_los AS DECIMAL(16,2)) AS ev_los_limit
FROM inpatient_stays s
JOIN kb_drg k ON k.drg_code = s.drg_code
WHERE s.dscg_way = '1'
  AND s.medfee_sumamt < $cost_share * k.avg_cost
  AND s.stay_days < $los_share * k.avg_los
