"""The PDF reader for broker notes: pypdfium2 glyphs -> segments -> layout -> paragraphs and tables,
with the report's own description (sidebar, banner, file name) as hints."""

from index.pdf.reader import read_pdf

__all__ = ["read_pdf"]
