-- C04: drug lines whose quantity per supplied day exceeds the knowledge base's daily maximum
WITH drug AS (
  SELECT l.feedetl_sn, l.psn_no, l.mdtrt_id, l.setl_id, l.fixmedins_code, l.hilist_code, l.item_name, l.prd_days, l.net_cnt, l.net_amt, l.pric,
         k.kb_hilist_code, k.source AS kb_source, k.max_daily_cnt, k.max_daily_cnt * l.prd_days AS allowed_cnt
  FROM fee_lines l
  JOIN kb_drug_days_match k ON k.hilist_code = l.hilist_code
  WHERE l.med_chrgitm_type IN ('09', '10', '11') AND l.prd_days IS NOT NULL AND l.prd_days > 0
    AND k.max_daily_cnt IS NOT NULL
)
-- excess share = amount × (cnt − max × prd_days) / cnt, in whole cents; quantities scaled to integers (4 places)
SELECT feedetl_sn, psn_no, mdtrt_id, setl_id, fixmedins_code,
       {{ prorate_amt(net_amt, CAST((net_cnt - allowed_cnt) * 10000 AS BIGINT), CAST(net_cnt * 10000 AS BIGINT)) }} AS vola_amt,
       hilist_code, item_name,
       net_cnt AS ev_cnt, prd_days AS ev_prd_days,
       -- cnt / prd_days to 4 places, half away from zero, exactly: floor((2·cnt·10^4 + d) / 2d) / 10^4 (a DOUBLE
       -- quotient cast to DECIMAL would round the binary value on DuckDB and its decimal text on Spark)
       CAST(CAST(FLOOR((net_cnt * 20000 + prd_days) / (2 * prd_days)) AS DECIMAL(18,0)) * 0.0001 AS DECIMAL(16,4)) AS ev_daily_cnt,
       max_daily_cnt AS ev_kb_max_daily_cnt, kb_hilist_code AS ev_kb_hilist_code, kb_source AS ev_kb_source,
       net_cnt - allowed_cnt AS ev_excess_cnt
FROM drug
WHERE net_cnt > allowed_cnt
