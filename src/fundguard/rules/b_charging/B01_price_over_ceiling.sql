-- B01: unit price above the catalog ceiling by more than the tolerance
SELECT l.feedetl_sn, l.psn_no, l.mdtrt_id, l.setl_id, l.fixmedins_code,
       (l.pric - h.pric_uplmt_amt) * l.net_cnt AS vola_amt,
       l.hilist_code, l.item_name,
       h.pric_uplmt_amt AS ev_kb_pric_uplmt_amt,
       h.source AS ev_kb_source,
       l.pric AS ev_pric,
       l.net_cnt AS ev_cnt
FROM fee_lines l
JOIN kb_hilist h ON h.hilist_code = l.hilist_code
WHERE h.pric_uplmt_amt IS NOT NULL
  AND l.pric - h.pric_uplmt_amt > $tolerance
