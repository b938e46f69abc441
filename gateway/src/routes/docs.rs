//! `/openapi.json` (the OpenAPI 3.1 description) and `/docs` (Swagger UI, from assets compiled
//! into the binary: nothing is fetched at build or run time).

use std::sync::{Arc, LazyLock};

use axum::{
    Json, Router,
    extract::Path,
    http::{HeaderValue, header},
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use utoipa::openapi::OpenApi;
use utoipa_swagger_ui::Config;

use crate::{error::ApiError, state::AppState};

/// Where the description is served.
pub const OPENAPI_PATH: &str = "/openapi.json";

static SWAGGER_CONFIG: LazyLock<Arc<Config<'static>>> = LazyLock::new(|| {
    Arc::new(
        Config::new([OPENAPI_PATH])
            .persist_authorization(true)
            .try_it_out_enabled(true),
    )
});

/// The documentation routes, serving `document`.
pub fn router(document: OpenApi) -> Router<AppState> {
    let document = Arc::new(document);
    let openapi_json = move || {
        let document = document.clone();
        async move { Json(&*document).into_response() }
    };
    Router::new()
        .route(OPENAPI_PATH, get(openapi_json))
        // Swagger UI's page loads its assets by relative URLs, so it lives under `/docs/`.
        .route("/docs", get(|| async { Redirect::permanent("/docs/") }))
        .route("/docs/", get(swagger_index))
        .route("/docs/{*file}", get(swagger_file))
}

async fn swagger_index() -> Response {
    swagger_asset("")
}

async fn swagger_file(Path(file): Path<String>) -> Response {
    swagger_asset(&file)
}

fn swagger_asset(file: &str) -> Response {
    match utoipa_swagger_ui::serve(file, SWAGGER_CONFIG.clone()) {
        Ok(Some(asset)) => {
            let content_type = HeaderValue::from_str(&asset.content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            (
                [(header::CONTENT_TYPE, content_type)],
                asset.bytes.into_owned(),
            )
                .into_response()
        }
        Ok(None) => ApiError::not_found("there is no such documentation file").into_response(),
        Err(error) => {
            tracing::error!(%error, file, "could not serve a Swagger UI file");
            ApiError::internal().into_response()
        }
    }
}
