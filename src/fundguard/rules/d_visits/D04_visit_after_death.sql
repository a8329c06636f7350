-- D04: an encounter starting on a date after the person's date of death.
SELECT mdtrt_id, psn_no, setl_id, fixmedins_code,
       hifp_pay AS vola_amt,
       CAST(death_date AS VARCHAR) AS ev_death_date,
       CAST(begn_date AS VARCHAR) AS ev_begn_date,
       {{ days_between(death_date, begn_date) }} AS ev_days_after_death,
       med_type AS ev_med_type,
       CASE med_type WHEN '11' THEN '普通门诊' WHEN '13' THEN '急诊' WHEN '14' THEN '门诊慢特病' WHEN '21' THEN '住院' WHEN '41' THEN '定点药店购药' WHEN '51' THEN '生育门诊' WHEN '52' THEN '生育住院' ELSE med_type END AS ev_med_type_label,
       hifp_pay AS ev_hifp_pay
FROM mdtrt_ctx
WHERE death_date IS NOT NULL
  AND begn_date > death_date
