"""Exports (D8): the column catalogue (columns), batched reads (batches), formula-safe cells
(escaping), the CSV / XLSX writers (formats, xlsx) and one contact's GDPR document (document).
The service that runs them is crm/services/exports.py."""
