"""Soft-bounce and non-delivery reports.

`bounce_text` (the grouping key the store fills on every insert; kept import-light),
`softbounce` (pure shaping: cells -> rows with descriptions), `export` (table, CSV, XLSX,
JSON writers). The counting itself is the store's (`store/sqlite/report.py`).
"""
