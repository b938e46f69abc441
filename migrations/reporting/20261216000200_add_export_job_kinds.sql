-- Issue 16: exports of issue lists as CSV or JSON are jobs too.
ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check
    CHECK (kind IN ('project', 'user_monthly', 'issues_csv', 'issues_json'));
