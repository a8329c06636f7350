-- E02: a DRG group heavier than the stay's costs support: a complicated group (code ending in 1 or 3) with
-- cost below cost_share of the group's avg_cost, or a surgical group (CHS-DRG: the ADRG's second letter
-- A-J) whose main operation is an operation (ICD-9-CM-3 chapters 00-86; 87-99 are diagnostic and
-- non-operative procedures, billed as examinations or treatment) with no surgery (06) charge. A medical
-- (R-Z) or non-OR procedure (K-Q) group was not reached through an operation.
WITH surgery AS (
  SELECT mdtrt_id, COUNT(*) AS surgery_lines FROM fee_net WHERE med_chrgitm_type = '06' GROUP BY mdtrt_id
),
main_oprn AS (
  SELECT mdtrt_id, oprn_oprt_code FROM (
    SELECT mdtrt_id, oprn_oprt_code, ROW_NUMBER() OVER (PARTITION BY mdtrt_id ORDER BY oprn_srt_no) AS rn FROM oprn
  ) o WHERE rn = 1
),
judged AS (
  SELECT s.mdtrt_id, s.psn_no, s.setl_id, s.fixmedins_code, s.drg_code, k.drg_name, k.weight, k.avg_cost, k.source AS kb_source, s.medfee_sumamt, s.hifp_pay,
         o.oprn_oprt_code,
         CASE WHEN substr(s.drg_code, length(s.drg_code), 1) IN ('1', '3') AND s.medfee_sumamt < $cost_share * k.avg_cost
              THEN 1 ELSE 0 END AS is_cheap_complicated,
         CASE WHEN o.mdtrt_id IS NOT NULL AND COALESCE(g.surgery_lines, 0) = 0
                   AND substr(s.drg_code, 2, 1) BETWEEN 'A' AND 'J'
                   AND substr(o.oprn_oprt_code, 1, 2) BETWEEN '00' AND '86'
              THEN 1 ELSE 0 END AS is_oprn_without_surgery
  FROM inpatient_stays s
  JOIN kb_drg k ON k.drg_code = s.drg_code
  LEFT JOIN main_oprn o ON o.mdtrt_id = s.mdtrt_id
  LEFT JOIN surgery g ON g.mdtrt_id = s.mdtrt_id
)
SELECT mdtrt_id, psn_no, setl_id, fixmedins_code,
       GREATEST(LEAST(avg_cost - medfee_sumamt, hifp_pay), 0) AS vola_amt,
       drg_code AS ev_drg_code,
       COALESCE(drg_name, drg_code) AS ev_drg_name,
       CAST(weight AS DECIMAL(10,4)) AS ev_kb_weight,
       avg_cost AS ev_kb_avg_cost,
       kb_source AS ev_kb_source,
       medfee_sumamt AS ev_cost,
       hifp_pay AS ev_hifp_pay,
       oprn_oprt_code AS ev_main_oprn_code,
       is_cheap_complicated AS ev_cheap_complicated,
       is_oprn_without_surgery AS ev_oprn_without_surgery,
       concat(
         CASE WHEN is_cheap_complicated = 1
              THEN concat('伴并发症组但费用 ', CAST(medfee_sumamt AS VARCHAR), ' 元低于界值 ',
                          CAST(CAST($cost_share * avg_cost AS DECIMAL(16,2)) AS VARCHAR), ' 元（组均费用 ',
                          CAST(avg_cost AS VARCHAR), ' 元的 ', CAST(CAST($cost_share * 100 AS DECIMAL(8,1)) AS VARCHAR), '%）；')
              ELSE '' END,
         CASE WHEN is_oprn_without_surgery = 1
              THEN concat('外科手术组的主手术 ', oprn_oprt_code, ' 已编码但无手术费；')
              ELSE '' END
       ) AS ev_reason
FROM judged
WHERE is_cheap_complicated = 1 OR is_oprn_without_surgery = 1
