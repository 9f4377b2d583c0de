DROP TABLE alert_current_status;
