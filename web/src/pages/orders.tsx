import { useEffect, useRef, useState } from "preact/hooks";
import { data, type OrdersComponents } from "../api/client";
import { ApiError } from "../api/errors";
import { OrderChangeIn } from "../api/generated/rules";
import { useShop } from "../app-context";
import { Field, FormError, Link, Loading, Page, Status, fieldError, useLoad } from "../components";
import { type MessageKey, dateTime, money, t } from "../i18n";

type Order = OrdersComponents["schemas"]["Order"];

/** Where an order stops: the storefront follows it until then. */
export const TERMINAL = new Set(["CONFIRMED", "REJECTED", "CANCELLED"]);
const OPEN = new Set(["PENDING", "RESERVED"]);
const FOLLOW_EVERY_MS = [1000, 1000, 2000, 2000, 3000, 5000];

/** The products' names, for an order's lines (which name products by id); a product no longer on sale keeps its
 * id. */
function useProductNames(ids: readonly string[]): Record<string, string> {
  const { api } = useShop();
  const names = useLoad(async () => {
    const found = await Promise.all(ids.map(async (id) => {
      const r = await api.products.GET("/products/{productId}", { params: { path: { productId: id } } });
      return [id, r.response.ok && r.data ? r.data.name : id] as const;
    }));
    return Object.fromEntries(found);
  }, [ids.join(",")]);
  return names.value ?? {};
}

function reference(order: Order): string {
  return order.order_id.slice(0, 8).toUpperCase();
}

function StatusText(props: { status: string }) {
  return <span class={`order-status status-${props.status.toLowerCase()}`}>{t(`order.status.${props.status}` as MessageKey)}</span>;
}

export function Orders() {
  const { api } = useShop();
  const orders = useLoad(async () => data(await api.orders.GET("/orders", { params: { query: { limit: 50 } } })), []);
  return (
    <Page title={t("orders.title")}>
      {orders.loading ? <Loading /> : null}
      <FormError error={orders.error} />
      {orders.value && orders.value.items.length === 0 ? <p>{t("orders.empty")}</p> : null}
      <ul class="orders">
        {orders.value?.items.map((o) => (
          <li key={o.order_id}>
            <Link href={`/orders/${o.order_id}`}>{t("order.title", { ref: reference(o) })}</Link>{" "}
            — {t("orders.placed", { date: dateTime(o.created_at) })} — {money(o.total_cents, o.currency)} — <StatusText status={o.status} />
          </li>
        ))}
      </ul>
    </Page>
  );
}

export function OrderPage(props: { id: string }) {
  const { api } = useShop();
  const [order, setOrder] = useState<Order | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [editing, setEditing] = useState(false);
  const [message, setMessage] = useState("");
  const round = useRef(0);
  const names = useProductNames(order?.lines.map((l) => l.product_id) ?? []);

  // Follows the order to its terminal state; stops when it gets there or the page closes.
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    round.current = 0;
    const follow = async () => {
      try {
        const current = data(await api.orders.GET("/orders/{orderId}", { params: { path: { orderId: props.id } } }));
        if (!live) return;
        setOrder(current);
        setError(null);
        if (TERMINAL.has(current.status)) return;
      } catch (err) {
        if (!live) return;
        setError(err);
        if (err instanceof ApiError && err.status < 500 && err.code !== "throttled") return;
      }
      const wait = FOLLOW_EVERY_MS[Math.min(round.current++, FOLLOW_EVERY_MS.length - 1)];
      timer = setTimeout(() => void follow(), wait);
    };
    void follow();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [props.id, editing]);

  if (!order) {
    return error ? <Page title={t("common.notFound")}><FormError error={error} /></Page> : <Loading />;
  }
  const cancel = async () => {
    if (!window.confirm(t("order.cancelConfirm"))) return;
    try {
      setOrder(data(await api.orders.POST("/orders/{orderId}/cancel", { params: { path: { orderId: order.order_id } } })));
      setError(null);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <Page title={t("order.title", { ref: reference(order) })}>
      <dl class="order">
        <dt>{t("order.status")}</dt>
        <dd data-status={order.status}><StatusText status={order.status} /></dd>
        {order.reason ? <><dt class="visually-hidden">{t("order.reason", { reason: "" })}</dt><dd class="reason">{t("order.reason", { reason: order.reason })}</dd></> : null}
        <dt>{t("common.total")}</dt>
        <dd>{money(order.total_cents, order.currency)}</dd>
        {order.shipping_address ? <><dt>{t("order.address")}</dt><dd class="address">{order.shipping_address}</dd></> : null}
      </dl>
      {TERMINAL.has(order.status) ? null : <p class="hint" role="status">{t("order.following")}</p>}
      {order.status === "RESERVED" ? <p>{t("order.payment")}</p> : null}
      <table class="lines">
        <thead><tr><th scope="col">{t("common.product")}</th><th scope="col">{t("common.quantity")}</th><th scope="col">{t("common.price")}</th></tr></thead>
        <tbody>
          {order.lines.map((l) => (
            <tr key={l.product_id}>
              <td><Link href={`/products/${encodeURIComponent(l.product_id)}`}>{names[l.product_id] ?? l.product_id}</Link></td>
              <td>{l.quantity}</td>
              <td>{money(l.unit_price_cents, order.currency)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <FormError error={editing ? null : error} />
      <Status message={message} />
      {OPEN.has(order.status) && !editing ? (
        <p class="actions">
          <button type="button" class="secondary" onClick={() => setEditing(true)}>{t("order.change")}</button>{" "}
          <button type="button" class="danger" onClick={() => void cancel()}>{t("order.cancel")}</button>
        </p>
      ) : null}
      {editing ? (
        <ChangeOrder order={order} names={names} onDone={(changed) => {
          setEditing(false);
          if (changed) {
            setOrder(changed);
            setMessage(t("order.changed"));
          }
        }} />
      ) : null}
    </Page>
  );
}

function ChangeOrder(props: { order: Order; names: Record<string, string>; onDone: (changed: Order | null) => void }) {
  const { api } = useShop();
  const [quantities, setQuantities] = useState(() => props.order.lines.map((l) => String(l.quantity)));
  const [address, setAddress] = useState(props.order.shipping_address ?? "");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // One key per change: sent again as it is until the API answers, so a retry never changes the order twice.
  const key = useRef(crypto.randomUUID());
  const rule = OrderChangeIn["lines[].quantity"];
  const save = async (event: Event) => {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    const lines = props.order.lines
      .map((l, i) => ({ product_id: l.product_id, quantity: Number(quantities[i]) }))
      .filter((l) => l.quantity > 0);
    try {
      const changed = data(await api.orders.PUT("/orders/{orderId}", {
        params: { path: { orderId: props.order.order_id }, header: { "Idempotency-Key": key.current } },
        body: { lines, shipping_address: address.trim() ? address : null },
      }));
      props.onDone(changed);
    } catch (err) {
      if (err instanceof ApiError && err.status < 500) key.current = crypto.randomUUID();
      setError(err);
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(e) => void save(e)} class="change-order">
      <h2>{t("order.change")}</h2>
      {props.order.lines.map((l, i) => (
        <Field key={l.product_id} id={`lines-${i}-quantity`} type="number" label={`${t("common.quantity")}: ${props.names[l.product_id] ?? l.product_id}`}
          rule={{ ...rule, min: 0 }} value={quantities[i] ?? ""} error={fieldError(error, `lines[${i}]`)}
          onValue={(v) => setQuantities(quantities.map((q, j) => (j === i ? v : q)))} />
      ))}
      <Field id="shipping_address" label={t("order.address")} multiline rule={OrderChangeIn.shipping_address}
        value={address} onValue={setAddress} error={fieldError(error, "shipping_address")} />
      <FormError error={error} fields={["shipping_address", ...props.order.lines.map((_, i) => `lines[${i}]`)]} />
      <button type="submit" disabled={busy}>{t("order.saveChange")}</button>{" "}
      <button type="button" class="secondary" onClick={() => props.onDone(null)}>{t("order.keepAsIs")}</button>
    </form>
  );
}
