-- D04: an encounter starting on a date after the person's date of death.
SELECT mdtrt_id,
       hifp_pay AS vola_amt,
       CAST(death_date AS VARCHAR) AS ev_death_date,
       CAST(begn_date AS VARCHAR) AS ev_begn_date,
       {{ days_between(death_date, begn_date) }} AS ev_days_after_death,
       med_type AS ev_med_type,
       hifp_pay AS ev_hifp_pay
FROM mdtrt_ctx
WHERE death_date IS NOT NULL
  AND begn_date > death_date
