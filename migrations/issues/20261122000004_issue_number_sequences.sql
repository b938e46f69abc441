-- Issue numbers come from one sequence per project instead of a counter row. A counter row is
-- locked from the number's allocation until commit (WAL flush included), so one project could
-- take only ~600 new issues a second; `nextval` never blocks. Numbers stay unique; a create that
-- rolls back after taking its number leaves a gap, as on GitHub.
CREATE FUNCTION issue_number_sequence(project_id uuid) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$ SELECT 'issue_numbers_' || replace(project_id::text, '-', '') $$;

CREATE FUNCTION projects_issue_numbers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        EXECUTE format('CREATE SEQUENCE %I', issue_number_sequence(NEW.id));
    ELSE
        EXECUTE format('DROP SEQUENCE IF EXISTS %I', issue_number_sequence(OLD.id));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER projects_issue_numbers AFTER INSERT OR DELETE ON projects
    FOR EACH ROW EXECUTE FUNCTION projects_issue_numbers();

-- Existing projects continue where their counter stood.
DO $$
DECLARE p record;
BEGIN
    FOR p IN SELECT id, next_issue_number FROM projects LOOP
        EXECUTE format('CREATE SEQUENCE %I START %s', issue_number_sequence(p.id), p.next_issue_number);
    END LOOP;
END $$;

ALTER TABLE projects DROP COLUMN next_issue_number;
