-- D08: an encounter with a presence check whose face verification failed (result 3).
SELECT m.mdtrt_id, m.psn_no, m.setl_id, m.fixmedins_code,
       m.hifp_pay AS vola_amt,
       c.mismatches AS ev_mismatches,
       c.first_time AS ev_first_mismatch_time,
       m.hifp_pay AS ev_hifp_pay
FROM (
  SELECT mdtrt_id, COUNT(*) AS mismatches, CAST(MIN(chk_time) AS VARCHAR) AS first_time
  FROM checkin
  WHERE result = '3'
  GROUP BY mdtrt_id
) c
JOIN mdtrt m ON m.mdtrt_id = c.mdtrt_id
