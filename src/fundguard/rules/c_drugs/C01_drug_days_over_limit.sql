-- C01: drug lines supplied for more days than allowed (knowledge limit, else the setting's default; never above the cap)
WITH drug AS (
  SELECT l.feedetl_sn, l.psn_no, l.mdtrt_id, l.setl_id, l.fixmedins_code, l.hilist_code, l.item_name, l.med_type, l.prd_days, l.net_amt,
         k.max_prd_days AS kb_max_prd_days,
         CASE WHEN k.max_prd_days IS NOT NULL THEN k.kb_hilist_code END AS kb_code,
         CASE WHEN k.max_prd_days IS NOT NULL THEN k.source END AS kb_source,
         CASE
           WHEN k.max_prd_days IS NOT NULL THEN k.max_prd_days
           WHEN l.med_type = '14' THEN $chronic_max_prd_days
           ELSE $default_max_prd_days
         END AS base_days
  FROM fee_lines l
  LEFT JOIN kb_drug_days_match k ON k.hilist_code = l.hilist_code
  WHERE l.med_chrgitm_type IN ('09', '10', '11') AND l.prd_days IS NOT NULL
),
limited AS (
  SELECT d.*,
         CASE WHEN d.base_days > $absolute_max_prd_days THEN $absolute_max_prd_days ELSE d.base_days END AS limit_days,
         CASE
           WHEN d.base_days > $absolute_max_prd_days THEN '任何情形最长'
           WHEN d.kb_max_prd_days IS NOT NULL THEN '知识库限定'
           WHEN d.med_type = '14' THEN '门诊慢特病默认'
           ELSE '默认'
         END AS limit_source
  FROM drug d
)
SELECT feedetl_sn, psn_no, mdtrt_id, setl_id, fixmedins_code,
       {{ prorate_amt(net_amt, prd_days - limit_days, prd_days) }} AS vola_amt,
       hilist_code, item_name,
       prd_days AS ev_prd_days, limit_days AS ev_limit_days, limit_source AS ev_limit_source,
       kb_max_prd_days AS ev_kb_max_prd_days, kb_code AS ev_kb_code, kb_source AS ev_kb_source,
       prd_days - limit_days AS ev_excess_days, net_amt AS ev_net_amt
FROM limited
WHERE prd_days > limit_days
