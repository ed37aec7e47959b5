//! The `OpenAPI` document, generated from the route table below (the same table the tests check
//! against the router, so the two cannot drift) and committed as `docs/openapi.json`.

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use crate::error::ErrorId;

/// One documented operation.
pub struct Operation {
    /// HTTP method (lower case).
    pub method: &'static str,
    /// Path template.
    pub path: &'static str,
    /// Summary.
    pub summary: &'static str,
    /// Whether `Authorization` is required.
    pub auth: bool,
    /// Request body kind: `multipart` or none.
    pub multipart: bool,
    /// Documented error ids.
    pub errors: &'static [ErrorId],
}

const PUSH_ERRORS: &[ErrorId] = &[
    ErrorId::OMPSAuthorizationHeaderRequired,
    ErrorId::OMPSInvalidName,
    ErrorId::OMPSInvalidVersionFormat,
    ErrorId::OMPSVersionNotApplicable,
    ErrorId::OMPSExpectedFileError,
    ErrorId::OMPSUploadedFileError,
    ErrorId::PackageValidationError,
    ErrorId::QuayAuthorizationError,
    ErrorId::QuayReleaseExists,
    ErrorId::QuayCourierError,
    ErrorId::QuayPackageError,
    ErrorId::RequestEntityTooLarge,
];
const KOJI_ERRORS: &[ErrorId] = &[
    ErrorId::OMPSAuthorizationHeaderRequired,
    ErrorId::OMPSInvalidName,
    ErrorId::OMPSInvalidVersionFormat,
    ErrorId::OMPSVersionNotApplicable,
    ErrorId::KojiNVRBuildNotFound,
    ErrorId::KojiBuildNotComplete,
    ErrorId::KojiNotAnOperatorImage,
    ErrorId::KojiManifestsArchiveNotFound,
    ErrorId::KojiError,
    ErrorId::GreenwaveUnsatisfiedError,
    ErrorId::GreenwaveError,
    ErrorId::PackageValidationError,
    ErrorId::QuayAuthorizationError,
    ErrorId::QuayReleaseExists,
    ErrorId::QuayCourierError,
    ErrorId::QuayPackageError,
];
const DELETE_ERRORS: &[ErrorId] = &[
    ErrorId::OMPSAuthorizationHeaderRequired,
    ErrorId::OMPSInvalidName,
    ErrorId::OMPSInvalidVersionFormat,
    ErrorId::QuayAuthorizationError,
    ErrorId::QuayPackageNotFound,
    ErrorId::QuayPackageError,
];
const READ_ERRORS: &[ErrorId] = &[
    ErrorId::OMPSInvalidName,
    ErrorId::QuayAuthorizationError,
    ErrorId::QuayPackageNotFound,
    ErrorId::QuayPackageError,
];

const CATALOG_ERRORS: &[ErrorId] = &[
    ErrorId::OMPSInvalidName,
    ErrorId::OMPSInvalidToken,
    ErrorId::OMPSAccessDenied,
    ErrorId::OMPSCatalogNotFound,
    ErrorId::OMPSCatalogError,
];

/// Every route the service answers.
pub const OPERATIONS: &[Operation] = &[
    Operation {
        method: "post",
        path: "/v1/{org}/{repo}/zipfile",
        summary: "Push an uploaded zip, automatic version",
        auth: true,
        multipart: true,
        errors: PUSH_ERRORS,
    },
    Operation {
        method: "post",
        path: "/v1/{org}/{repo}/zipfile/{version}",
        summary: "Push an uploaded zip, explicit version",
        auth: true,
        multipart: true,
        errors: PUSH_ERRORS,
    },
    Operation {
        method: "post",
        path: "/v1/{org}/{repo}/koji/{nvr}",
        summary: "Push a Koji build, automatic version",
        auth: true,
        multipart: false,
        errors: KOJI_ERRORS,
    },
    Operation {
        method: "post",
        path: "/v1/{org}/{repo}/koji/{nvr}/{version}",
        summary: "Push a Koji build, explicit version",
        auth: true,
        multipart: false,
        errors: KOJI_ERRORS,
    },
    Operation {
        method: "delete",
        path: "/v1/{org}/{repo}",
        summary: "Delete all releases",
        auth: true,
        multipart: false,
        errors: DELETE_ERRORS,
    },
    Operation {
        method: "delete",
        path: "/v1/{org}/{repo}/{version}",
        summary: "Delete one release",
        auth: true,
        multipart: false,
        errors: DELETE_ERRORS,
    },
    Operation {
        method: "get",
        path: "/v1/health/ping",
        summary: "Health of the store, Koji and Greenwave",
        auth: false,
        multipart: false,
        errors: &[],
    },
    Operation {
        method: "get",
        path: "/v1/about",
        summary: "Service and validator versions",
        auth: false,
        multipart: false,
        errors: &[],
    },
    Operation {
        method: "post",
        path: "/v2/{org}/zipfile",
        summary: "Push an uploaded zip; repository from packageName",
        auth: true,
        multipart: true,
        errors: PUSH_ERRORS,
    },
    Operation {
        method: "post",
        path: "/v2/{org}/zipfile/{version}",
        summary: "Push an uploaded zip with an explicit version",
        auth: true,
        multipart: true,
        errors: PUSH_ERRORS,
    },
    Operation {
        method: "post",
        path: "/v2/{org}/koji/{nvr}",
        summary: "Push a Koji build; repository from packageName",
        auth: true,
        multipart: false,
        errors: KOJI_ERRORS,
    },
    Operation {
        method: "post",
        path: "/v2/{org}/koji/{nvr}/{version}",
        summary: "Push a Koji build with an explicit version",
        auth: true,
        multipart: false,
        errors: KOJI_ERRORS,
    },
    Operation {
        method: "delete",
        path: "/v2/{org}/{repo}",
        summary: "Delete all releases",
        auth: true,
        multipart: false,
        errors: DELETE_ERRORS,
    },
    Operation {
        method: "delete",
        path: "/v2/{org}/{repo}/{version}",
        summary: "Delete one release",
        auth: true,
        multipart: false,
        errors: DELETE_ERRORS,
    },
    Operation {
        method: "get",
        path: "/v2/{org}/{repo}",
        summary: "List the releases of a repository (new)",
        auth: false,
        multipart: false,
        errors: READ_ERRORS,
    },
    Operation {
        method: "get",
        path: "/v2/{org}/{repo}/{version}",
        summary: "Download a release's App Registry blob (new)",
        auth: false,
        multipart: false,
        errors: READ_ERRORS,
    },
    Operation {
        method: "get",
        path: "/v2/{org}/catalog",
        summary: "The organization's file-based catalog as an FBC JSON stream (new; organizations whose OCI table names a catalog)",
        auth: false,
        multipart: false,
        errors: CATALOG_ERRORS,
    },
    Operation {
        method: "delete",
        path: "/v2/{org}/catalog",
        summary: "Delete every release of the package named catalog (the literal route takes GET)",
        auth: true,
        multipart: false,
        errors: DELETE_ERRORS,
    },
    Operation {
        method: "get",
        path: "/v2/{org}",
        summary: "List the repositories of an organization (new)",
        auth: false,
        multipart: false,
        errors: READ_ERRORS,
    },
    Operation {
        method: "get",
        path: "/v2/health/ping",
        summary: "Health of the store, Koji and Greenwave",
        auth: false,
        multipart: false,
        errors: &[],
    },
    Operation {
        method: "get",
        path: "/v2/about",
        summary: "Service and validator versions",
        auth: false,
        multipart: false,
        errors: &[],
    },
    Operation {
        method: "get",
        path: "/metrics",
        summary: "Prometheus metrics",
        auth: false,
        multipart: false,
        errors: &[],
    },
    Operation {
        method: "get",
        path: "/openapi.json",
        summary: "This document",
        auth: false,
        multipart: false,
        errors: &[],
    },
];

/// The `OpenAPI` 3.0 document.
#[must_use]
pub fn document() -> Value {
    let mut paths = Map::new();
    for op in OPERATIONS {
        let params: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .chain(op.auth.then(|| json!({"name": "Authorization", "in": "header", "required": true, "schema": {"type": "string"}, "description": "App Registry token, forwarded verbatim"})))
            .collect();
        let mut responses = Map::new();
        responses.insert("200".into(), json!({"description": "Success"}));
        if !op.errors.is_empty() {
            responses.insert(
                "default".into(),
                json!({
                    "description": format!(
                        "Error envelope; error is one of: {}",
                        op.errors.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
                }),
            );
        }
        let mut operation =
            json!({"summary": op.summary, "parameters": params, "responses": responses});
        if op.multipart {
            operation["requestBody"] = json!({
                "required": true,
                "content": {"multipart/form-data": {"schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}, "required": ["file"]}}}
            });
        }
        let entry = paths.entry(op.path.to_owned()).or_insert_with(|| json!({}));
        entry[op.method] = operation;
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "omps-server", "version": env!("CARGO_PKG_VERSION"), "description": "Operators Manifests Push Service API (v1 and v2), compatible with OMPS 11.2"},
        "paths": paths,
        "components": {"schemas": {"Error": {
            "type": "object",
            "required": ["error", "message", "status"],
            "properties": {
                "error": {"type": "string", "enum": ErrorId::ALL.iter().map(|e| e.as_str()).collect::<Vec<_>>()},
                "message": {"type": "string"},
                "status": {"type": "integer"},
                "validation_info": {"type": "object"},
                "quay_response": {"type": "object"},
                "greenwave_response": {"type": "object"},
                "deleted": {"type": "array", "items": {"type": "string"}}
            }
        }}}
    })
}

/// The error-id table of docs/api.md, generated from [`ErrorId`] (`cargo xtask openapi` writes
/// it between the `error-ids` markers; a test fails when the committed copy drifts).
#[must_use]
pub fn error_table() -> String {
    let mut out = String::from("| id | status | when |\n|---|---|---|\n");
    for id in ErrorId::ALL {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            id.as_str(),
            id.status(),
            id.description()
        );
    }
    out
}

/// The start and end markers of the generated table in docs/api.md.
pub const ERROR_TABLE_MARKERS: (&str, &str) = (
    "<!-- error-ids:start (generated by cargo xtask openapi) -->",
    "<!-- error-ids:end -->",
);
