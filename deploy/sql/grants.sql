-- What the application role may do in a Chargeback database. Run as the OWNER role (the one
-- migrations run as) in the application's database after every `manage.py migrate`; safe to
-- run again:
--
--   psql "$MIGRATION_DATABASE_URL" -v ON_ERROR_STOP=1 -f deploy/sql/grants.sql
--   psql "$MIGRATION_DATABASE_URL" -v ON_ERROR_STOP=1 -v app=cb_app -f deploy/sql/grants.sql
--
-- The app role reads and writes rows (SELECT, INSERT, UPDATE, DELETE) and uses sequences. It
-- gets no TRUNCATE, REFERENCES or TRIGGER privilege, and, not owning the tables, cannot ALTER
-- them (so no DISABLE TRIGGER), drop them or change their triggers.
--
-- Append-only tables (an audit log, a ledger) are INSERT and SELECT only: list them in
-- `append_only` below (space-separated table names; tables that do not exist yet are skipped,
-- so the list may name tables of apps still to come). Tables created by later migrations get
-- the read/write grants automatically (default privileges), so after a migration that adds an
-- append-only table, add it to the list and run this file again.

\if :{?app}
\else
\set app chargeback_app
\endif
\if :{?append_only}
\else
\set append_only 'audit_auditevent wallets_ledgerentry'
\endif

GRANT USAGE ON SCHEMA public TO :"app";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app";
REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM :"app";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app";

-- Tables and sequences the owner creates later (new migrations) get the same grants.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app";
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO :"app";

-- Append-only: rows are added and read, never changed or removed.
SELECT format('REVOKE UPDATE, DELETE ON TABLE %I FROM %I', t, :'app')
    FROM unnest(string_to_array(:'append_only', ' ')) AS t
    WHERE t <> '' AND to_regclass(format('public.%I', t)) IS NOT NULL \gexec
