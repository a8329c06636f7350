-- C02: a drug line whose supply period is already covered by earlier supply of the same product to the same person
WITH drug AS (
  SELECT f.feedetl_sn, f.psn_no, f.hilist_code, f.fee_date, f.fee_ocur_time, f.prd_days, f.net_amt,
         {{ add_days(f.fee_date, f.prd_days) }} AS supply_end
  FROM fee_net f
  WHERE f.med_chrgitm_type IN ('09', '10', '11') AND f.prd_days IS NOT NULL AND f.prd_days > 0
),
-- every earlier line's period starts on or before the later line's fee day, so the earlier supply covering the
-- later period is [fee day, latest earlier end): its length is the overlap with the union of earlier periods
covered AS (
  SELECT a.feedetl_sn, a.fee_date, a.prd_days, a.net_amt, a.supply_end,
         MAX(CASE WHEN b.feedetl_sn <> a.feedetl_sn THEN b.supply_end END) AS prev_end,
         {{ list_agg(b.feedetl_sn) }} AS feedetl_sns
  FROM drug a
  JOIN drug b
    ON b.psn_no = a.psn_no AND b.hilist_code = a.hilist_code
   AND (b.fee_ocur_time < a.fee_ocur_time OR (b.fee_ocur_time = a.fee_ocur_time AND b.feedetl_sn <= a.feedetl_sn))
   AND b.supply_end > a.fee_date
  GROUP BY a.feedetl_sn, a.fee_date, a.prd_days, a.net_amt, a.supply_end
),
overlapped AS (
  SELECT c.*,
         {{ days_between(c.fee_date, CASE WHEN c.prev_end < c.supply_end THEN c.prev_end ELSE c.supply_end END) }} AS overlap_days
  FROM covered c
  WHERE c.prev_end IS NOT NULL
)
SELECT o.feedetl_sn,
       CAST(ROUND(CAST(o.net_amt * 100 AS BIGINT) * o.overlap_days / o.prd_days, 0) AS DECIMAL(18,0)) * 0.01 AS vola_amt,
       o.feedetl_sns, l.hilist_code, l.item_name,
       o.fee_date AS ev_fee_date, o.prd_days AS ev_prd_days, o.supply_end AS ev_supply_end,
       o.prev_end AS ev_earlier_supply_end, o.overlap_days AS ev_overlap_days, o.net_amt AS ev_net_amt
FROM overlapped o
JOIN fee_lines l ON l.feedetl_sn = o.feedetl_sn
WHERE o.overlap_days > $overlap_days
