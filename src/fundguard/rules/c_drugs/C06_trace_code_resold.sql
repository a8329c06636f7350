-- C06: every active sale of a traceability code after its first sale (a box sold twice: 回流药)
-- a code sold twice is on two lines in drug_trac: only those codes are joined to the fee lines
WITH repeated AS (
  SELECT drug_trac_codg FROM drug_trac
  WHERE drug_trac_codg IS NOT NULL
  GROUP BY drug_trac_codg HAVING COUNT(DISTINCT feedetl_sn) > 1
),
sales AS (
  SELECT DISTINCT t.drug_trac_codg, f.feedetl_sn, f.mdtrt_id, f.fee_ocur_time
  FROM drug_trac t
  JOIN repeated r ON r.drug_trac_codg = t.drug_trac_codg
  JOIN fee_net f ON f.feedetl_sn = t.feedetl_sn
),
-- only codes sold more than once are ranked (most codes are sold once: no sort of every sale)
resold AS (
  SELECT drug_trac_codg FROM sales GROUP BY drug_trac_codg HAVING COUNT(*) > 1
),
ranked AS (
  SELECT s.*, ROW_NUMBER() OVER (PARTITION BY s.drug_trac_codg ORDER BY s.fee_ocur_time, s.feedetl_sn) AS sale_no
  FROM sales s
  JOIN resold d ON d.drug_trac_codg = s.drug_trac_codg
),
later AS (
  SELECT r.feedetl_sn, r.mdtrt_id, r.drug_trac_codg, fst.feedetl_sn AS first_sn, fst.mdtrt_id AS first_mdtrt_id,
         fst.fee_ocur_time AS first_time
  FROM ranked r
  JOIN ranked fst ON fst.drug_trac_codg = r.drug_trac_codg AND fst.sale_no = 1
  WHERE r.sale_no > 1
),
-- the code the message names: the smallest duplicated code of the line, with its first sale
shown AS (
  SELECT feedetl_sn, drug_trac_codg, first_sn, first_time FROM (
    SELECT g.*, ROW_NUMBER() OVER (PARTITION BY g.feedetl_sn ORDER BY g.drug_trac_codg) AS rn FROM later g
  ) x WHERE rn = 1
),
per_line AS (
  SELECT feedetl_sn, COUNT(*) AS dup_codes, {{ list_agg(drug_trac_codg) }} AS trac_codes FROM later GROUP BY feedetl_sn
),
lines_of AS (
  SELECT feedetl_sn, {{ list_agg(related_sn) }} AS feedetl_sns, {{ list_agg(related_mdtrt_id) }} AS mdtrt_ids FROM (
    SELECT feedetl_sn, feedetl_sn AS related_sn, mdtrt_id AS related_mdtrt_id FROM later
    UNION ALL
    SELECT feedetl_sn, first_sn AS related_sn, first_mdtrt_id AS related_mdtrt_id FROM later
  ) u GROUP BY feedetl_sn
)
SELECT l.feedetl_sn, l.net_amt AS vola_amt, o.feedetl_sns, o.mdtrt_ids, l.psn_no, l.mdtrt_id, l.setl_id, l.fixmedins_code, l.hilist_code, l.item_name,
       s.drug_trac_codg AS ev_trac_code, s.first_sn AS ev_first_feedetl_sn, s.first_time AS ev_first_fee_time,
       p.dup_codes AS ev_dup_code_count, p.trac_codes AS ev_trac_codes
FROM shown s
JOIN per_line p ON p.feedetl_sn = s.feedetl_sn
JOIN lines_of o ON o.feedetl_sn = s.feedetl_sn
JOIN fee_lines l ON l.feedetl_sn = s.feedetl_sn
