// Starts GraphiQL (the gateway's own script; the page holds no inline script).
// Reads the page's settings from <script id="graphiql-settings" type="application/json">:
// { "tabs": [{ "query", "variables", "headers" }], "headers": "<JSON text>" }.
(function () {
  "use strict";
  var settings = JSON.parse(document.getElementById("graphiql-settings").textContent);
  // subscriptions over a websocket on the same path (graphql-transport-ws); the Headers
  // pane's values become connection_init's payload (gateway/ws_endpoint.py)
  var here = window.location;
  var fetcher = GraphiQL.createFetcher({
    url: here.pathname,
    subscriptionUrl: (here.protocol === "https:" ? "wss://" : "ws://") + here.host + here.pathname,
  });
  var explorer = GraphiQLPluginExplorer.explorerPlugin();
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [explorer],
      defaultTabs: settings.tabs,
      defaultHeaders: settings.headers,
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      // an API key stays in the page, never in the browser's storage
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
    }),
  );
})();
