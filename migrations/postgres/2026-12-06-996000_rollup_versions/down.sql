DROP TABLE rollup_versions;
