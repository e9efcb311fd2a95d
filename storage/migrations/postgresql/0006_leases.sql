-- PostgreSQL twin of 0006_leases.sql (drafted by storage.migrations.twin; reviewed).
-- Momento schema, version 6 (meant as 0007 at merge; the integrator renumbers): leases, so that several
-- bot processes on one database never do the same one-at-a-time work together.
-- A lease names a piece of work (``webhook:<name>:<customer id>``: one webhook queue of one customer), the
-- process holding it and when it runs out: a process that dies without releasing it frees it then.
-- Taken with one upsert (``storage.leases.claim``): only its holder can extend it before it expires.
CREATE TABLE leases (
    name        TEXT COLLATE "C" PRIMARY KEY,
    holder      TEXT COLLATE "C" NOT NULL,
    expires_at  TEXT COLLATE "C" NOT NULL
);
