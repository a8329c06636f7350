-- D05: a readmission at the same institution 0..max_gap_days calendar days after the previous stay there,
-- which was not a transfer, with the same main-diagnosis category (first 3 characters of the main diag_code).
WITH main_diag AS (
  SELECT mdtrt_id, diag_code FROM (
    SELECT mdtrt_id, diag_code,
           ROW_NUMBER() OVER (PARTITION BY mdtrt_id ORDER BY diag_srt_no) AS rn
    FROM diag
    WHERE maindiag_flag
  ) d WHERE rn = 1
),
stays AS (
  SELECT s.mdtrt_id, s.psn_no, s.setl_id, s.fixmedins_code, s.begn_date, s.end_date, s.hifp_pay,
         d.diag_code AS main_diag_code,
         LAG(s.mdtrt_id) OVER (PARTITION BY s.psn_no, s.fixmedins_code ORDER BY s.begntime, s.mdtrt_id) AS prev_id
  FROM inpatient_stays s
  LEFT JOIN main_diag d ON d.mdtrt_id = s.mdtrt_id
),
hit AS (
  SELECT c.mdtrt_id, c.psn_no, c.setl_id, c.fixmedins_code, c.hifp_pay, c.begn_date, c.main_diag_code,
         p.mdtrt_id AS prev_id, p.end_date AS prev_end_date, p.main_diag_code AS prev_main_diag_code,
         p.dscg_way AS prev_dscg_way,
         {{ days_between(p.end_date, c.begn_date) }} AS gap_days
  FROM stays c
  JOIN (SELECT t.*, m.dscg_way FROM stays t JOIN mdtrt m ON m.mdtrt_id = t.mdtrt_id) p
    ON p.mdtrt_id = c.prev_id
  WHERE {{ days_between(p.end_date, c.begn_date) }} BETWEEN 0 AND $max_gap_days
    AND COALESCE(p.dscg_way, '') NOT IN ('2', '3')
    AND substr(c.main_diag_code, 1, 3) = substr(p.main_diag_code, 1, 3)
),
ids AS (
  SELECT mdtrt_id, {{ list_agg(id) }} AS mdtrt_ids FROM (
    SELECT mdtrt_id, mdtrt_id AS id FROM hit
    UNION ALL
    SELECT mdtrt_id, prev_id AS id FROM hit
  ) u GROUP BY mdtrt_id
)
SELECT h.mdtrt_id, h.psn_no, h.setl_id, h.fixmedins_code,
       h.hifp_pay AS vola_amt,
       h.prev_id AS ev_prev_mdtrt_id,
       CAST(h.prev_end_date AS VARCHAR) AS ev_prev_end_date,
       COALESCE(h.prev_dscg_way, '未填') AS ev_prev_dscg_way,
       CASE h.prev_dscg_way WHEN '1' THEN '医嘱离院' WHEN '2' THEN '医嘱转院' WHEN '3' THEN '医嘱转社区' WHEN '4' THEN '非医嘱离院'
            WHEN '5' THEN '死亡' WHEN '9' THEN '其他方式离院' ELSE COALESCE(h.prev_dscg_way, '离院方式未填') END
         AS ev_prev_dscg_way_label,
       CAST(h.begn_date AS VARCHAR) AS ev_begn_date,
       h.gap_days AS ev_gap_days,
       substr(h.main_diag_code, 1, 3) AS ev_diag_category,
       h.prev_main_diag_code AS ev_prev_main_diag_code,
       h.main_diag_code AS ev_main_diag_code,
       h.hifp_pay AS ev_hifp_pay,
       i.mdtrt_ids
FROM hit h
JOIN ids i ON i.mdtrt_id = h.mdtrt_id
