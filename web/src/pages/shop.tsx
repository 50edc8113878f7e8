import { useEffect, useRef, useState } from "preact/hooks";
import { data, type ProductsComponents } from "../api/client";
import { ApiError, NetworkError } from "../api/errors";
import { OrderIn } from "../api/generated/rules";
import { useShop } from "../app-context";
import { Availability, Field, FormError, Link, Loading, Page, Status, fieldError, useLoad } from "../components";
import { money, t } from "../i18n";
import { navigate } from "../router";
import { useStore } from "../store";

type Product = ProductsComponents["schemas"]["Product"];
const PAGE_SIZE = 24;

export function Catalog() {
  const { api, cart } = useShop();
  const [pages, setPages] = useState<{ items: Product[]; next: string | null }>({ items: [], next: null });
  const [added, setAdded] = useState("");
  const first = useLoad(async () => {
    const page = data(await api.products.GET("/products", { params: { query: { limit: PAGE_SIZE } } }));
    setPages({ items: page.items, next: page.next ?? null });
    return page;
  }, []);
  // The catalog is interactive: its first page is on screen with its buttons (measured by make bench-web).
  useEffect(() => {
    if (pages.items.length > 0) performance.mark("catalog-interactive");
  }, [pages.items.length > 0]);
  const more = async () => {
    if (!pages.next) return;
    const page = data(await api.products.GET("/products", { params: { query: { limit: PAGE_SIZE, next: pages.next } } }));
    setPages({ items: [...pages.items, ...page.items], next: page.next ?? null });
  };
  return (
    <Page title={t("catalog.title")}>
      {first.loading && pages.items.length === 0 ? <Loading /> : null}
      <FormError error={first.error} />
      {!first.loading && !first.error && pages.items.length === 0 ? <p>{t("catalog.empty")}</p> : null}
      {/* Busy until the first page's answer is in (assistive technology, and the canary's page load, wait for it). */}
      <ul class="products" aria-busy={first.loading ? "true" : "false"}>
        {pages.items.map((p) => (
          <li key={p.product_id} class="product-card" data-product-id={p.product_id}>
            <h2>
              <Link href={`/products/${encodeURIComponent(p.product_id)}`}>{p.name}</Link>
            </h2>
            <p class="price">{money(p.price_cents, p.currency)}</p>
            <Availability value={p.availability ?? "OUT_OF_STOCK"} />
            <button
              type="button"
              disabled={p.availability === "OUT_OF_STOCK"}
              aria-label={t("catalog.add", { name: p.name })}
              onClick={() => {
                cart.add({ productId: p.product_id, name: p.name, priceCents: p.price_cents, currency: p.currency }, 1);
                setAdded(t("catalog.added", { name: p.name }));
              }}
            >
              {t("product.add")}
            </button>
          </li>
        ))}
      </ul>
      {pages.next ? <button type="button" class="secondary" onClick={() => void more()}>{t("common.loadMore")}</button> : null}
      <Status message={added} />
    </Page>
  );
}

export function ProductPage(props: { id: string }) {
  const { api, cart } = useShop();
  const [quantity, setQuantity] = useState("1");
  const [added, setAdded] = useState("");
  const product = useLoad(
    async () => data(await api.products.GET("/products/{productId}", { params: { path: { productId: props.id } } })),
    [props.id],
  );
  if (product.loading) return <Loading />;
  const missing = product.error instanceof ApiError && product.error.status === 404;
  if (missing || !product.value) {
    return (
      <Page title={t("common.notFound")}>
        {missing ? <p>{t("product.missing")}</p> : <FormError error={product.error} />}
        <Link href="/">{t("product.back")}</Link>
      </Page>
    );
  }
  const p = product.value;
  return (
    <Page title={p.name}>
      <p class="price">{money(p.price_cents, p.currency)}</p>
      <Availability value={p.availability ?? "OUT_OF_STOCK"} />
      {p.description ? <p class="description">{p.description}</p> : null}
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          cart.add({ productId: p.product_id, name: p.name, priceCents: p.price_cents, currency: p.currency }, Number(quantity));
          setAdded(t("catalog.added", { name: p.name }));
        }}
      >
        <Field id="quantity" label={t("common.quantity")} type="number" rule={OrderIn["lines[].quantity"]}
          value={quantity} onValue={setQuantity} />
        <button type="submit" disabled={p.availability === "OUT_OF_STOCK"}>{t("product.add")}</button>
      </form>
      <Status message={added} />
      <p><Link href="/">{t("product.back")}</Link></p>
    </Page>
  );
}

function totals(lines: readonly { priceCents: number; currency: string; quantity: number }[]): string {
  const sums = new Map<string, number>();
  for (const l of lines) sums.set(l.currency, (sums.get(l.currency) ?? 0) + l.priceCents * l.quantity);
  return [...sums].map(([currency, cents]) => money(cents, currency)).join(" + ");
}

export function CartPage() {
  const { cart } = useShop();
  const state = useStore(cart.state);
  return (
    <Page title={t("cart.title")}>
      {state.pending ? <p class="notice" role="status">{t("cart.locked")}</p> : null}
      {state.lines.length === 0 ? (
        <p>{t("cart.empty")}</p>
      ) : (
        <>
          <table class="lines">
            <thead>
              <tr><th scope="col">{t("common.product")}</th><th scope="col">{t("common.price")}</th><th scope="col">{t("common.quantity")}</th><th scope="col"><span class="visually-hidden">{t("cart.remove", { name: "" })}</span></th></tr>
            </thead>
            <tbody>
              {state.lines.map((l) => (
                <tr key={l.productId}>
                  <td><Link href={`/products/${encodeURIComponent(l.productId)}`}>{l.name}</Link></td>
                  <td>{money(l.priceCents, l.currency)}</td>
                  <td>
                    <input type="number" min={1} max={OrderIn["lines[].quantity"].max} value={l.quantity}
                      aria-label={t("cart.quantityOf", { name: l.name })} disabled={state.pending !== null}
                      onChange={(e) => cart.setQuantity(l.productId, Number((e.currentTarget as HTMLInputElement).value))} />
                  </td>
                  <td>
                    <button type="button" class="secondary" disabled={state.pending !== null}
                      onClick={() => cart.remove(l.productId)}>{t("cart.remove", { name: l.name })}</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="total">{t("common.total")}: {totals(state.lines)}</p>
          <button type="button" onClick={() => navigate("/checkout")}>{t("cart.checkout")}</button>
        </>
      )}
    </Page>
  );
}

export function Checkout() {
  const { api, cart, session } = useShop();
  const state = useStore(cart.state);
  const user = useStore(session.user);
  const [address, setAddress] = useState(state.pending?.body.shipping_address ?? "");
  const [busy, setBusy] = useState(false);
  // Set at once, before any re-render: a second click of a double click finds it (the key is the same anyway).
  const inFlight = useRef(false);
  const [error, setError] = useState<unknown>(null);
  useLoad(async () => {
    if (!user || state.pending || address) return null;
    const me = data(await api.users.GET("/users/me"));
    if (me.address) setAddress(me.address);
    return me;
  }, [user?.sub]);
  if (!user) {
    return (
      <Page title={t("checkout.title")}>
        <p><Link href={`/signin?next=${encodeURIComponent("/checkout")}`}>{t("checkout.signIn")}</Link></p>
      </Page>
    );
  }
  const lines = state.pending
    ? state.pending.body.lines.map((l) => ({ ...state.lines.find((c) => c.productId === l.product_id)!, quantity: l.quantity }))
    : state.lines;
  if (lines.length === 0) return <Page title={t("checkout.title")}><p>{t("cart.empty")}</p></Page>;
  const place = async (event: Event) => {
    event.preventDefault();
    if (inFlight.current) return;
    inFlight.current = true;
    setBusy(true);
    setError(null);
    const attempt = cart.checkout({
      lines: state.lines.map((l) => ({ product_id: l.productId, quantity: l.quantity })),
      shipping_address: address.trim() ? address : null,
    });
    try {
      const order = data(await api.orders.POST("/orders", {
        params: { header: { "Idempotency-Key": attempt.key } },
        body: attempt.body,
      }));
      cart.settle(true);
      navigate(`/orders/${order.order_id}`);
    } catch (err) {
      // Unknown outcome (no answer, or the API failed): keep the attempt, to be sent again as it was.
      const unknown = err instanceof NetworkError || (err instanceof ApiError && err.status >= 500);
      if (!unknown) cart.settle(false);
      setError(err);
      setBusy(false);
      inFlight.current = false;
    }
  };
  return (
    <Page title={t("checkout.title")}>
      <ul class="summary">
        {lines.map((l, i) => (
          <li key={l.productId}>
            {l.quantity} × {l.name} — {money(l.priceCents * l.quantity, l.currency)}
            {fieldError(error, `lines[${i}]`) ? <span class="error" role="alert"> {fieldError(error, `lines[${i}]`)}</span> : null}
          </li>
        ))}
      </ul>
      <p class="total">{t("common.total")}: {totals(lines)}</p>
      <form onSubmit={(e) => void place(e)}>
        <Field id="shipping_address" label={t("checkout.address")} multiline rule={OrderIn.shipping_address}
          value={address} onValue={setAddress} error={fieldError(error, "shipping_address")}
          disabled={state.pending !== null} autoComplete="street-address" />
        {state.pending && error ? <p class="notice" role="status">{t("checkout.unknown")}</p> : null}
        <FormError error={error instanceof NetworkError ? null : error}
          fields={["shipping_address", ...lines.map((_, i) => `lines[${i}]`)]} />
        <button type="submit" disabled={busy} aria-disabled={busy}>{busy ? t("checkout.placing") : t("checkout.place")}</button>
      </form>
    </Page>
  );
}
