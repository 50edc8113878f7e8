import { useState } from "preact/hooks";
import { data, done, type ProductsComponents } from "../api/client";
import { ApiError } from "../api/errors";
import { Adjustment, ProductIn } from "../api/generated/rules";
import { useShop } from "../app-context";
import { Availability, Field, FormError, Link, Loading, Page, Status, fieldError, useLoad } from "../components";
import { money, t } from "../i18n";
import { navigate } from "../router";
import { useStore } from "../store";

type Product = ProductsComponents["schemas"]["Product"];

/** Shown to the admin group only; the API refuses the calls of anyone else anyway (403). */
function AdminOnly(props: { children: preact.ComponentChildren }) {
  const { session } = useShop();
  const user = useStore(session.user);
  if (!user?.isAdmin) return <Page title={t("admin.title")}><p>{t("admin.only")}</p></Page>;
  return <>{props.children}</>;
}

export function AdminCatalog() {
  return <AdminOnly><AdminList /></AdminOnly>;
}

function AdminList() {
  const { api } = useShop();
  const products = useLoad(async () => data(await api.products.GET("/products", { params: { query: { limit: 100 } } })), []);
  return (
    <Page title={t("admin.title")}>
      <p><Link href="/admin/products/new" class="button">{t("admin.new")}</Link></p>
      {products.loading ? <Loading /> : null}
      <FormError error={products.error} />
      <table class="lines">
        <thead><tr><th scope="col">{t("common.product")}</th><th scope="col">{t("common.price")}</th><th scope="col">{t("admin.stock")}</th></tr></thead>
        <tbody>
          {products.value?.items.map((p) => (
            <tr key={p.product_id}>
              <td><Link href={`/admin/products/${encodeURIComponent(p.product_id)}`}>{t("admin.edit", { name: p.name })}</Link></td>
              <td>{money(p.price_cents, p.currency)}</td>
              <td><Availability value={p.availability ?? "OUT_OF_STOCK"} /></td>
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}

export function AdminProduct(props: { id: string | null }) {
  return <AdminOnly><ProductEditor id={props.id} /></AdminOnly>;
}

function ProductEditor(props: { id: string | null }) {
  const { api } = useShop();
  const [form, setForm] = useState({ name: "", description: "", price_cents: "", currency: "EUR" });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState("");
  const existing = useLoad(async () => {
    if (!props.id) return null;
    const p = data(await api.products.GET("/products/{productId}", { params: { path: { productId: props.id } } }));
    setForm({ name: p.name, description: p.description, price_cents: String(p.price_cents), currency: p.currency });
    return p;
  }, [props.id]);
  const save = async (event: Event) => {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    setMessage("");
    const body = { name: form.name, description: form.description, price_cents: Number(form.price_cents), currency: form.currency };
    try {
      let product: Product;
      if (props.id) {
        product = data(await api.products.PUT("/products/{productId}", { params: { path: { productId: props.id } }, body }));
        setMessage(t("common.saved"));
      } else {
        product = data(await api.products.POST("/products", { body }));
        navigate(`/admin/products/${encodeURIComponent(product.product_id)}`, { replace: true });
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const discontinue = async () => {
    if (!props.id) return;
    try {
      done(await api.products.DELETE("/products/{productId}", { params: { path: { productId: props.id } } }));
      setMessage(t("admin.discontinued", { name: form.name }));
    } catch (err) {
      setError(err);
    }
  };
  if (existing.loading) return <Loading />;
  const set = (key: keyof typeof form) => (value: string) => setForm({ ...form, [key]: value });
  return (
    <Page title={props.id ? t("admin.edit", { name: form.name }) : t("admin.new")}>
      <FormError error={existing.error} />
      <form onSubmit={(e) => void save(e)}>
        <Field id="name" label={t("admin.name")} rule={ProductIn.name} value={form.name} onValue={set("name")}
          error={fieldError(error, "name")} />
        <Field id="description" label={t("admin.description")} multiline rule={ProductIn.description}
          value={form.description} onValue={set("description")} error={fieldError(error, "description")} />
        <Field id="price_cents" label={t("admin.price")} type="number" rule={ProductIn.price_cents}
          value={form.price_cents} onValue={set("price_cents")} error={fieldError(error, "price_cents")} />
        <Field id="currency" label={t("admin.currency")} rule={ProductIn.currency} value={form.currency}
          onValue={set("currency")} error={fieldError(error, "currency")} />
        <FormError error={error} fields={["name", "description", "price_cents", "currency"]} />
        <button type="submit" disabled={busy}>{props.id ? t("admin.update") : t("admin.create")}</button>
        {props.id ? <>{" "}<button type="button" class="danger" onClick={() => void discontinue()}>{t("admin.discontinue")}</button></> : null}
      </form>
      <Status message={message} />
      {props.id ? <Stock productId={props.id} /> : null}
      <p><Link href="/admin">{t("admin.title")}</Link></p>
    </Page>
  );
}

function Stock(props: { productId: string }) {
  const { api } = useShop();
  const [delta, setDelta] = useState("");
  const [reason, setReason] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [message, setMessage] = useState("");
  const stock = useLoad(
    async () => data(await api.inventory.GET("/inventory/{productId}", { params: { path: { productId: props.productId } } })),
    [props.productId],
  );
  const adjust = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      const level = data(await api.inventory.POST("/inventory/{productId}/adjust", {
        params: { path: { productId: props.productId } },
        body: reason.trim() ? { delta: Number(delta), reason } : { delta: Number(delta) },
      }));
      setMessage(t("admin.adjusted", { available: level.available }));
      setDelta("");
      stock.reload();
    } catch (err) {
      setError(err);
    }
  };
  const missing = stock.error instanceof ApiError && stock.error.status === 404;
  return (
    <section aria-labelledby="stock-title">
      <h2 id="stock-title">{t("admin.stock")}</h2>
      {stock.value ? <p>{t("admin.available", { available: stock.value.available, reserved: stock.value.reserved })}</p> : null}
      {missing ? <p>{t("admin.noStock")}</p> : <FormError error={stock.error} />}
      <form onSubmit={(e) => void adjust(e)}>
        <Field id="delta" label={t("admin.delta")} type="number" rule={Adjustment.delta} value={delta} onValue={setDelta}
          error={fieldError(error, "delta")} />
        <Field id="reason" label={t("admin.reason")} rule={Adjustment.reason} value={reason} onValue={setReason}
          error={fieldError(error, "reason")} />
        <FormError error={error} fields={["delta", "reason"]} />
        <button type="submit">{t("admin.adjust")}</button>
      </form>
      <Status message={message} />
    </section>
  );
}
