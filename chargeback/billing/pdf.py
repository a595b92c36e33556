"""Statement PDFs: an HTML template rendered by WeasyPrint, stored with the statement."""

from __future__ import annotations

import base64
import mimetypes
import threading
from decimal import Decimal
from itertools import zip_longest

from django.core.files.base import ContentFile
from django.template.loader import render_to_string

from chargeback.billing import display, dispute_story
from chargeback.billing.models import PdfStatus, Statement

LOGO_TYPES = {"image/png", "image/jpeg", "image/svg+xml", "image/gif"}


def statement_html(statement: Statement) -> str:
    org = statement.organization
    return render_to_string(
        "billing/statement_pdf.html",
        {
            "statement": statement,
            "org": org,
            "unit": statement.unit,
            "lines": _lines(statement),
            "evidence": statement.evidence or {},
            # top services and top models side by side, one table row each
            "evidence_rows": list(
                zip_longest(
                    (statement.evidence or {}).get("services", []),
                    (statement.evidence or {}).get("models", []),
                )
            ),
            "coverage_pct": _percent((statement.evidence or {}).get("coverage")),
            "logo": _logo_data_uri(org),
            "story": dispute_story.story(statement),
        },
    )


def _lines(statement: Statement) -> list:
    lines = list(statement.lines.all())
    for line in lines:
        line.quantity_text = display.quantity_text(
            line.kind, line.quantity, line.unit_price, statement.currency
        )
    return lines


def render_pdf(statement: Statement) -> bytes:
    from weasyprint import HTML  # noqa: PLC0415 (WeasyPrint is heavy to import)

    # The document has no external resources (the logo is inlined as a data: URL), and the
    # fetcher refuses any other URL, so rendering never reaches the network or the disk.
    return HTML(string=statement_html(statement), url_fetcher=data_urls_only()).write_pdf(
        font_config=_font_config()
    )


def data_urls_only():
    """A WeasyPrint fetcher that refuses every protocol but data:."""
    from weasyprint.urls import URLFetcher  # noqa: PLC0415 (WeasyPrint is heavy to import)

    return URLFetcher(allowed_protocols={"data"}, allow_redirects=False)


_fonts = threading.local()


def _font_config():
    """One FontConfiguration per thread, reused from PDF to PDF: WeasyPrint otherwise loads
    the system's fonts into a fresh Fontconfig/Pango font map for every document. The
    template declares no @font-face, so nothing document-specific is kept in it."""
    config = getattr(_fonts, "config", None)
    if config is None:
        from weasyprint.text.fonts import (  # noqa: PLC0415 (WeasyPrint is heavy to import)
            FontConfiguration,
        )

        config = _fonts.config = FontConfiguration()
    return config


def store_pdf(statement: Statement) -> None:
    """Render and store the PDF. Only the PDF columns change, so an issued statement stays
    as it was issued."""
    try:
        data = render_pdf(statement)
    except Exception as exc:
        Statement.objects.filter(pk=statement.pk).update(
            pdf_status=PdfStatus.FAILED, pdf_error=f"{type(exc).__name__}: {exc}"[:1000]
        )
        raise
    name = f"{statement.number}.pdf"
    storage = statement.pdf.storage
    if statement.pdf.name:
        storage.delete(statement.pdf.name)
    path = storage.save(statement.pdf.field.generate_filename(statement, name), ContentFile(data))
    Statement.objects.filter(pk=statement.pk).update(
        pdf=path, pdf_status=PdfStatus.DONE, pdf_error=""
    )
    statement.pdf.name = path
    statement.pdf_status = PdfStatus.DONE


def _percent(share: str | None) -> str:
    """A share ("0.8512") as a percentage with one decimal ("85.1"), in Decimal."""
    if not share:
        return ""
    return f"{(Decimal(share) * 100).quantize(Decimal('0.1'))}"


def _logo_data_uri(org) -> str:
    if not org.logo:
        return ""
    mime = mimetypes.guess_type(org.logo.name)[0] or ""
    if mime not in LOGO_TYPES:
        return ""
    try:
        with org.logo.open("rb") as fh:
            data = fh.read(2_000_000)
    except OSError:
        return ""
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"
