"""Classification: each parsed failure becomes a kind (hard/soft/blocked/...) and a reason.

Pure functions over values and config; no I/O. Import from the modules (`classify`,
`reasons`, `soft_texts`, ...): the package imports nothing, so the report's text
descriptions do not compile the reason table.
"""
