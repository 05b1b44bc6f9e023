/* mkdocs-material's own search worker, with one fix: a query is split into terms at the same
   separator the index was built with (mkdocs.yml, plugins.search.separator).

   lunr splits queries at its default separator, /[\s\-]+/, whatever the index used
   (mkdocs-material#8306), so "min-p" was searched as "min" and "p", and the lone "p" matched
   every page. The page passes the theme's worker in the query string (overrides/main.html);
   this file loads it unchanged and only makes the query lexer read the configured separator. */
importScripts(new URL(self.location.href).searchParams.get("worker"));
Object.defineProperty(lunr.QueryLexer, "termSeparator", {
  get: function () { return lunr.tokenizer.separator; },
});
