"""The rule library: data, one rule per file pair (`<category>/<ID>_<slug>.yaml` + optional `.sql`).

The engine discovers this folder; `ls` reads as the catalog's table of contents. See
`docs/rules-format.md` for the file format and `docs/rules/` for each rule's documentation.
"""
