-- Every tenant starts with the default CPT-group table (SPEC §2). New customers get it
-- from the repository (`customers::insert`); this seeds the customers that already exist.
INSERT INTO cpt_groups (customer_id, code_start, code_end, group_name, created_at)
SELECT c.id, d.code_start, d.code_end, d.group_name, CURRENT_TIMESTAMP
FROM customers c
CROSS JOIN (
    SELECT '99202' AS code_start, '99215' AS code_end, 'EVAL_MGMT' AS group_name
    UNION ALL SELECT '97000', '97999', 'THERAPY'
    UNION ALL SELECT '70000', '79999', 'IMAGING'
    UNION ALL SELECT '80000', '89999', 'LAB'
    UNION ALL SELECT '10000', '69999', 'SURGERY'
) d
-- (SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT to parse it.)
WHERE 1 = 1
ON CONFLICT (customer_id, code_start, code_end) DO NOTHING;
