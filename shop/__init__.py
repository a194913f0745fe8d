"""ShopAssist shop data layer: the catalog, customers, orders, returns, refunds, feedback and handoff tickets.

Actions and the agent console use only what is exported here (see docs/contract.md, "Shop data layer
API"); the models, seed and database helpers live in their own modules for the few callers that need them.
"""

from shop.errors import OrderAccessError, ShopUnavailableError
from shop.handoff import (  # also registers the handoff ticket table on shop.models.Base
    HandoffDesk,
    HandoffSettings,
    TicketInfo,
    TicketNotFoundError,
    TicketRequest,
    TicketStateError,
)
from shop.privacy import mask_email
from shop.service import (
    RETURN_WINDOW_DAYS,
    Availability,
    CustomerOrders,
    OrderInfo,
    OrderItemInfo,
    OrderOutcome,
    OrderSummary,
    ProductDetails,
    ProductSummary,
    RefundInfo,
    ReturnOutcome,
    SearchResult,
    ShopService,
    VariantInfo,
)
from shop.shopper_text import normalize_order_id
from shop.vocabulary import Verification

__all__ = [
    "RETURN_WINDOW_DAYS",
    "Availability",
    "CustomerOrders",
    "HandoffDesk",
    "HandoffSettings",
    "OrderAccessError",
    "OrderInfo",
    "OrderItemInfo",
    "OrderOutcome",
    "OrderSummary",
    "ProductDetails",
    "ProductSummary",
    "RefundInfo",
    "ReturnOutcome",
    "SearchResult",
    "ShopService",
    "ShopUnavailableError",
    "TicketInfo",
    "TicketNotFoundError",
    "TicketRequest",
    "TicketStateError",
    "VariantInfo",
    "Verification",
    "mask_email",
    "normalize_order_id",
]
