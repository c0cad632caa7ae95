-- The account search by exact username or email (what an API server's
-- FindAccount asks the directory for) read every account of the
-- application without these: its cost grew with the number of accounts.
-- account_logins cannot serve it, since it holds both kinds of key in one
-- column and the filter names one.
CREATE INDEX accounts_app_username ON accounts (app_id, username_key);
CREATE INDEX accounts_app_email ON accounts (app_id, email_key);
