DROP TABLE password_tokens;
DROP TABLE login_failures;
