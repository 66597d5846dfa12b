// Starts GraphiQL on Dossier's page (graph/graphiql/index.html) with the settings the server put
// in #dossier-graphiql-config: the example tabs, the demo key (when the server has one), and the
// name GraphiQL keeps its tabs under. React, GraphiQL and the explorer plugin are loaded before
// this file, from the server itself.
(function () {
  "use strict";

  var root = document.getElementById("graphiql");

  function fail(message) {
    root.className = "dossier-graphiql-failed";
    root.textContent = message;
  }

  if (
    typeof React === "undefined" ||
    typeof ReactDOM === "undefined" ||
    typeof GraphiQL === "undefined" ||
    typeof GraphiQLPluginExplorer === "undefined"
  ) {
    fail(
      "GraphiQL's scripts did not load (see the browser console). They are served by this " +
        "server under graphql/assets/ and checked against their integrity hashes.",
    );
    return;
  }

  var config = JSON.parse(document.getElementById("dossier-graphiql-config").textContent);
  var url = window.location.href.split(/[?#]/)[0];

  function webSocketUrl(httpUrl) {
    var parsed = new URL(httpUrl);
    parsed.protocol = parsed.protocol === "https:" ? "wss:" : "ws:";
    parsed.hash = "";
    return parsed.toString();
  }

  // The tab's Headers go with each HTTP request, and into connection_init for subscriptions
  // (graphql-transport-ws): the server reads the key from either.
  var fetcher = GraphiQL.createFetcher({ url: url, subscriptionUrl: webSocketUrl(url) });

  // localStorage under a prefix of this server's key and examples (see graph/graphiql/__init__.py).
  function namespacedStorage(prefix) {
    var store;
    try {
      store = window.localStorage;
      store.getItem(prefix);
    } catch (error) {
      return null; // storage refused (a sandboxed frame, a privacy setting): nothing is kept
    }
    function ownKeys() {
      var keys = [];
      for (var i = 0; i < store.length; i++) {
        var key = store.key(i);
        if (key !== null && key.indexOf(prefix) === 0) keys.push(key);
      }
      return keys;
    }
    return {
      getItem: function (key) {
        return store.getItem(prefix + key);
      },
      setItem: function (key, value) {
        store.setItem(prefix + key, value);
      },
      removeItem: function (key) {
        store.removeItem(prefix + key);
      },
      get length() {
        return ownKeys().length;
      },
      clear: function () {
        ownKeys().forEach(function (key) {
          store.removeItem(key);
        });
      },
    };
  }

  var first = config.tabs[0];
  var props = {
    fetcher: fetcher,
    defaultTabs: config.tabs,
    // A tab opened with "+" starts with the card query and the key.
    defaultQuery: first.query,
    defaultHeaders: config.headers,
    // The first tab's contents, so that a reload finds it among the kept tabs instead of
    // opening an empty one.
    query: first.query,
    variables: first.variables,
    headers: first.headers,
    plugins: [GraphiQLPluginExplorer.explorerPlugin()],
    defaultEditorToolsVisibility: "variables",
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: true,
    inputValueDeprecation: true,
  };
  // null (storage refused) makes GraphiQL keep nothing rather than fail on localStorage.
  props.storage = namespacedStorage("dossier-graphiql:" + config.storageKey + ":");

  ReactDOM.createRoot(root).render(React.createElement(GraphiQL, props));
})();
