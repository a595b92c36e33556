from decimal import Decimal

from django import template
from django.utils.html import conditional_escape, format_html

from chargeback import numbers
from chargeback.pricing.books import cell

register = template.Library()


@register.filter(name="price_cell")
def price_cell(value: Decimal | None) -> str:
    """`{{ price.input_per_1m|price_cell }}`: plain notation, no trailing zeros, "" for none."""
    return cell(value)


@register.filter(name="price")
def price(value: Decimal | None) -> str:
    """`{{ p.input_per_1m|price }}`: a price as price books print it ("0.80", "4.00", "0.075"),
    "" for none."""
    return numbers.price(value)


@register.filter(name="source_link")
def source_link(source: str) -> str:
    """A price's source: its URL as a link (to the first space) and any note after it as text,
    e.g. "https://aws.amazon.com/bedrock/pricing/ (us-east-1 on-demand)"."""
    source = (source or "").strip()
    if not source.startswith(("https://", "http://")):
        return conditional_escape(source)
    url, _, note = source.partition(" ")
    shown = url if len(url) <= 48 else url[:47] + "…"
    link = format_html('<a href="{}" rel="noopener noreferrer" target="_blank">{}</a>', url, shown)
    return format_html("{} {}", link, note.strip()) if note.strip() else link
