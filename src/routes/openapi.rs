//! The OpenAPI 3.1 document, generated from the handlers' annotations and
//! served at `/id/v3/openapi.json`.

use std::sync::Arc;

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder};

/// Title, version and the two bearer schemes the handlers name.
pub fn base() -> OpenApi {
    let info = InfoBuilder::new()
        .title("Skalio ID API")
        .version("3.0")
        .description(Some(
            "Identity service: signup, login, tokens and profiles.",
        ))
        .build();
    let mut api = OpenApiBuilder::new().info(info).build();
    let bearer = || {
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        )
    };
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme("idToken", bearer());
    components.add_security_scheme("accessToken", bearer());
    components.add_security_scheme("pickupToken", bearer());
    api
}

/// A handler that answers with `document`.
pub fn serve(document: OpenApi) -> impl Fn() -> std::future::Ready<Json<Arc<OpenApi>>> + Clone {
    let document = Arc::new(document);
    move || std::future::ready(Json(Arc::clone(&document)))
}
