/* Starts the vendored Swagger UI (#swagger-ui) or ReDoc (#redoc) on the page's OpenAPI
 * address (data-openapi-url); an external file because the CSP forbids inline scripts. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var swagger = document.getElementById("swagger-ui");
    if (swagger) {
      window.SwaggerUIBundle({
        url: swagger.dataset.openapiUrl,
        domNode: swagger,
        deepLinking: true,
        layout: "BaseLayout",
        presets: [window.SwaggerUIBundle.presets.apis],
        validatorUrl: null,
        showExtensions: true,
        showCommonExtensions: true,
      });
    }
    var redoc = document.getElementById("redoc");
    if (redoc) {
      window.Redoc.init(redoc.dataset.openapiUrl, {}, redoc);
    }
  });
})();
