//! Extractors whose rejections speak the error envelope, and the namespace selector every route shares.

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use baton_core::{ErrorCode, Namespace};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// `axum::Json`, with malformed, mistyped and oversized bodies answered in the error envelope.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(request, state).await?;
        Ok(Self(value))
    }
}

/// `axum::extract::Query`, with bad parameters answered in the error envelope.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(value) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

/// `axum::extract::Path`, with a bad path segment (not UTF-8 once decoded, or not the type the route wants)
/// answered in the error envelope.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(value) = Path::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

pub const NAMESPACE_HEADER: &str = "x-baton-namespace";

/// The namespace named by the `namespace` query parameter or the `X-Baton-Namespace` header, if any.
pub struct NamespaceSelector(Option<String>);

#[derive(Deserialize)]
struct NamespaceQuery {
    namespace: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for NamespaceSelector {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ApiQuery(query) = ApiQuery::<NamespaceQuery>::from_request_parts(parts, state).await?;
        // A header that is not visible ASCII is refused, never skipped: skipped, the request would run in
        // `default`, outside the namespace its client named.
        let header = match parts.headers.get(NAMESPACE_HEADER) {
            Some(value) => Some(value.to_str().map(str::to_owned).map_err(|_| {
                ApiError::new(ErrorCode::InvalidArgument, format!("the {NAMESPACE_HEADER} header must be plain ASCII"))
            })?),
            None => None,
        };
        Ok(Self(query.namespace.or(header)))
    }
}

impl NamespaceSelector {
    /// Resolves the namespace: a body field wins over the query or header, and `default` is the fallback.
    pub fn resolve(self, body: Option<&str>) -> Result<Namespace, ApiError> {
        match body.map(str::to_owned).or(self.0) {
            Some(name) => Ok(Namespace::parse(&name)?),
            None => Ok(Namespace::default()),
        }
    }
}
