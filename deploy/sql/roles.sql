-- The two database roles of a Chargeback installation. Run once per PostgreSQL cluster, as a
-- superuser (or a role with CREATEROLE); safe to run again:
--
--   sudo -u postgres psql -v ON_ERROR_STOP=1 -f deploy/sql/roles.sql
--   sudo -u postgres psql -v ON_ERROR_STOP=1 -v owner=cb_owner -v app=cb_app -f deploy/sql/roles.sql
--
--   owner (chargeback_owner): owns the database and every table; `manage.py migrate` runs as
--          it (MIGRATION_DATABASE_URL). Never used by the running services.
--   app   (chargeback_app):   the web, worker and beat processes (DATABASE_URL). It does not
--          own the tables, so it cannot drop, alter, truncate them or disable their triggers;
--          what it may do is granted by grants.sql, run as the owner after every migrate.
--
-- Neither role is a superuser, creates roles or bypasses row security, and the app role is not
-- a member of the owner role. Passwords are set separately (ALTER ROLE ... PASSWORD, or
-- \password in psql), so none is written in a file.

\if :{?owner}
\else
\set owner chargeback_owner
\endif
\if :{?app}
\else
\set app chargeback_app
\endif

-- CREATE ROLE has no IF NOT EXISTS; a concurrent run creating the same role is not an error.
SELECT format(
    $f$DO $$ BEGIN CREATE ROLE %I LOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$$f$,
    r
) FROM unnest(ARRAY[:'owner', :'app']) AS r \gexec

ALTER ROLE :"owner" LOGIN NOSUPERUSER NOCREATEROLE NOREPLICATION NOBYPASSRLS;
ALTER ROLE :"app" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;

-- The app role must not act as the owner.
SELECT format('REVOKE %I FROM %I', :'owner', :'app')
    WHERE pg_has_role(:'app', :'owner', 'MEMBER') \gexec
