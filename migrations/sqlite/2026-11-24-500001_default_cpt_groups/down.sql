-- Removes the default ranges (tenant-added ranges stay).
DELETE FROM cpt_groups
WHERE (code_start = '99202' AND code_end = '99215' AND group_name = 'EVAL_MGMT')
   OR (code_start = '97000' AND code_end = '97999' AND group_name = 'THERAPY')
   OR (code_start = '70000' AND code_end = '79999' AND group_name = 'IMAGING')
   OR (code_start = '80000' AND code_end = '89999' AND group_name = 'LAB')
   OR (code_start = '10000' AND code_end = '69999' AND group_name = 'SURGERY');
