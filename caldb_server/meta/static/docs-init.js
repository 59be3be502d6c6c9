// Starts Swagger UI on the OpenAPI document the page names (data-openapi-url on #swagger-ui).
// It is a file of its own, not a script in the page, so that the page's Content-Security-Policy
// allows no inline script. Loaded with `defer` after swagger-ui-bundle.js, so it runs after it.
"use strict";

(function () {
  // Accessibility (axe-core, tests/ui/test_pages.py), by configuration, not by editing the
  // package's markup:
  // - Swagger UI's servers <select> has no accessible name. With a single server (ours: the
  //   document's one relative URL) there is nothing to choose, so it is not drawn; "Try it out"
  //   then uses the document's first server, as swagger-client does when none is selected.
  // - The title and description go in a banner landmark: Swagger UI puts the operations in a
  //   <main> of its own but leaves them outside any landmark. The role is explicit because a
  //   <header> inside Swagger UI's <section> is not a banner by itself.
  // - The operations list gets an "Operations" heading: Swagger UI goes from the title's <h1>
  //   to the tags' <h3>, which skips a level.
  // - The webhooks (OpenAPI 3.1) are drawn as Swagger UI draws them, but with an <h3> per
  //   webhook between its "Webhooks" <h2> and the operations' <h4> (it skips from h2 to h4).
  function accessibility(system) {
    var h = system.React.createElement;
    function Webhooks(props) {
      var found = props.specSelectors.selectWebhooksOperations();
      var names = found ? Object.keys(found) : [];
      if (names.length === 0) return null;
      var Operation = props.getComponent("OperationContainer", true);
      return h(
        "div",
        { className: "webhooks" },
        h("h2", null, "Webhooks"),
        names.map(function (name) {
          return h(
            "div",
            { key: name + "-webhook" },
            h("h3", { className: "webhook-name" }, name),
            found[name].map(function (item) {
              return h(Operation, {
                key: name + "-" + item.method + "-webhook",
                op: item.operation,
                tag: "webhooks",
                method: item.method,
                path: name,
                specPath: system.Im.List(item.specPath),
                allowTryItOut: false,
              });
            }),
          );
        }),
      );
    }
    return {
      components: { Webhooks: Webhooks },
      wrapComponents: {
        ServersContainer: function (Original) {
          return function (props) {
            return system.specSelectors.servers().size > 1 ? h(Original, props) : null;
          };
        },
        InfoContainer: function (Original) {
          return function (props) {
            return h("header", { role: "banner" }, h(Original, props));
          };
        },
        operations: function (Original) {
          return function (props) {
            return h(
              "div",
              null,
              h("h2", { className: "operations-title" }, "Operations"),
              h(Original, props),
            );
          };
        },
      },
    };
  }

  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    domNode: root,
    presets: [SwaggerUIBundle.presets.apis],
    plugins: [accessibility],
    layout: "BaseLayout", // no top bar: the page shows this API's document, no other URL
    // No deep links: Swagger UI draws each one as a link inside the operation's expand button,
    // an interactive control nested in another (axe's nested-interactive); the buttons still
    // expand and collapse every operation.
    deepLinking: false,
    queryConfigEnabled: false, // the query string cannot point the page at another document
    validatorUrl: null, // the document is never sent to an outside validator
  });
})();
