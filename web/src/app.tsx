import { useEffect } from "preact/hooks";
import { data } from "./api/client";
import { type Shop, ShopContext, useShop } from "./app-context";
import { Link } from "./components";
import { language, t } from "./i18n";
import { Account, Confirm, PreferencesPage, SignIn, SignUp } from "./pages/account";
import { AdminCatalog, AdminProduct } from "./pages/admin";
import { OrderPage, Orders } from "./pages/orders";
import { CartPage, Catalog, Checkout, ProductPage } from "./pages/shop";
import { match, navigate, useLocation } from "./router";
import { connection, useStore } from "./store";

/** Pages that need a signed-in customer: the others send a visitor to sign in first, and back afterwards. */
const SIGNED_IN = ["/orders", "/orders/:id", "/account", "/account/preferences"];

function route(path: string) {
  let p: Record<string, string> | null;
  if (path === "/") return <Catalog />;
  if ((p = match("/products/:id", path))) return <ProductPage id={p.id ?? ""} />;
  if (path === "/cart") return <CartPage />;
  if (path === "/checkout") return <Checkout />;
  if (path === "/orders") return <Orders />;
  if ((p = match("/orders/:id", path))) return <OrderPage id={p.id ?? ""} />;
  if (path === "/signup") return <SignUp />;
  if (path === "/confirm") return <Confirm />;
  if (path === "/signin") return <SignIn />;
  if (path === "/account") return <Account />;
  if (path === "/account/preferences") return <PreferencesPage />;
  if (path === "/admin") return <AdminCatalog />;
  if (path === "/admin/products/new") return <AdminProduct id={null} />;
  if ((p = match("/admin/products/:id", path))) return <AdminProduct id={p.id ?? ""} />;
  return (
    <section>
      <h1>{t("common.notFound")}</h1>
      <Link href="/">{t("product.back")}</Link>
    </section>
  );
}

function Notices() {
  const { session } = useShop();
  const state = useStore(connection);
  const ended = useStore(session.ended);
  return (
    <div class="notices" aria-live="polite">
      {!state.online ? <p class="notice">{t("notice.offline")}</p> : null}
      {state.waitingSeconds > 0 ? <p class="notice">{t("notice.waiting", { seconds: state.waitingSeconds })}</p> : null}
      {ended === "offline-sign-out" ? <p class="notice">{t("notice.offlineSignOut")}</p> : null}
    </div>
  );
}

function Header() {
  const { session, cart } = useShop();
  const user = useStore(session.user);
  useStore(cart.state);
  return (
    <header class="site">
      <a class="skip" href="#main">{t("nav.skip")}</a>
      <Link href="/" class="brand">{t("shop.name")}</Link>
      <nav aria-label={t("nav.main")}>
        <ul>
          <li><Link href="/">{t("nav.catalog")}</Link></li>
          <li><Link href="/cart">{t("nav.cart", { count: cart.count })}</Link></li>
          {user ? (
            <>
              <li><Link href="/orders">{t("nav.orders")}</Link></li>
              <li><Link href="/account">{t("nav.account")}</Link></li>
              {user.isAdmin ? <li><Link href="/admin">{t("nav.admin")}</Link></li> : null}
              <li>
                <button type="button" class="link" onClick={() => void session.signOut().then(() => navigate("/"))}>
                  {t("nav.signOut")}
                </button>
              </li>
            </>
          ) : (
            <>
              <li><Link href="/signin">{t("nav.signIn")}</Link></li>
              <li><Link href="/signup">{t("nav.signUp")}</Link></li>
            </>
          )}
        </ul>
      </nav>
      {user ? <p class="who">{t("nav.signedInAs", { name: user.name })}</p> : null}
    </header>
  );
}

function Layout() {
  const { api, session } = useShop();
  const url = useLocation();
  const user = useStore(session.user);
  const lang = useStore(language);
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);
  // The signed-in customer's language preference is the storefront's, as it is their emails'.
  useEffect(() => {
    if (!user) return;
    api.users.GET("/users/me/preferences").then((r) => language.set(data(r).language), () => undefined);
  }, [user?.sub]);
  const path = url.pathname.replace(/\/+$/, "") || "/";
  const needsUser = SIGNED_IN.some((pattern) => match(pattern, path));
  useEffect(() => {
    if (needsUser && !user) navigate(`/signin?next=${encodeURIComponent(path + url.search)}`, { replace: true });
  }, [needsUser, user, path]);
  return (
    <>
      <Header />
      <Notices />
      <main id="main">{needsUser && !user ? null : route(path)}</main>
      <footer class="site"><p>{t("shop.name")}</p></footer>
    </>
  );
}

export function App(props: { shop: Shop }) {
  return (
    <ShopContext.Provider value={props.shop}>
      <Layout />
    </ShopContext.Provider>
  );
}
