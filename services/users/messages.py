"""The notification emails: a subject and a plain-text body per order status, in the user's language.

Translations exist for English, Spanish and German. A user's language (a BCP-47 tag from users/models.py's list)
picks its own translation, else that of its primary language (``es-MX`` -> ``es``), else English. The order's
reason (cancelled or rejected) is written by the orders service in English and quoted as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from contract import OrderStatus

DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True)
class Email:
    language: str  # the translation used
    subject: str
    body: str


@dataclass(frozen=True)
class _Texts:
    subjects: dict[str, str]  # by order status
    intros: dict[str, str]
    greeting: str
    total: str
    reason: str
    footer: str
    decimal: str  # decimal separator
    thousands: str


_TEXTS: dict[str, _Texts] = {
    "en": _Texts(
        subjects={"CONFIRMED": "Your order {ref} is confirmed",
                  "CANCELLED": "Your order {ref} was cancelled",
                  "REJECTED": "We could not complete your order {ref}"},
        intros={"CONFIRMED": "Thank you for your order. Your payment was received and order {order_id} is "
                             "confirmed.",
                "CANCELLED": "Your order {order_id} was cancelled.",
                "REJECTED": "We could not complete your order {order_id}. You have not been charged for it."},
        greeting="Hello {name},", total="Total: {amount}", reason="Reason: {reason}",
        footer="You receive this email because order updates are switched on in your preferences; you can switch "
               "them off in your account.\n-- {sender}",
        decimal=".", thousands=","),
    "es": _Texts(
        subjects={"CONFIRMED": "Tu pedido {ref} está confirmado",
                  "CANCELLED": "Tu pedido {ref} ha sido cancelado",
                  "REJECTED": "No hemos podido completar tu pedido {ref}"},
        intros={"CONFIRMED": "Gracias por tu pedido. Hemos recibido el pago y el pedido {order_id} está "
                             "confirmado.",
                "CANCELLED": "Tu pedido {order_id} ha sido cancelado.",
                "REJECTED": "No hemos podido completar tu pedido {order_id}. No se te ha cobrado nada por él."},
        greeting="Hola, {name}:", total="Total: {amount}", reason="Motivo: {reason}",
        footer="Recibes este correo porque tienes activadas las notificaciones de pedidos en tus preferencias; "
               "puedes desactivarlas en tu cuenta.\n-- {sender}",
        decimal=",", thousands="."),
    "de": _Texts(
        subjects={"CONFIRMED": "Ihre Bestellung {ref} ist bestätigt",
                  "CANCELLED": "Ihre Bestellung {ref} wurde storniert",
                  "REJECTED": "Ihre Bestellung {ref} konnte nicht ausgeführt werden"},
        intros={"CONFIRMED": "Vielen Dank für Ihre Bestellung. Ihre Zahlung ist eingegangen und die Bestellung "
                             "{order_id} ist bestätigt.",
                "CANCELLED": "Ihre Bestellung {order_id} wurde storniert.",
                "REJECTED": "Ihre Bestellung {order_id} konnte nicht ausgeführt werden. Ihnen wurde nichts "
                            "berechnet."},
        greeting="Hallo {name},", total="Summe: {amount}", reason="Grund: {reason}",
        footer="Sie erhalten diese E-Mail, weil Bestellbenachrichtigungen in Ihren Einstellungen eingeschaltet "
               "sind; Sie können sie in Ihrem Konto ausschalten.\n-- {sender}",
        decimal=",", thousands="."),
}
TRANSLATIONS: tuple[str, ...] = tuple(_TEXTS)
STATUSES: tuple[str, ...] = (OrderStatus.CONFIRMED, OrderStatus.CANCELLED, OrderStatus.REJECTED)


def translation_for(language: str) -> str:
    """The translation a BCP-47 tag reads: its own, else its primary language's, else English."""
    if language in _TEXTS:
        return language
    primary = language.split("-", 1)[0].lower()
    return primary if primary in _TEXTS else DEFAULT_LANGUAGE


def money(cents: int, currency: str, texts: _Texts) -> str:
    whole, fraction = divmod(abs(cents), 100)
    grouped = f"{whole:,}".replace(",", texts.thousands)
    return f"{'-' if cents < 0 else ''}{grouped}{texts.decimal}{fraction:02d} {currency}"


def order_update(*, language: str, status: str, order_id: str, name: str, sender_name: str,
                 total_cents: int | None = None, currency: str | None = None, reason: str | None = None) -> Email:
    """The email telling ``name`` that order ``order_id`` became ``status`` (CONFIRMED, CANCELLED or REJECTED)."""
    lang = translation_for(language)
    t = _TEXTS[lang]
    ref = order_id.split("-", 1)[0]  # a short reference for the subject line; the body names the whole id
    lines = [t.greeting.format(name=name), "", t.intros[status].format(order_id=order_id)]
    if total_cents is not None and currency:
        lines += ["", t.total.format(amount=money(total_cents, currency, t))]
    if reason and status != OrderStatus.CONFIRMED:
        lines += ["", t.reason.format(reason=reason)]
    lines += ["", t.footer.format(sender=sender_name)]
    return Email(language=lang, subject=t.subjects[status].format(ref=ref), body="\n".join(lines) + "\n")
