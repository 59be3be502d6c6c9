// Starts Swagger UI on the OpenAPI document the page names (data-openapi-url on #swagger-ui).
// It is a file of its own, not a script in the page, so that the page's Content-Security-Policy
// allows no inline script. Loaded with `defer` after swagger-ui-bundle.js, so it runs after it.
"use strict";

(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    domNode: root,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout", // no top bar: the page shows this API's document, no other URL
    deepLinking: true,
    queryConfigEnabled: false, // the query string cannot point the page at another document
    validatorUrl: null, // the document is never sent to an outside validator
  });
})();
