"""The site's machinery: model fetch and load, the cache, the artifact registry, the include
index, the reader's command line and the module runner.

Everything a page *shows* lives in `snippets/`; everything that makes the site out of it lives
here. The folder is the definition: cache keys hash the code of `snippets/` modules only, so an
edit here never recomputes a figure (except `artifacts.compute`, which shapes the bytes and is
hashed by itself). Importing this package imports neither torch nor transformers.
"""
