"""Importing contacts and leads from CSV, .xlsx and legacy .xls files (D7).

- `reading`: the file, whatever its format, to one normalised CSV read by byte offset.
- `mapping`: which column fills which field; automatic matching and suggestions.
- `rows`: each row checked as createContact checks its input.
- `writing`: a batch of checked rows written with a few multi-row statements.
- `template`: the example file (importTemplate).

crm/services/imports.py runs them as the `import.contacts` job.
"""
