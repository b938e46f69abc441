-- Lists read one ordered scan per status (every status when the list is not filtered by one),
-- so each order needs an index (project, status, order, id): updated_at had one; created_at and
-- priority get theirs. The project-wide order indexes, and (project, priority, updated_at), are
-- no longer read by any query; dropping them makes every issue insert and update cheaper.
CREATE INDEX issues_project_status_created_idx ON issues (project_id, status, created_at DESC, id DESC);
CREATE INDEX issues_project_status_priority_idx ON issues (project_id, status, priority DESC, id DESC);
DROP INDEX issues_project_updated_idx;
DROP INDEX issues_project_created_idx;
DROP INDEX issues_project_priority_idx;
DROP INDEX issues_project_priority_rank_updated_idx;
