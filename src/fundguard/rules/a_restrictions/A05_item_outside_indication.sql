-- A05: restricted-payment item billed to the fund with none of its indication diagnoses and no approval
WITH cand AS (
  SELECT l.feedetl_sn, l.psn_no, l.mdtrt_id, l.setl_id, l.fixmedins_code, l.net_amt, l.hilist_code, l.item_name,
         l.hifp_pay, k.kb_hilist_code, k.item_name AS kb_item_name, k.indication_count, k.first_prefix
  FROM fee_lines l
  JOIN (
    SELECT hilist_code, kb_hilist_code, MAX(item_name) AS item_name,
           COUNT(DISTINCT diag_prefix) AS indication_count, MIN(diag_prefix) AS first_prefix
    FROM kb_item_indication_match
    GROUP BY hilist_code, kb_hilist_code
  ) k ON k.hilist_code = l.hilist_code
  WHERE l.hifp_pay > 0 AND NOT l.hosp_appr_flag
),
-- the (encounter, knowledge entry) pairs that one of the encounter's diagnoses indicates: looked up for
-- the candidate pairs only (a diagnosis prefix indicates thousands of items)
indicated AS (
  SELECT DISTINCT p.mdtrt_id, p.kb_hilist_code
  FROM (SELECT DISTINCT mdtrt_id, kb_hilist_code FROM cand) p
  JOIN diag d ON d.mdtrt_id = p.mdtrt_id
  JOIN diag_code_map c ON c.kb_table = 'kb_item_indication' AND c.diag_code = d.diag_code
  JOIN kb_item_indication i ON i.hilist_code = p.kb_hilist_code AND i.diag_prefix = c.diag_prefix
)
SELECT c.feedetl_sn, c.psn_no, c.mdtrt_id, c.setl_id, c.fixmedins_code, c.net_amt AS vola_amt, c.hilist_code,
       CASE WHEN c.item_name = c.hilist_code AND c.kb_item_name IS NOT NULL THEN c.kb_item_name ELSE c.item_name END AS item_name,
       c.kb_hilist_code AS ev_kb_code,
       c.indication_count AS ev_indication_count,
       c.first_prefix AS ev_kb_diag_prefix_example,
       s.kb_sources AS ev_kb_sources,
       c.hifp_pay AS ev_hifp_pay
FROM cand c
-- where the entry's indications come from (national batches, an overlay): for the flagged lines only
JOIN (SELECT hilist_code, {{ list_agg(source) }} AS kb_sources FROM kb_item_indication GROUP BY hilist_code) s
  ON s.hilist_code = c.kb_hilist_code
WHERE NOT EXISTS (
  SELECT 1 FROM indicated v WHERE v.mdtrt_id = c.mdtrt_id AND v.kb_hilist_code = c.kb_hilist_code
)
