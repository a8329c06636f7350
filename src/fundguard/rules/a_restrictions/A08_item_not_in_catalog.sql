-- A08: a code missing from a complete catalog, or marked not covered, settled with fund payment
SELECT l.feedetl_sn, l.psn_no, l.mdtrt_id, l.setl_id, l.fixmedins_code, l.net_amt AS vola_amt, l.hilist_code, l.item_name,
       CASE WHEN h.hilist_code IS NULL THEN '不在医保目录中' ELSE '在医保目录中标记为不予支付' END AS ev_reason,
       h.covered AS ev_kb_covered,
       h.source AS ev_kb_source,
       l.hifp_pay AS ev_hifp_pay
FROM fee_lines l
LEFT JOIN kb_hilist h ON h.hilist_code = l.hilist_code
WHERE l.hifp_pay > 0
  AND (h.hilist_code IS NULL OR h.covered = FALSE)
