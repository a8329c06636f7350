-- E01: an inpatient stay of a low-risk DRG group that is short and cheap, or exam-heavy without surgery.
WITH costs AS (
  SELECT mdtrt_id,
         SUM(net_amt) AS line_cost,
         SUM(CASE WHEN med_chrgitm_type IN ('03', '04') THEN net_amt ELSE 0 END) AS exam_cost,
         SUM(CASE WHEN med_chrgitm_type = '06' THEN 1 ELSE 0 END) AS surgery_lines
  FROM fee_net
  GROUP BY mdtrt_id
),
judged AS (
  SELECT s.mdtrt_id, s.psn_no, s.setl_id, s.fixmedins_code, s.drg_code, k.drg_name, k.avg_cost, k.source AS kb_source, s.stay_days, s.medfee_sumamt, s.hifp_pay,
         COALESCE(c.line_cost, 0) AS line_cost,
         COALESCE(c.exam_cost, 0) AS exam_cost,
         CASE WHEN s.stay_days <= $max_los_days AND s.medfee_sumamt < $cost_share * k.avg_cost
              THEN 1 ELSE 0 END AS is_short_cheap,
         CASE WHEN COALESCE(c.surgery_lines, 0) = 0 AND COALESCE(c.line_cost, 0) > 0
                   AND c.exam_cost >= $exam_share * c.line_cost
              THEN 1 ELSE 0 END AS is_exam_heavy
  FROM inpatient_stays s
  JOIN kb_drg k ON k.drg_code = s.drg_code
  LEFT JOIN costs c ON c.mdtrt_id = s.mdtrt_id
  WHERE k.is_low_risk
)
SELECT mdtrt_id, psn_no, setl_id, fixmedins_code,
       hifp_pay AS vola_amt,
       drg_code AS ev_drg_code,
       COALESCE(drg_name, drg_code) AS ev_drg_name,
       stay_days AS ev_stay_days,
       medfee_sumamt AS ev_cost,
       avg_cost AS ev_kb_avg_cost,
       kb_source AS ev_kb_source,
       CAST($cost_share * avg_cost AS DECIMAL(16,2)) AS ev_cost_limit,
       exam_cost AS ev_exam_cost,
       {{ pct1(exam_cost, CASE WHEN line_cost > 0 THEN line_cost ELSE 1 END) }} AS ev_exam_pct,
       is_short_cheap AS ev_short_cheap,
       is_exam_heavy AS ev_exam_heavy,
       concat(
         CASE WHEN is_short_cheap = 1 THEN concat('住院 ', CAST(stay_days AS VARCHAR), ' 天（不超过 ',
                                                  CAST($max_los_days AS VARCHAR), ' 天）、费用 ', CAST(medfee_sumamt AS VARCHAR),
                                                  ' 元低于界值 ', CAST(CAST($cost_share * avg_cost AS DECIMAL(16,2)) AS VARCHAR),
                                                  ' 元（组均费用 ', CAST(avg_cost AS VARCHAR), ' 元的 ',
                                                  CAST(CAST($cost_share * 100 AS DECIMAL(8,1)) AS VARCHAR), '%）；') ELSE '' END,
         CASE WHEN is_exam_heavy = 1 THEN concat('无手术费，检查化验费 ', CAST(exam_cost AS VARCHAR), ' 元占费用的 ',
                                                 CAST({{ pct1(exam_cost, line_cost) }} AS VARCHAR), '%（标准 ',
                                                 CAST(CAST($exam_share * 100 AS DECIMAL(8,1)) AS VARCHAR), '% 及以上）；') ELSE '' END
       ) AS ev_reason,
       hifp_pay AS ev_hifp_pay
FROM judged
WHERE is_short_cheap = 1 OR is_exam_heavy = 1
