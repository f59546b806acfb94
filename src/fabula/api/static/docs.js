// The API reference: Swagger UI from the installed fastapi-offline package, started from this
// file rather than an inline script, so the page keeps the server's Content-Security-Policy.
"use strict";
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
