"""What the price book tells the layers above it, which it may not import."""

from django.dispatch import Signal

# Sent by a page after a change that may price records quarantined for want of a price (a price
# import, a new model alias), with `request` and `cause`, the words for what those records wait
# for ("waiting for a price"). Usage answers with its offer to replay them.
price_fix_applied = Signal()
