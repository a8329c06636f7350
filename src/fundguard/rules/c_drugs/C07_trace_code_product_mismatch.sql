-- C07: a sold box whose traceability code names a different drug product than the billed catalog code
WITH scanned AS (
  SELECT f.feedetl_sn, f.hilist_code, t.drug_trac_codg, substr(t.drug_trac_codg, 1, 7) AS trac_prefix
  FROM drug_trac t
  JOIN fee_net f ON f.feedetl_sn = t.feedetl_sn
  WHERE t.drug_trac_codg IS NOT NULL
),
mismatched AS (
  SELECT s.feedetl_sn, s.drug_trac_codg, s.trac_prefix
  FROM scanned s
  WHERE EXISTS (SELECT 1 FROM kb_drug_product k WHERE k.trac_prefix = s.trac_prefix)
    AND NOT EXISTS (SELECT 1 FROM kb_drug_product k WHERE k.trac_prefix = s.trac_prefix AND k.hilist_code = s.hilist_code)
),
-- the code the message names: the smallest mismatched code of the line, with its product
shown AS (
  SELECT m.feedetl_sn, m.drug_trac_codg, m.trac_prefix, k.hilist_code AS product_code, k.item_name AS product_name,
         k.source AS kb_source
  FROM (
    SELECT x.*, ROW_NUMBER() OVER (PARTITION BY x.feedetl_sn ORDER BY x.drug_trac_codg) AS rn FROM mismatched x
  ) m
  JOIN (
    SELECT p.*, ROW_NUMBER() OVER (PARTITION BY p.trac_prefix ORDER BY p.hilist_code) AS rn FROM kb_drug_product p
  ) k ON k.trac_prefix = m.trac_prefix AND k.rn = 1
  WHERE m.rn = 1
),
per_line AS (
  SELECT feedetl_sn, COUNT(*) AS mismatched_codes, {{ list_agg(drug_trac_codg) }} AS trac_codes
  FROM mismatched GROUP BY feedetl_sn
)
SELECT l.feedetl_sn, l.net_amt AS vola_amt, l.psn_no, l.mdtrt_id, l.setl_id, l.fixmedins_code, l.hilist_code, l.item_name,
       s.drug_trac_codg AS ev_trac_code, s.trac_prefix AS ev_trac_prefix,
       s.product_code AS ev_product_hilist_code, COALESCE(s.product_name, s.product_code) AS ev_product_name,
       s.kb_source AS ev_kb_source,
       p.mismatched_codes AS ev_mismatched_code_count, p.trac_codes AS ev_trac_codes
FROM shown s
JOIN per_line p ON p.feedetl_sn = s.feedetl_sn
JOIN fee_lines l ON l.feedetl_sn = s.feedetl_sn
