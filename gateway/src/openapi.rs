//! The OpenAPI 3.1 description of the REST API. Each operation is described by its handler's
//! `#[utoipa::path]` and registered with its route (`routes::api`); this module adds the API's
//! own description and what every operation shares.

use std::collections::BTreeSet;

use utoipa::{
    Modify, OpenApi,
    openapi::{
        ContentBuilder, HeaderBuilder, KnownFormat, ObjectBuilder, Ref, RefOr, Required,
        ResponseBuilder, Schema, SchemaFormat, Type,
        path::{Operation, ParameterIn, PathItem},
        schema::ArrayItems,
        security::{
            Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityRequirement,
            SecurityScheme,
        },
    },
};

use crate::{
    error::{ApiError, FieldError, OAuthError, OAuthProblem, PROBLEM_JSON, Problem, ProblemKind},
    extract::IDEMPOTENCY_KEY_HEADER,
    routes,
};

/// The API itself; its paths come from the routes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "swatter",
        description = "A bug tracker. Errors are RFC 9457 problem details \
            (`application/problem+json`); every response carries `X-Request-ID`. \
            Get a token at `POST /v1/auth/token` (or create a personal access token at \
            `POST /v1/users/me/tokens`) and send it as `Authorization: Bearer <token>`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    components(schemas(Problem, FieldError, OAuthProblem, OAuthError)),
    modifiers(&Security),
    tags(
        (name = "users", description = "Accounts: sign-up, your own profile, search, admin changes"),
        (name = "auth", description = "Tokens: log in, refresh, revoke, and the public signing keys"),
        (name = "tokens", description = "Personal access tokens for scripts and tools: scoped (read, write, admin), optionally limited to some projects, expiring; managed with a password login only"),
        (name = "projects", description = "Projects and their members. Non-members get 404 for a project and everything in it"),
        (name = "issues", description = "Issues: file, find, change with If-Match, delete, and their history"),
        (name = "comments", description = "Comments on issues"),
        (name = "attachments", description = "Files attached to issues and comments: uploaded by a presigned PUT straight to the object store then confirmed (or, up to 10 MiB, in one multipart request), downloaded by a redirect to a presigned GET served as an attachment; a project's storage use"),
        (name = "milestones", description = "Milestones of a project: issues planned together, with a due date and progress by status; maintainers and owners manage them"),
        (name = "notifications", description = "Watching issues, and each user's inbox of notifications (assigned, mentioned, watching, status changed)"),
        (name = "views", description = "Saved views: a user's named issue queries per project, seen by that user only"),
        (name = "changes", description = "A project's change feed: every change to the project, its members, issues and comments, as pages after a cursor and as a live stream"),
        (name = "reports", description = "Ask for PDF reports and exports of issues (CSV, JSON); they are made in the background as jobs"),
        (name = "jobs", description = "Report jobs: follow, cancel, retry, download. Other users' jobs are 404"),
        (name = "schedules", description = "Scheduled reports: a report made at the due times of a cron expression in a time zone, exactly once per due time. Other users' schedules are 404"),
        (name = "webhooks", description = "Webhooks: project owners register endpoints that receive the project's events, signed in the Standard Webhooks format; delivery log, redeliver, test ping"),
        (name = "operations", description = "Liveness and readiness probes"),
    ),
)]
pub struct ApiDoc;

/// The whole description, as `GET /openapi.json` serves it.
pub fn document() -> utoipa::openapi::OpenApi {
    complete(routes::api().into_openapi())
}

/// Adds what every operation shares to the operations the routes declared.
pub fn complete(mut document: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    CommonResponses.modify(&mut document);
    PageItemsByReference.modify(&mut document);
    LoginAlternative.modify(&mut document);
    ParameterRules.modify(&mut document);
    document
}

/// Every operation of the description, for the modifiers that complete them all.
fn operations_mut(openapi: &mut utoipa::openapi::OpenApi) -> impl Iterator<Item = &mut Operation> {
    openapi.paths.paths.values_mut().flat_map(|item| {
        let PathItem {
            get,
            put,
            post,
            delete,
            patch,
            ..
        } = item;
        [get, put, post, delete, patch].into_iter().flatten()
    })
}

/// Marks every query parameter `allowEmptyValue`: the gateway reads `?page_size=` (as HTML forms
/// send it) like an absent parameter, whatever the parameter's type. And every path parameter
/// `required`, as OpenAPI demands (utoipa leaves it out where a parameter's schema is written by
/// hand, and client generators then skip the operation).
struct ParameterRules;

impl Modify for ParameterRules {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let parameters =
            operations_mut(openapi).flat_map(|operation| operation.parameters.iter_mut().flatten());
        for parameter in parameters {
            match parameter.parameter_in {
                // utoipa has no field for this keyword (deprecated in OpenAPI, still read by
                // tools); it goes in as an extra key of the parameter.
                ParameterIn::Query => {
                    parameter
                        .extensions
                        .get_or_insert_with(Default::default)
                        .insert("allowEmptyValue".to_owned(), serde_json::Value::Bool(true));
                }
                ParameterIn::Path => parameter.required = Required::True,
                ParameterIn::Header | ParameterIn::Cookie => {}
            }
        }
    }
}

/// A sample problem body for an operation's description: a `kind` problem about `field` (none
/// when empty), as the gateway renders it.
pub fn problem_example(kind: ProblemKind, field: &str, message: &str) -> Problem {
    let error = match (kind, field) {
        (ProblemKind::Validation, _) => ApiError::invalid_field(field, message),
        (_, "") => ApiError::new(kind, message),
        _ => ApiError::new(kind, message).with_errors(vec![FieldError {
            field: field.to_owned(),
            message: message.to_owned(),
        }]),
    };
    Problem {
        request_id: Some("0b5e2c5e-6f0e-4a51-8d0c-2b1f0c1d2e3f".to_owned()),
        ..error.problem()
    }
}

/// The security scheme handlers name (`bearer`: an access token, however it was obtained).
const BEARER: &str = "bearer";
/// The same access token, as the OAuth2 password flow obtains it: tools that know the flow
/// (Swagger UI's Authorize) log in with a username and password instead of a pasted token.
const OAUTH2: &str = "oauth2";

/// Declares the security schemes the operations refer to.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An access token from POST /v1/auth/token (EdDSA-signed JWT, ~15 \
                         minutes), or a personal access token from POST /v1/users/me/tokens \
                         (`swt_pat_…`: its scopes and projects limit what it may do; an \
                         expired or revoked one is 401 `token-expired` / `token-revoked`)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            OAUTH2,
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::Password(Password::new(
                    "/v1/auth/token",
                    Scopes::new(),
                ))],
                "Log in with a username and password (OAuth2 password grant at \
                 POST /v1/auth/token); the access token is then sent as a bearer token",
            )),
        );
    }
}

/// Lets every operation that takes a bearer token take it from the OAuth2 password flow too
/// (either requirement satisfies it: they name the same token).
struct LoginAlternative;

impl Modify for LoginAlternative {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let bearer = SecurityRequirement::new(BEARER, Vec::<String>::new());
        for operation in operations_mut(openapi) {
            if let Some(security) = &mut operation.security
                && security.contains(&bearer)
            {
                security.push(SecurityRequirement::new(OAUTH2, Vec::<String>::new()));
            }
        }
    }
}

/// Points the items of each page (`Page_Issue`, from `routes::Page<Issue>`) at the component
/// of their own name. utoipa writes a generic type's parameter out in full, a copy of `Issue`
/// inside `Page_Issue`, from which client generators make a second type for list items,
/// unrelated to the one a single `GET` answers.
struct PageItemsByReference;

impl Modify for PageItemsByReference {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let names: BTreeSet<String> = components.schemas.keys().cloned().collect();
        for (name, page) in &mut components.schemas {
            let Some(item) = name
                .strip_prefix("Page_")
                .filter(|item| names.contains(*item))
            else {
                continue;
            };
            let RefOr::T(Schema::Object(page)) = page else {
                continue;
            };
            if let Some(RefOr::T(Schema::Array(items))) = page.properties.get_mut("items") {
                items.items = ArrayItems::RefOrSchema(Box::new(Ref::from_schema_name(item).into()));
            }
        }
    }
}

/// What operations share, so that handlers declare only their own answers: 401 on secured
/// operations, 404 on those with path parameters, 400/413/415/422 on those with a body, 422 on
/// those with query parameters or an `Idempotency-Key`, server errors, a problem body on every
/// error answer that declares none, `Retry-After` on 429, and the `X-Request-ID` header on each
/// response. Every status the gateway can answer is declared, so that clients and tools need
/// not guess.
struct CommonResponses;

/// Tag of the OAuth2 endpoints, which answer every fault of a request as 400 `invalid_request`
/// (RFC 6749 §5.2) and declare it themselves, with the [`OAuthProblem`] body.
const OAUTH_TAG: &str = "auth";

fn is_oauth(operation: &Operation) -> bool {
    operation.tags.iter().flatten().any(|tag| tag == OAUTH_TAG)
}

/// The answers an operation gives without declaring them, by what it takes.
fn shared_answers(operation: &Operation) -> Vec<(&'static str, &'static str)> {
    let mut answers = Vec::new();
    if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
        answers.push(("401", "No, a bad or an expired access token"));
    }
    let parameters = || operation.parameters.iter().flatten();
    if parameters().any(|p| p.parameter_in == ParameterIn::Path) {
        answers.push(("404", "No such resource, or the caller may not see it"));
    }
    if operation.request_body.is_some() && !is_oauth(operation) {
        answers.push(("400", "The body is not JSON"));
        answers.push(("413", "The body is over 1 MiB"));
        answers.push(("415", "The body is not sent as JSON"));
        answers.push(("422", "A field is invalid"));
    }
    if parameters().any(|p| p.parameter_in == ParameterIn::Query) {
        answers.push((
            "422",
            "A query parameter is invalid, repeated, or holds control characters",
        ));
    }
    if parameters().any(|p| p.name == IDEMPOTENCY_KEY_HEADER) {
        answers.push((
            "422",
            "The Idempotency-Key is blank, too long or not printable",
        ));
    }
    answers.push((
        "5XX",
        "A server-side failure: 500 unexpected, 503 a service is down, 504 too slow. \
         The detail never carries internals.",
    ));
    answers
}

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let request_id = HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::String))
            .description(Some(
                "The request's id: the client's own if it sent a sane one, else a new UUID",
            ))
            .build();
        let retry_after = HeaderBuilder::new()
            .schema(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                    .minimum(Some(0)),
            )
            .description(Some("Seconds to wait"))
            .build();
        let problem = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build();
        for operation in operations_mut(openapi) {
            for (status, description) in shared_answers(operation) {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| {
                        RefOr::T(ResponseBuilder::new().description(description).build())
                    });
            }
            for (status, response) in &mut operation.responses.responses {
                let RefOr::T(response) = response else {
                    continue;
                };
                let error = !status.starts_with(['1', '2', '3']);
                if error && response.content.is_empty() {
                    response
                        .content
                        .insert(PROBLEM_JSON.to_owned(), problem.clone());
                }
                if status == "429" {
                    response
                        .headers
                        .insert("Retry-After".to_owned(), retry_after.clone());
                }
                response
                    .headers
                    .insert("X-Request-ID".to_owned(), request_id.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_parameter_is_required_and_in_its_path_and_every_template_is_a_parameter() {
        let doc = serde_json::to_value(document()).unwrap();
        for (path, operations) in doc["paths"].as_object().unwrap() {
            for (method, operation) in operations.as_object().unwrap() {
                let parameters = operation["parameters"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let in_path: Vec<&str> = parameters
                    .iter()
                    .filter(|parameter| parameter["in"] == "path")
                    .inspect(|parameter| assert_eq!(parameter["required"], true, "{path}"))
                    .map(|parameter| parameter["name"].as_str().unwrap())
                    .collect();
                let templated: Vec<&str> = path
                    .split('/')
                    .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
                    .collect();
                assert_eq!(in_path, templated, "{method} {path}");
            }
        }
    }

    #[test]
    fn the_description_is_openapi_3_1_and_lists_every_route() {
        let doc = serde_json::to_value(document()).unwrap();
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
            "/v1/issues/{issue_key}/attachments",
            "/v1/issues/{issue_key}/attachments/uploads",
            "/v1/attachments/{id}",
            "/v1/attachments/{id}/confirm",
            "/v1/attachments/{id}/download",
            "/v1/projects/{key}/attachment-usage",
            "/v1/reports",
            "/v1/jobs",
            "/v1/jobs/{id}",
            "/v1/jobs/{id}/cancel",
            "/v1/jobs/{id}/retry",
            "/v1/jobs/{id}/artifact",
            "/v1/jobs/{id}/artifact/content",
            "/v1/jobs/{id}/events",
            "/v1/admin/jobs/stats",
            "/v1/schedules",
            "/v1/schedules/{id}",
            "/v1/schedules/{id}/pause",
            "/v1/schedules/{id}/resume",
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
    fn every_error_answer_is_a_problem_and_every_429_says_when_to_retry() {
        let doc = serde_json::to_value(document()).unwrap();
        let operations = doc["paths"].as_object().unwrap().values();
        for operation in operations.flat_map(|item| item.as_object().unwrap().values()) {
            let responses = operation["responses"].as_object().unwrap();
            let oauth = operation["tags"][0] == OAUTH_TAG;
            for (status, response) in responses.iter().filter(|(s, _)| s.as_str() >= "400") {
                let problem = &response["content"][PROBLEM_JSON]["schema"]["$ref"];
                let expected = if oauth && status.starts_with('4') {
                    "#/components/schemas/OAuthProblem"
                } else {
                    "#/components/schemas/Problem"
                };
                assert_eq!(problem, expected, "{status}");
                let retry_after = response["headers"]["Retry-After"].is_object();
                assert_eq!(retry_after, status == "429", "{status}");
            }
            if operation["security"].is_array() {
                assert!(responses.contains_key("401"));
            }
        }
    }

    #[test]
    fn the_oauth2_endpoints_declare_rfc_6749_errors_and_no_422_or_415() {
        let doc = serde_json::to_value(document()).unwrap();
        for path in ["/v1/auth/token", "/v1/auth/revoke"] {
            let responses = doc["paths"][path]["post"]["responses"].as_object().unwrap();
            assert!(responses.contains_key("400"), "{path}");
            assert!(!responses.contains_key("415"), "{path}");
            assert!(!responses.contains_key("422"), "{path}");
        }
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["OAuthError"]["enum"],
            serde_json::json!([
                "invalid_request",
                "invalid_client",
                "invalid_grant",
                "unsupported_grant_type",
                "unsupported_token_type",
                "slow_down"
            ])
        );
        let required = schemas["OAuthProblem"].to_string();
        assert!(required.contains("error_description"), "{required}");
    }

    #[test]
    fn client_generators_get_one_token_body_a_binary_pdf_shared_items_and_named_report_kinds() {
        let doc = serde_json::to_value(document()).unwrap();
        let schemas = &doc["components"]["schemas"];
        let token = &doc["paths"]["/v1/auth/token"]["post"]["requestBody"]["content"];
        let token_bodies: Vec<&String> = token.as_object().unwrap().keys().collect();
        assert_eq!(token_bodies, ["application/x-www-form-urlencoded"]);
        let pdf = &doc["paths"]["/v1/jobs/{id}/artifact/content"]["get"]["responses"]["200"];
        let pdf = &pdf["content"]["application/pdf"]["schema"];
        assert_eq!(
            (&pdf["type"], &pdf["format"]),
            (&"string".into(), &"binary".into())
        );
        let pages = schemas.as_object().unwrap().iter();
        let pages: Vec<_> = pages
            .filter(|(name, _)| name.starts_with("Page_"))
            .collect();
        assert!(pages.len() >= 6, "{pages:?}");
        for (name, page) in pages {
            let item = format!("#/components/schemas/{}", &name["Page_".len()..]);
            assert_eq!(page["properties"]["items"]["items"]["$ref"], item, "{name}");
        }
        for (union, variants) in [
            (
                "CreateReportRequest",
                [
                    "ProjectReportRequest",
                    "UserMonthlyReportRequest",
                    "ExportRequest",
                ],
            ),
            (
                "ReportParams",
                [
                    "ProjectReportParams",
                    "UserMonthlyReportParams",
                    "ExportParams",
                ],
            ),
        ] {
            let refs = variants.map(|variant| format!("#/components/schemas/{variant}"));
            let one_of = &schemas[union]["oneOf"];
            assert_eq!(
                one_of,
                &serde_json::json!(refs.clone().map(|r| serde_json::json!({"$ref": r})))
            );
            let discriminator = &schemas[union]["discriminator"];
            assert_eq!(discriminator["propertyName"], "kind");
            for (kind, (variant, reference)) in ["project", "user_monthly"]
                .iter()
                .zip(variants.iter().zip(&refs))
            {
                assert_eq!(&discriminator["mapping"][kind], reference);
                assert_eq!(schemas[variant]["properties"]["kind"]["const"], *kind);
                assert!(
                    schemas[variant]["required"]
                        .as_array()
                        .unwrap()
                        .contains(&"kind".into())
                );
            }
            // Both export kinds share one shape, whose `kind` names either.
            for kind in ["issues_csv", "issues_json"] {
                assert_eq!(discriminator["mapping"][kind], refs[2]);
            }
            assert_eq!(
                schemas[variants[2]]["properties"]["kind"]["enum"],
                serde_json::json!(["issues_csv", "issues_json"])
            );
        }
        let content = &doc["paths"]["/v1/jobs/{id}/artifact/content"]["get"]["responses"]["200"];
        for content_type in ["text/csv; charset=utf-8", "application/json"] {
            assert!(
                content["content"][content_type].is_object(),
                "{content_type}"
            );
        }
    }

    #[test]
    fn issue_operations_describe_their_headers_enums_and_problems() {
        let doc = serde_json::to_value(document()).unwrap();
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
