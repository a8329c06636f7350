-- D01: a person with min_encounters or more outpatient encounters (11, 13, 14) in any window_days-day window.
-- Every qualifying window can be shifted to start on its first encounter's date, so only windows starting on
-- an encounter date are examined; the flag rests on the encounters of every qualifying window.
WITH enc AS (
  SELECT psn_no, mdtrt_id, begn_date
  FROM mdtrt_ctx
  WHERE med_type IN ('11', '13', '14')
),
starts AS (
  SELECT DISTINCT psn_no, begn_date AS win_start FROM enc
),
windows AS (
  SELECT s.psn_no, s.win_start, COUNT(*) AS n_encounters
  FROM starts s
  JOIN enc e
    ON e.psn_no = s.psn_no
   AND {{ days_between(s.win_start, e.begn_date) }} BETWEEN 0 AND $window_days - 1
  GROUP BY s.psn_no, s.win_start
  HAVING COUNT(*) >= $min_encounters
),
members AS (
  SELECT DISTINCT w.psn_no, e.mdtrt_id
  FROM windows w
  JOIN enc e
    ON e.psn_no = w.psn_no
   AND {{ days_between(w.win_start, e.begn_date) }} BETWEEN 0 AND $window_days - 1
)
SELECT w.psn_no,
       CAST(0 AS DECIMAL(16,2)) AS vola_amt,
       w.ev_max_encounters,
       w.ev_first_window_start,
       w.ev_windows,
       m.mdtrt_ids,
       m.ev_encounters
FROM (
  SELECT psn_no,
         MAX(n_encounters) AS ev_max_encounters,
         CAST(MIN(win_start) AS VARCHAR) AS ev_first_window_start,
         COUNT(*) AS ev_windows
  FROM windows
  GROUP BY psn_no
) w
JOIN (
  SELECT psn_no, {{ list_agg(mdtrt_id) }} AS mdtrt_ids, COUNT(*) AS ev_encounters
  FROM members
  GROUP BY psn_no
) m ON m.psn_no = w.psn_no
