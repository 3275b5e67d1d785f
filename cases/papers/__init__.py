"""The formal papers a case produces: PDFs set in a CJK font (``pdf``), the decision notice,
the case file, and the figures' report."""
