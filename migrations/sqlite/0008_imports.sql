-- History imports: a job transfers the imported orders (status 'imported' in the inbox).
ALTER TABLE transfer_jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'transfer'; -- transfer | import
