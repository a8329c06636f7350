-- A05: restricted-payment item billed to the fund with none of its indication diagnoses and no approval
SELECT l.feedetl_sn, l.psn_no, l.mdtrt_id, l.setl_id, l.fixmedins_code, l.net_amt AS vola_amt, l.hilist_code,
       CASE WHEN l.item_name = l.hilist_code AND k.item_name IS NOT NULL THEN k.item_name ELSE l.item_name END AS item_name,
       k.kb_hilist_code AS ev_kb_code,
       k.indication_count AS ev_indication_count,
       k.first_prefix AS ev_kb_diag_prefix_example,
       l.hifp_pay AS ev_hifp_pay
FROM fee_lines l
JOIN (
  SELECT hilist_code, kb_hilist_code, MAX(item_name) AS item_name,
         COUNT(DISTINCT diag_prefix) AS indication_count, MIN(diag_prefix) AS first_prefix
  FROM kb_item_indication_match
  GROUP BY hilist_code, kb_hilist_code
) k ON k.hilist_code = l.hilist_code
WHERE l.hifp_pay > 0
  AND NOT l.hosp_appr_flag
  AND NOT EXISTS (
    SELECT 1
    FROM diag d
    JOIN diag_code_map c ON c.kb_table = 'kb_item_indication' AND c.diag_code = d.diag_code
    JOIN kb_item_indication i ON i.diag_prefix = c.diag_prefix AND i.hilist_code = k.kb_hilist_code
    WHERE d.mdtrt_id = l.mdtrt_id
  )
