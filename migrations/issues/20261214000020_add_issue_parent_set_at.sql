-- When an issue became the sub-issue of its parent (the `created_at` of a parent/child relation).
ALTER TABLE issues ADD COLUMN parent_set_at timestamptz;
