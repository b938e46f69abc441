-- ListMembers pages through a project's members by (username, user_id): one index range per page.
CREATE INDEX members_project_username_idx ON members (project_id, username, user_id);
