// The API reference as ReDoc renders it, from the installed package, started from this file
// rather than an inline script, so the page keeps the server's Content-Security-Policy.
"use strict";
Redoc.init("/openapi.json", { disableSearch: false }, document.getElementById("redoc"));
