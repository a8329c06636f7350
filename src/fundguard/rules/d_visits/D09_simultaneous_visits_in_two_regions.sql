-- D09: two encounters of one person at institutions of different regions (fixmedins.admdvs) whose start
-- times are less than max_gap_hours apart; one flag per person and later encounter (by begntime, mdtrt_id).
WITH enc AS (
  SELECT mdtrt_id, psn_no, fixmedins_code, org_admdvs, begntime FROM mdtrt_ctx
),
pairs AS (
  SELECT b.psn_no, b.mdtrt_id, a.mdtrt_id AS earlier_id,
         {{ seconds_between(a.begntime, b.begntime) }} AS gap_seconds
  FROM enc b
  JOIN enc a
    ON a.psn_no = b.psn_no
   AND (a.begntime < b.begntime OR (a.begntime = b.begntime AND a.mdtrt_id < b.mdtrt_id))
   AND a.org_admdvs <> b.org_admdvs
  WHERE {{ seconds_between(a.begntime, b.begntime) }} < $max_gap_hours * 3600
),
best AS (
  SELECT psn_no, mdtrt_id, earlier_id, gap_seconds FROM (
    SELECT p.*, ROW_NUMBER() OVER (PARTITION BY mdtrt_id ORDER BY gap_seconds, earlier_id) AS rn FROM pairs p
  ) x WHERE rn = 1
),
ids AS (
  SELECT mdtrt_id, {{ list_agg(id) }} AS mdtrt_ids FROM (
    SELECT mdtrt_id, mdtrt_id AS id FROM best
    UNION ALL
    SELECT mdtrt_id, earlier_id AS id FROM pairs
  ) u GROUP BY mdtrt_id
)
SELECT b.psn_no,
       b.mdtrt_id AS flag_detail,
       b.mdtrt_id,
       l.fixmedins_code,
       CAST(0 AS DECIMAL(16,2)) AS vola_amt,
       CAST(l.begntime AS VARCHAR) AS ev_begntime,
       l.org_admdvs AS ev_admdvs,
       b.earlier_id AS ev_earlier_mdtrt_id,
       e.fixmedins_code AS ev_earlier_fixmedins_code,
       e.org_admdvs AS ev_earlier_admdvs,
       CAST(e.begntime AS VARCHAR) AS ev_earlier_begntime,
       b.gap_seconds AS ev_gap_seconds,
       CAST(FLOOR(b.gap_seconds / 60.0) AS INTEGER) AS ev_gap_minutes,
       i.mdtrt_ids
FROM best b
JOIN enc l ON l.mdtrt_id = b.mdtrt_id
JOIN enc e ON e.mdtrt_id = b.earlier_id
JOIN ids i ON i.mdtrt_id = b.mdtrt_id
