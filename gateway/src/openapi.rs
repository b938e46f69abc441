//! The OpenAPI 3.1 description of the REST API, generated from the handlers' annotations.

use utoipa::{
    Modify, OpenApi,
    openapi::{
        ContentBuilder, HeaderBuilder, ObjectBuilder, Ref, RefOr, ResponseBuilder, Type,
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

use crate::{
    error::{FieldError, Problem},
    routes::{auth, comments, health, issues, jobs, members, projects, reports, users},
};

/// The whole API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "swatter",
        description = "A bug tracker. Errors are RFC 9457 problem details \
            (`application/problem+json`); every response carries `X-Request-ID`. \
            Get a token at `POST /v1/auth/token` and send it as `Authorization: Bearer <token>`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        users::sign_up,
        users::get_me,
        users::update_me,
        users::change_password,
        users::search_users,
        users::get_user,
        users::update_user,
        auth::create_token,
        auth::revoke_token,
        auth::jwks,
        projects::create_project,
        projects::list_projects,
        projects::get_project,
        projects::update_project,
        projects::delete_project,
        members::list_members,
        members::set_member,
        members::remove_member,
        issues::create_issue,
        issues::list_project_issues,
        issues::list_issues,
        issues::get_issue,
        issues::update_issue,
        issues::delete_issue,
        issues::list_issue_events,
        comments::create_comment,
        comments::list_comments,
        comments::update_comment,
        comments::delete_comment,
        reports::create_report,
        jobs::list_jobs,
        jobs::get_job,
        jobs::cancel_job,
        jobs::retry_job,
        jobs::get_artifact,
        jobs::download_artifact,
        jobs::job_events,
        jobs::job_stats,
        health::healthz,
        health::readyz,
    ),
    components(schemas(Problem, FieldError)),
    modifiers(&BearerSecurity, &CommonResponses),
    tags(
        (name = "users", description = "Accounts: sign-up, your own profile, search, admin changes"),
        (name = "auth", description = "Tokens: log in, refresh, revoke, and the public signing keys"),
        (name = "projects", description = "Projects and their members. Non-members get 404 for a project and everything in it"),
        (name = "issues", description = "Issues: file, find, change with If-Match, delete, and their history"),
        (name = "comments", description = "Comments on issues"),
        (name = "reports", description = "Ask for PDF reports; they are rendered in the background as jobs"),
        (name = "jobs", description = "Report jobs: follow, cancel, retry, download. Other users' jobs are 404"),
        (name = "operations", description = "Liveness and readiness probes"),
    ),
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme the operations refer to.
struct BearerSecurity;

impl Modify for BearerSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token from POST /v1/auth/token (EdDSA-signed JWT, ~15 minutes)",
                    ))
                    .build(),
            ),
        );
    }
}

/// What every operation shares: the `X-Request-ID` header on each response, and server errors
/// as problems.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let request_id = HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::String))
            .description(Some(
                "The request's id: the client's own if it sent a sane one, else a new UUID",
            ))
            .build();
        let server_error = ResponseBuilder::new()
            .description(
                "A server-side failure: 500 unexpected, 503 a service is down, 504 too slow. \
                 The detail never carries internals.",
            )
            .content(
                crate::error::PROBLEM_JSON,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build();
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                responses
                    .entry("5XX".to_owned())
                    .or_insert_with(|| RefOr::T(server_error.clone()));
                for response in responses.values_mut() {
                    if let RefOr::T(response) = response {
                        response
                            .headers
                            .insert("X-Request-ID".to_owned(), request_id.clone());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_is_openapi_3_1_and_lists_every_route() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        for path in [
            "/v1/users",
            "/v1/users/me",
            "/v1/users/me/password",
            "/v1/users/{id}",
            "/v1/auth/token",
            "/v1/auth/revoke",
            "/.well-known/jwks.json",
            "/healthz",
            "/readyz",
            "/v1/projects",
            "/v1/projects/{key}",
            "/v1/projects/{key}/members",
            "/v1/projects/{key}/members/{user_id}",
            "/v1/projects/{key}/issues",
            "/v1/issues",
            "/v1/issues/{issue_key}",
            "/v1/issues/{issue_key}/events",
            "/v1/issues/{issue_key}/comments",
            "/v1/comments/{id}",
            "/v1/reports",
            "/v1/jobs",
            "/v1/jobs/{id}",
            "/v1/jobs/{id}/cancel",
            "/v1/jobs/{id}/retry",
            "/v1/jobs/{id}/artifact",
            "/v1/jobs/{id}/artifact/content",
            "/v1/jobs/{id}/events",
            "/v1/admin/jobs/stats",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} is missing");
        }
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
        assert!(doc["components"]["schemas"]["Problem"].is_object());
        let me = &doc["paths"]["/v1/users/me"]["get"];
        assert!(me["responses"]["5XX"].is_object());
        assert!(me["responses"]["200"]["headers"]["X-Request-ID"].is_object());
        assert_eq!(me["security"][0]["bearer"], serde_json::json!([]));
    }

    #[test]
    fn issue_operations_describe_their_headers_enums_and_problems() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let patch = &doc["paths"]["/v1/issues/{issue_key}"]["patch"];
        let parameters = patch["parameters"].as_array().unwrap();
        assert!(
            parameters
                .iter()
                .any(|p| p["name"] == "If-Match" && p["in"] == "header")
        );
        assert!(patch["responses"]["412"].is_object());
        assert!(patch["responses"]["200"]["headers"]["ETag"].is_object());
        let create = &doc["paths"]["/v1/projects/{key}/issues"]["post"];
        assert!(
            create["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "Idempotency-Key")
        );
        assert!(create["responses"]["201"]["headers"]["Location"].is_object());
        assert_eq!(
            doc["components"]["schemas"]["IssueStatus"]["enum"],
            serde_json::json!(["open", "in_progress", "resolved", "closed"])
        );
        assert_eq!(
            doc["components"]["schemas"]["Role"]["enum"],
            serde_json::json!(["viewer", "reporter", "maintainer", "owner"])
        );
        assert_eq!(
            doc["components"]["schemas"]["JobState"]["enum"],
            serde_json::json!([
                "queued",
                "running",
                "retrying",
                "succeeded",
                "failed",
                "cancelled"
            ])
        );
        let report = &doc["paths"]["/v1/reports"]["post"];
        assert!(report["responses"]["202"]["headers"]["Location"].is_object());
        assert_eq!(report["tags"], serde_json::json!(["reports"]));
        assert!(
            doc["paths"]["/v1/jobs/{id}/artifact/content"]["get"]["responses"]["200"]["content"]
                ["application/pdf"]
                .is_object()
        );
        for (path, method) in [
            ("/v1/projects", "post"),
            ("/v1/projects/{key}/members/{user_id}", "put"),
            ("/v1/issues", "get"),
            ("/v1/comments/{id}", "patch"),
        ] {
            let operation = &doc["paths"][path][method];
            assert!(operation["responses"]["401"].is_object(), "{method} {path}");
            assert!(operation["tags"].is_array(), "{method} {path}");
        }
    }
}
