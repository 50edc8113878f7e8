"""The platform's contract: its services, events, topics, queues, tables and routes, declared once.

A new event type is a member of :class:`EventType`, an :class:`Event` entry and its topic (or command queue) here,
plus its schema ``services/common/schemas/<Type>.json``; a new queue is one :class:`Queue` here; a new call is one
:class:`Call` of the calling service's :class:`ServiceSpec`. Everything else (environment, IAM, network rules,
Cognito clients, subscriptions, handler registration) is derived.
"""

from __future__ import annotations

from enum import StrEnum

from .model import (
    Access,
    Call,
    Contract,
    Event,
    Queue,
    Route,
    Secret,
    Service,
    ServiceSpec,
    StoreKind,
    Subscription,
    Table,
    TableIndex,
    Topic,
)
from .telemetry import ORDERS_PAST_DEADLINE_METRIC


class EventType(StrEnum):
    """The envelope's ``type`` of every event and command (the wire values)."""

    PRODUCT_CREATED = "ProductCreated"
    PRODUCT_UPDATED = "ProductUpdated"
    ORDER_PLACED = "OrderPlaced"
    ORDER_CONFIRMED = "OrderConfirmed"
    ORDER_CANCELLED = "OrderCancelled"
    STOCK_RESERVED = "StockReserved"
    STOCK_REJECTED = "StockRejected"
    INVENTORY_UPDATED = "InventoryUpdated"
    USER_REGISTERED = "UserRegistered"
    USER_PREFERENCES_CHANGED = "UserPreferencesChanged"
    PAYMENT_CONFIRMED = "PaymentConfirmed"
    PAYMENT_FAILED = "PaymentFailed"
    RESERVE_STOCK = "ReserveStock"
    RELEASE_STOCK = "ReleaseStock"
    EMAIL_BOUNCED = "EmailBounced"
    EMAIL_COMPLAINED = "EmailComplained"


class OrderStatus(StrEnum):
    """An order's state (orders' database, the order events' ``status``, the notifier's messages)."""

    PENDING = "PENDING"
    RESERVED = "RESERVED"
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"


E = EventType

EVENTS: tuple[Event, ...] = (
    Event(E.PRODUCT_CREATED, "a product was added to the catalog"),
    Event(E.PRODUCT_UPDATED, "a product's price, name or status changed"),
    Event(E.ORDER_PLACED, "an order was placed (PENDING)"),
    Event(E.ORDER_CONFIRMED, "an order was paid and is CONFIRMED"),
    Event(E.ORDER_CANCELLED, "an order was cancelled or rejected"),
    Event(E.STOCK_RESERVED, "stock was reserved for an order"),
    Event(E.STOCK_REJECTED, "stock could not be reserved for an order"),
    Event(E.INVENTORY_UPDATED, "a product's available stock changed"),
    Event(E.USER_REGISTERED, "a user signed up"),
    Event(E.USER_PREFERENCES_CHANGED, "a user's notification preferences changed"),
    Event(E.PAYMENT_CONFIRMED, "the payment provider confirmed an order's payment"),
    Event(E.PAYMENT_FAILED, "the payment provider reported a failed payment"),
    Event(E.RESERVE_STOCK, "command: reserve the stock of an order's lines"),
    Event(E.RELEASE_STOCK, "command: release an order's reservation"),
    # SES's bounce and complaint events, as the users service reads them from the email-events topic
    # (users/email_feedback.py); SES publishes its own JSON there, not the envelope, named by `eventType`.
    Event(E.EMAIL_BOUNCED, "SES: a message bounced", body_name="Bounce"),
    Event(E.EMAIL_COMPLAINED, "SES: a recipient complained", body_name="Complaint"),
)

TOPICS: tuple[Topic, ...] = (
    Topic("product-events", Service.PRODUCTS, (E.PRODUCT_CREATED, E.PRODUCT_UPDATED),
          "Catalog changes published by the products service"),
    Topic("order-events", Service.ORDERS, (E.ORDER_PLACED, E.ORDER_CONFIRMED, E.ORDER_CANCELLED),
          "Order lifecycle events published by the orders service (notifications subscribe here)"),
    Topic("inventory-events", Service.INVENTORY, (E.STOCK_RESERVED, E.STOCK_REJECTED, E.INVENTORY_UPDATED),
          "Stock reservations and stock level changes published by the inventory service"),
    Topic("user-events", Service.USERS, (E.USER_REGISTERED, E.USER_PREFERENCES_CHANGED),
          "User lifecycle events published by the users service"),
    Topic("payment-events", Service.ORDERS, (E.PAYMENT_CONFIRMED, E.PAYMENT_FAILED),
          "Payment outcomes: the orders service publishes what the payment provider's signed webhook reports "
          "(POST /payments/webhook)"),
    Topic("email-events", None, (E.EMAIL_BOUNCED, E.EMAIL_COMPLAINED),
          "Bounces and complaints SES publishes for the notifications configuration set",
          body_type_field="eventType"),
)


def _fed(name: str, consumer: Service, topic: str, *event_types: str, description: str) -> Queue:
    """A queue fed by one topic's subscription, filtered to ``event_types``."""
    return Queue(name=name, consumer=consumer, description=description,
                 subscriptions=(Subscription(topic=topic, event_types=event_types),))


QUEUES: tuple[Queue, ...] = (
    Queue(
        name="inventory-reservations",
        consumer=Service.INVENTORY,
        producer=Service.ORDERS,
        commands=(E.RESERVE_STOCK, E.RELEASE_STOCK),
        description="Commands from orders to inventory: ReserveStock and ReleaseStock",
    ),
    _fed("orders-inventory-events", Service.ORDERS, "inventory-events",
         E.STOCK_RESERVED, E.STOCK_REJECTED,
         description="Reservation outcomes that move orders to RESERVED or REJECTED"),
    _fed("orders-payment-events", Service.ORDERS, "payment-events",
         E.PAYMENT_CONFIRMED, E.PAYMENT_FAILED,
         description="Payment outcomes: recorded as the order's payments; a confirmation moves a reserved order to "
                     "CONFIRMED"),
    _fed("orders-product-events", Service.ORDERS, "product-events", E.PRODUCT_CREATED, E.PRODUCT_UPDATED,
         description="Product updates applied to pending orders (repricing, discontinuation)"),
    _fed("orders-user-events", Service.ORDERS, "user-events", E.USER_REGISTERED,
         description="New users recorded as customers by the orders service"),
    _fed("inventory-product-events", Service.INVENTORY, "product-events",
         E.PRODUCT_CREATED, description="New products get a stock record in the inventory service"),
    _fed("users-order-events", Service.USERS, "order-events",
         E.ORDER_CONFIRMED, E.ORDER_CANCELLED,
         description="Order status changes the users service emails to the customer (notifier)"),
    _fed("users-email-events", Service.USERS, "email-events",
         E.EMAIL_BOUNCED, E.EMAIL_COMPLAINED,
         description="SES bounces and complaints: the users service suppresses the address"),
    _fed("products-inventory-events", Service.PRODUCTS, "inventory-events",
         E.INVENTORY_UPDATED,
         description="Stock level changes the catalog shows as availability (in stock, low, out of stock)"),
)

OUTBOX_INDEX = TableIndex(name="OutboxPending", partition_key="outbox_shard", sort_key="outbox_created_at")

TABLES: tuple[Table, ...] = (
    Table(
        service=Service.PRODUCTS,
        partition_key="pk",
        sort_key="sk",
        indexes=(OUTBOX_INDEX, TableIndex(name="Catalog", partition_key="catalog", sort_key="product_id")),
        access_patterns=(
            "get product by id: pk=PRODUCT#<id>, sk=PRODUCT",
            "list the catalog page by page: Catalog index, partition 'catalog', sorted by product id",
            "pending outbox records: sparse OutboxPending index, removed from it once published",
            "availability of a product: stock_available/stock_version on its item, set from InventoryUpdated "
            "(conditional on a newer stock version)",
        ),
    ),
    Table(
        service=Service.USERS,
        partition_key="pk",
        sort_key="sk",
        indexes=(OUTBOX_INDEX, TableIndex(name="ByEmail", partition_key="email"),
                 TableIndex(name="NotificationsDue", partition_key="due_shard", sort_key="due_at")),
        access_patterns=(
            "get profile by Cognito subject (preferences included): pk=USER#<sub>, sk=PROFILE",
            "find a user by email: ByEmail index",
            "pending outbox records: sparse OutboxPending index",
            "notification of an order status: pk=NOTIFICATION#<order id>, sk=STATUS#<status> (conditional put: "
            "one per order and status)",
            "notifications due to be sent: sparse NotificationsDue index (due_shard, due_at), removed once sent",
            "suppressed address (bounce or complaint): pk=SUPPRESSED#<address>, sk=SUPPRESSED",
            "processed event ids: pk=EVENT#<id>, sk=EVENT",
        ),
    ),
    Table(
        service=Service.INVENTORY,
        partition_key="pk",
        sort_key="sk",
        indexes=(OUTBOX_INDEX,),
        access_patterns=(
            "stock of a product: pk=PRODUCT#<id>, sk=STOCK (conditional update keeps available >= 0)",
            "reservation of an order: pk=PRODUCT#<id>, sk=RESERVATION#<order id> (written in the same transaction)",
            "processed event ids: pk=EVENT#<id>, sk=EVENT (dedupe record written with the effect)",
            "pending outbox records: sparse OutboxPending index",
        ),
    ),
)

# Orders' settings from config.environment.OrdersConfig: the deadlines of its open states, its sweeper's interval
# and its pool's idle time.
ORDERS_SETTINGS: tuple[str, ...] = ("ORDER_PENDING_DEADLINE_SECONDS", "ORDER_PAYMENT_DEADLINE_SECONDS",
                                    "ORDER_SWEEP_INTERVAL_SECONDS", "DB_POOL_MAX_IDLE_SECONDS")

SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(Service.PRODUCTS, StoreKind.DYNAMODB, scopes=("read",)),
    ServiceSpec(
        Service.ORDERS, StoreKind.POSTGRES,
        calls=(Call(Service.PRODUCTS, ("read",), purpose="validating order lines"),),
        settings=ORDERS_SETTINGS,
        metrics=(ORDERS_PAST_DEADLINE_METRIC,),  # the sweeper's count of open orders past their deadline
        # The payment provider signs its webhook requests with it (a generated string in Secrets Manager).
        secrets=(Secret("payment-webhook", "PAYMENT_WEBHOOK_SECRET_ARN",
                        "the payment provider's webhook signing secret"),),
    ),
    # The users worker emails customers (users/notifications.py): it owns addresses and preferences.
    ServiceSpec(Service.USERS, StoreKind.DYNAMODB, sends_email=True),
    ServiceSpec(Service.INVENTORY, StoreKind.DYNAMODB),
)

ROUTES: tuple[Route, ...] = (
    Route(Service.PRODUCTS, "GET", "/products", Access.PUBLIC),
    Route(Service.PRODUCTS, "GET", "/products/{productId}", Access.PUBLIC),
    Route(Service.PRODUCTS, "POST", "/products", Access.ADMIN),
    Route(Service.PRODUCTS, "PUT", "/products/{productId}", Access.ADMIN),
    Route(Service.PRODUCTS, "DELETE", "/products/{productId}", Access.ADMIN),
    Route(Service.INVENTORY, "GET", "/inventory/{productId}", Access.USER),
    Route(Service.INVENTORY, "POST", "/inventory/{productId}/adjust", Access.ADMIN),
    Route(Service.ORDERS, "POST", "/orders", Access.USER),
    Route(Service.ORDERS, "GET", "/orders", Access.USER),
    Route(Service.ORDERS, "GET", "/orders/{orderId}", Access.USER),
    Route(Service.ORDERS, "PUT", "/orders/{orderId}", Access.USER),
    Route(Service.ORDERS, "POST", "/orders/{orderId}/cancel", Access.USER),
    Route(Service.ORDERS, "POST", "/payments/webhook", Access.SIGNED),
    Route(Service.USERS, "POST", "/users/register", Access.PUBLIC),
    Route(Service.USERS, "POST", "/users/login", Access.PUBLIC),
    Route(Service.USERS, "POST", "/users/confirm", Access.PUBLIC),
    Route(Service.USERS, "POST", "/users/token", Access.PUBLIC),
    Route(Service.USERS, "POST", "/users/logout", Access.USER),
    Route(Service.USERS, "GET", "/users/me", Access.USER),
    Route(Service.USERS, "PUT", "/users/me", Access.USER),
    Route(Service.USERS, "GET", "/users/me/preferences", Access.USER),
    Route(Service.USERS, "PUT", "/users/me/preferences", Access.USER),
)

CONTRACT = Contract(services=SERVICES, events=EVENTS, topics=TOPICS, queues=QUEUES, tables=TABLES, routes=ROUTES)
