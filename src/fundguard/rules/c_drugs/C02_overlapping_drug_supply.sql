-- C02: a drug line whose supply period is already covered by earlier supply of the same product to the same person
-- a partly refunded line supplies what remains: prd_days x net_cnt / cnt whole days (in DOUBLE, as the
-- real-time twin computes it; the 1e-6 keeps 9.999... from an exact 10 whole)
WITH supplied AS (
  SELECT f.feedetl_sn, f.mdtrt_id, f.psn_no, f.hilist_code, f.fee_date, f.fee_ocur_time, f.net_amt,
         CASE WHEN f.net_cnt >= f.cnt THEN f.prd_days
              ELSE CAST(FLOOR(CAST(f.prd_days AS DOUBLE) * CAST(f.net_cnt AS DOUBLE) / CAST(f.cnt AS DOUBLE) + 0.000001) AS INTEGER)
         END AS prd_days
  FROM fee_net f
  WHERE f.med_chrgitm_type IN ('09', '10', '11') AND f.prd_days IS NOT NULL AND f.prd_days > 0
),
drug AS (
  SELECT s.*, {{ add_days(s.fee_date, s.prd_days) }} AS supply_end
  FROM supplied s
  WHERE s.prd_days > 0
),
-- every earlier line's period starts on or before the later line's fee day, so the earlier supply covering the
-- later period is [fee day, latest earlier end): its length is the overlap with the union of earlier periods.
-- The latest earlier end is a running maximum (one sort per person and drug, no self-join of all drug lines).
ordered AS (
  SELECT d.*,
         MAX(d.supply_end) OVER (PARTITION BY d.psn_no, d.hilist_code ORDER BY d.fee_ocur_time, d.feedetl_sn
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
  FROM drug d
),
overlapped AS (
  SELECT o.*,
         {{ days_between(o.fee_date, CASE WHEN o.prev_end < o.supply_end THEN o.prev_end ELSE o.supply_end END) }} AS overlap_days
  FROM ordered o
  WHERE o.prev_end > o.fee_date
),
flagged AS (
  SELECT * FROM overlapped WHERE overlap_days > $overlap_days
),
-- evidence: the flagged line and the earlier lines whose supply reaches into its period
involved AS (
  SELECT a.feedetl_sn, {{ list_agg(b.feedetl_sn) }} AS feedetl_sns, {{ list_agg(b.mdtrt_id) }} AS mdtrt_ids
  FROM flagged a
  JOIN drug b
    ON b.psn_no = a.psn_no AND b.hilist_code = a.hilist_code
   AND (b.fee_ocur_time < a.fee_ocur_time OR (b.fee_ocur_time = a.fee_ocur_time AND b.feedetl_sn <= a.feedetl_sn))
   AND b.supply_end > a.fee_date
  GROUP BY a.feedetl_sn
)
SELECT o.feedetl_sn,
       {{ prorate_amt(o.net_amt, o.overlap_days, o.prd_days) }} AS vola_amt,
       i.feedetl_sns, i.mdtrt_ids, l.psn_no, l.mdtrt_id, l.setl_id, l.fixmedins_code, l.hilist_code, l.item_name,
       o.fee_date AS ev_fee_date, o.prd_days AS ev_prd_days,
       -- the last day each supply covers (supply_end is the day after it)
       {{ add_days(o.supply_end, -1) }} AS ev_supply_last_day,
       {{ add_days(o.prev_end, -1) }} AS ev_earlier_supply_last_day, o.overlap_days AS ev_overlap_days, o.net_amt AS ev_net_amt
FROM flagged o
JOIN involved i ON i.feedetl_sn = o.feedetl_sn
JOIN fee_lines l ON l.feedetl_sn = o.feedetl_sn
