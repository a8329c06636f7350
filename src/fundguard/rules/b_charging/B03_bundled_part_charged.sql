-- B03: a part line billed with its bundle's main item on one encounter within the pair's scope; the flag
-- rests on the part line and the main item's line
WITH pairs AS (
SELECT feedetl_sn, psn_no, mdtrt_id, setl_id, fixmedins_code, vola_amt, hilist_code, item_name,
       ev_main_feedetl_sn, ev_main_hilist_code, ev_main_item_name, ev_kb_bundle_code, ev_kb_part_code, ev_kb_source,
       ev_kb_scope, ev_scope_label
FROM (
  SELECT p.feedetl_sn, p.psn_no, p.mdtrt_id, p.setl_id, p.fixmedins_code, p.net_amt AS vola_amt, p.hilist_code, p.item_name,
         m.feedetl_sn AS ev_main_feedetl_sn, m.hilist_code AS ev_main_hilist_code,
         COALESCE(k.bundle_name, m.hilist_code) AS ev_main_item_name,
         k.bundle_code AS ev_kb_bundle_code, k.part_code AS ev_kb_part_code, k.source AS ev_kb_source,
         k.scope AS ev_kb_scope,
         CASE k.scope WHEN 'hour' THEN '同一钟点' WHEN '6h' THEN '6小时' WHEN 'day' THEN '同一天' ELSE '同一就诊' END
           AS ev_scope_label,
         ROW_NUMBER() OVER (PARTITION BY p.feedetl_sn ORDER BY m.fee_ocur_time, m.feedetl_sn) AS rn
  FROM fee_lines p
  JOIN kb_code_map cp ON cp.kb_table = 'kb_bundle' AND cp.kb_column = 'part_code' AND cp.hilist_code = p.hilist_code
  JOIN kb_bundle k ON k.part_code = cp.kb_code
  JOIN kb_code_map cm ON cm.kb_table = 'kb_bundle' AND cm.kb_column = 'bundle_code' AND cm.kb_code = k.bundle_code
  JOIN fee_net m ON m.mdtrt_id = p.mdtrt_id AND m.hilist_code = cm.hilist_code AND m.feedetl_sn <> p.feedetl_sn
  WHERE k.scope = 'mdtrt'
     OR (k.scope = 'day' AND m.fee_date = p.fee_date)
     OR (k.scope = 'hour' AND {{ trunc_hour(m.fee_ocur_time) }} = {{ trunc_hour(p.fee_ocur_time) }})
     OR (k.scope = '6h' AND {{ seconds_between(m.fee_ocur_time, p.fee_ocur_time) }} BETWEEN -21600 AND 21600)
) x
WHERE rn = 1
)
SELECT p.*, {{ list_of(p.feedetl_sn, p.ev_main_feedetl_sn) }} AS feedetl_sns
FROM pairs p
