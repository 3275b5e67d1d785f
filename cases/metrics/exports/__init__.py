"""The figures as files: ``period`` reads a period as people write it ('2026-Q1'),
``tables`` lays a report out as tables (one per section, each with its figures'
definitions), ``csvfile`` and ``workbook`` write those tables as CSV and as XLSX with charts.
The PDF is ``cases.papers.report``."""
