"""The OpenAPI document served at /api/v1/openapi.json: the whole HTTP API."""


def _error(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Error"}}}}


def _json(description: str, schema: dict | None = None) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": schema or {"type": "object"}}}}


LASID = {"name": "lasid", "in": "path", "required": True,
         "schema": {"type": "string", "pattern": "^[0-9]{10}$"}}
DOCUMENT_ID = {"name": "document_id", "in": "path", "required": True,
               "schema": {"type": "string"}}
COMMON = {"401": _error("No or unknown bearer token (`unauthorized`)"),
          "403": _error("The caller's role may not do this (`forbidden`)"),
          "404": _error("No such record, or another tenant's (`not_found`)")}
PDF = {"description": "The exact stored bytes",
       "content": {"application/pdf": {"schema": {"type": "string",
                                                  "format": "binary"}}}}

OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "Micro-Enterprise Credential evidence vault", "version": "1"},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {
                "error": {"type": "object", "required": ["code", "message"],
                          "properties": {"code": {"type": "string"},
                                         "message": {"type": "string"}}}}},
            "Warning": {"type": "object", "properties": {
                "code": {"type": "string", "enum": [
                    "javascript", "launch_action", "embedded_files", "xfa_form",
                    "repaired", "empty_password", "name_mismatch"]},
                "message": {"type": "string"}}},
            "Document": {"type": "object", "properties": {
                "id": {"type": "string"}, "kind": {"type": "string"},
                "filename": {"type": "string"}, "sha256": {"type": "string"},
                "size": {"type": "integer"}, "pages": {"type": "integer"},
                "warnings": {"type": "array",
                             "items": {"$ref": "#/components/schemas/Warning"}},
                "uploaded_at": {"type": "string", "format": "date-time"}}},
            "Completeness": {"type": "object", "additionalProperties": {
                "type": "object", "properties": {
                    "status": {"type": "string",
                               "enum": ["complete", "incomplete", "issued"]},
                    "missing": {"type": "array", "items": {"type": "object"}}}}},
            "StudentInput": {"type": "object",
                             "required": ["first_name", "last_name", "school",
                                          "cohort"],
                             "properties": {
                                 "first_name": {"type": "string"},
                                 "last_name": {"type": "string"},
                                 "school": {"type": "string"},
                                 "cohort": {"type": "integer"},
                                 "district": {"type": "string"}}},
        },
    },
    "security": [{"bearer": []}],
    "paths": {
        "/healthz": {"get": {"security": [], "summary": "Database and store answer",
                             "responses": {"200": _json("Healthy"),
                                           "503": _json("A store is down")}}},
        "/api/v1/students/{lasid}": {
            "parameters": [LASID],
            "put": {"summary": "Enrol or update a student",
                    "requestBody": {"content": {"application/json": {"schema": {
                        "$ref": "#/components/schemas/StudentInput"}}}},
                    "responses": {"200": _json("Updated"), "201": _json("Created"),
                                  "409": _error("LASID enrolled by another district"),
                                  "422": _error("Invalid field"), **COMMON}},
            "get": {"summary": "A student's record",
                    "responses": {"200": _json("The record"), **COMMON}}},
        "/api/v1/students/{lasid}/modules/{module}": {
            "parameters": [LASID, {"name": "module", "in": "path", "required": True,
                                   "schema": {"type": "string"}}],
            "put": {"summary": "Record a module completion date",
                    "requestBody": {"content": {"application/json": {"schema": {
                        "type": "object", "properties": {
                            "completed_on": {"type": "string",
                                             "format": "date"}}}}}},
                    "responses": {"200": _json("Recorded"),
                                  "422": _error("Invalid module or date"), **COMMON}}},
        "/api/v1/students/{lasid}/documents": {
            "parameters": [LASID],
            "post": {"summary": "Upload a PDF",
                     "requestBody": {"content": {"multipart/form-data": {"schema": {
                         "type": "object", "properties": {
                             "kind": {"type": "string", "enum": [
                                 "sa_round1", "sa_round2", "mentor_checklist"]},
                             "file": {"type": "string", "format": "binary"}}}}}},
                     "responses": {
                         "201": _json("Stored", {
                             "$ref": "#/components/schemas/Document"}),
                         "413": _error("`too_large`"),
                         "422": _error("`not_pdf`, `encrypted`, `malformed`, "
                                       "`too_many_pages`, `invalid_kind`"),
                         **COMMON}}},
        "/api/v1/documents/{document_id}": {
            "parameters": [DOCUMENT_ID],
            "get": {"summary": "A document's metadata",
                    "responses": {"200": _json("Metadata", {
                        "$ref": "#/components/schemas/Document"}), **COMMON}}},
        "/api/v1/documents/{document_id}/content": {
            "parameters": [DOCUMENT_ID],
            "get": {"summary": "The exact uploaded bytes",
                    "responses": {"200": PDF, **COMMON}}},
        "/api/v1/exam-results": {
            "post": {"summary": "Report exam results (exam provider, operator)",
                     "requestBody": {"content": {"application/json": {"schema": {
                         "type": "array", "items": {"type": "object", "properties": {
                             "lasid": {"type": "string"},
                             "exam": {"type": "string"},
                             "taken_on": {"type": "string", "format": "date"},
                             "score": {"type": "number"},
                             "passed": {"type": "boolean"}}}}}}},
                     "responses": {"200": _json("Accepted count and rejections"),
                                   **COMMON}}},
        "/api/v1/students/{lasid}/completeness": {
            "parameters": [LASID],
            "get": {"summary": "Status and missing items per credential level",
                    "responses": {"200": _json("Per level", {
                        "$ref": "#/components/schemas/Completeness"}), **COMMON}}},
        "/api/v1/students/{lasid}/certificates": {
            "parameters": [LASID],
            "post": {"summary": "Issue a certificate (operator)",
                     "requestBody": {"content": {"application/json": {"schema": {
                         "type": "object",
                         "properties": {"level": {"type": "string"}}}}}},
                     "responses": {"201": _json("Issued"),
                                   "409": _error("`incomplete` with `missing`, or "
                                                 "`already_issued`"), **COMMON}}},
        "/api/v1/certificates/{number}/content": {
            "parameters": [{"name": "number", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "get": {"summary": "The certificate PDF",
                    "responses": {"200": PDF, **COMMON}}},
    },
}
