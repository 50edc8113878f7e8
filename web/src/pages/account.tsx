import { useState } from "preact/hooks";
import { data, type UsersComponents } from "../api/client";
import { ApiError } from "../api/errors";
import { Confirmation, Credentials, PreferencesUpdate, ProfileUpdate, Registration } from "../api/generated/rules";
import { useShop } from "../app-context";
import { Field, FormError, Link, Loading, Page, Status, fieldError, useLoad } from "../components";
import { language, t } from "../i18n";
import { navigate, useLocation } from "../router";
import { useStore } from "../store";

type Preferences = UsersComponents["schemas"]["PreferencesUpdate"];

/** Runs a form's submission: busy while it runs, its error kept for the fields. */
function useSubmit(action: () => Promise<void>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, submit: (e: Event) => void submit(e) };
}

export function SignUp() {
  const { api } = useShop();
  const [email, setEmail] = useState("");
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const form = useSubmit(async () => {
    data(await api.users.POST("/users/register", { body: { email, name, password } }));
    navigate(`/confirm?email=${encodeURIComponent(email)}`);
  });
  return (
    <Page title={t("signUp.title")}>
      <form onSubmit={form.submit}>
        <Field id="email" label={t("signUp.email")} rule={Registration.email} value={email} onValue={setEmail}
          error={fieldError(form.error, "email")} autoComplete="email" />
        <Field id="name" label={t("signUp.name")} rule={Registration.name} value={name} onValue={setName}
          error={fieldError(form.error, "name")} autoComplete="name" />
        <Field id="password" label={t("signUp.password")} type="password" rule={Registration.password} value={password}
          onValue={setPassword} error={fieldError(form.error, "password")} help={t("signUp.passwordHelp")}
          autoComplete="new-password" />
        <FormError error={form.error} fields={["email", "name", "password"]} />
        <button type="submit" disabled={form.busy}>{t("signUp.submit")}</button>
      </form>
    </Page>
  );
}

export function Confirm() {
  const { api } = useShop();
  const url = useLocation();
  const [email, setEmail] = useState(url.searchParams.get("email") ?? "");
  const [code, setCode] = useState("");
  const form = useSubmit(async () => {
    data(await api.users.POST("/users/confirm", { body: { email, code } }));
    navigate(`/signin?confirmed=1&email=${encodeURIComponent(email)}`);
  });
  return (
    <Page title={t("confirm.title")}>
      {email ? <p>{t("confirm.help", { email })}</p> : null}
      <form onSubmit={form.submit}>
        <Field id="email" label={t("signUp.email")} rule={Confirmation.email} value={email} onValue={setEmail}
          error={fieldError(form.error, "email")} autoComplete="email" />
        <Field id="code" label={t("confirm.code")} rule={Confirmation.code} value={code} onValue={setCode}
          error={fieldError(form.error, "code")} autoComplete="one-time-code" />
        <FormError error={form.error} fields={["email", "code"]} />
        <button type="submit" disabled={form.busy}>{t("confirm.submit")}</button>
      </form>
    </Page>
  );
}

export function SignIn() {
  const { session } = useShop();
  const url = useLocation();
  const ended = useStore(session.ended);
  const [email, setEmail] = useState(url.searchParams.get("email") ?? "");
  const [password, setPassword] = useState("");
  const form = useSubmit(async () => {
    await session.signIn(email, password);
    const next = url.searchParams.get("next") ?? "/";
    navigate(next.startsWith("/") && !next.startsWith("//") ? next : "/", { replace: true });
  });
  const unconfirmed = form.error instanceof ApiError && form.error.code === "user_not_confirmed";
  return (
    <Page title={t("signIn.title")}>
      {url.searchParams.get("confirmed") ? <p class="notice" role="status">{t("confirm.done")}</p> : null}
      {ended === "expired" ? <p class="notice" role="status">{t("notice.expired")}</p> : null}
      <form onSubmit={form.submit}>
        <Field id="email" label={t("signUp.email")} rule={Credentials.email} value={email} onValue={setEmail}
          error={fieldError(form.error, "email")} autoComplete="username" />
        <Field id="password" label={t("signIn.password")} type="password" rule={Credentials.password}
          value={password} onValue={setPassword} error={fieldError(form.error, "password")}
          autoComplete="current-password" />
        {unconfirmed ? (
          <p class="form-error" role="alert">
            <Link href={`/confirm?email=${encodeURIComponent(email)}`}>{t("signIn.unconfirmed")}</Link>
          </p>
        ) : (
          <FormError error={form.error} fields={["email", "password"]} />
        )}
        <button type="submit" disabled={form.busy}>{t("signIn.submit")}</button>
      </form>
      <p><Link href="/signup">{t("signIn.noAccount")}</Link></p>
    </Page>
  );
}

export function Account() {
  const { api, session } = useShop();
  const user = useStore(session.user);
  const [name, setName] = useState("");
  const [address, setAddress] = useState("");
  const [saved, setSaved] = useState("");
  const profile = useLoad(async () => {
    const me = data(await api.users.GET("/users/me"));
    setName(me.name);
    setAddress(me.address ?? "");
    return me;
  }, [user?.sub]);
  const form = useSubmit(async () => {
    setSaved("");
    data(await api.users.PUT("/users/me", { body: { name, address: address.trim() ? address : null } }));
    setSaved(t("common.saved"));
  });
  if (profile.loading) return <Loading />;
  return (
    <Page title={t("account.title")}>
      <FormError error={profile.error} />
      {profile.value ? <p>{t("account.email", { email: profile.value.email })}</p> : null}
      <form onSubmit={form.submit}>
        <Field id="name" label={t("account.name")} rule={ProfileUpdate.name} value={name} onValue={setName}
          error={fieldError(form.error, "name")} autoComplete="name" />
        <Field id="address" label={t("account.address")} multiline rule={ProfileUpdate.address} value={address}
          onValue={setAddress} error={fieldError(form.error, "address")} autoComplete="street-address" />
        <FormError error={form.error} fields={["name", "address"]} />
        <button type="submit" disabled={form.busy}>{t("common.save")}</button>
      </form>
      <Status message={saved} />
      <p><Link href="/account/preferences">{t("nav.preferences")}</Link></p>
    </Page>
  );
}

/** The language names of the users service's choices, in their own language. */
function languageName(tag: string): string {
  try {
    return new Intl.DisplayNames([tag], { type: "language" }).of(tag) ?? tag;
  } catch {
    return tag;
  }
}

export function PreferencesPage() {
  const { api, session } = useShop();
  const user = useStore(session.user);
  const [prefs, setPrefs] = useState<Preferences | null>(null);
  const [saved, setSaved] = useState("");
  const loaded = useLoad(async () => {
    const p = data(await api.users.GET("/users/me/preferences"));
    setPrefs({ language: p.language as Preferences["language"], currency: p.currency as Preferences["currency"],
      notifications: p.notifications });
    return p;
  }, [user?.sub]);
  const form = useSubmit(async () => {
    if (!prefs) return;
    setSaved("");
    const stored = data(await api.users.PUT("/users/me/preferences", { body: prefs }));
    language.set(stored.language);
    setSaved(t("common.saved"));
  });
  if (loaded.loading) return <Loading />;
  if (!prefs) return <Page title={t("preferences.title")}><FormError error={loaded.error} /></Page>;
  const email = prefs.notifications.email;
  return (
    <Page title={t("preferences.title")}>
      <form onSubmit={form.submit}>
        <div class="field">
          <label for="language">{t("preferences.language")}</label>
          <select id="language" value={prefs.language}
            onChange={(e) => setPrefs({ ...prefs, language: (e.currentTarget as HTMLSelectElement).value as Preferences["language"] })}>
            {PreferencesUpdate.language.choices.map((tag) => <option key={tag} value={tag} lang={tag}>{languageName(tag)}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="currency">{t("preferences.currency")}</label>
          <select id="currency" value={prefs.currency}
            onChange={(e) => setPrefs({ ...prefs, currency: (e.currentTarget as HTMLSelectElement).value as Preferences["currency"] })}>
            {PreferencesUpdate.currency.choices.map((c) => <option key={c} value={c}>{c}</option>)}
          </select>
        </div>
        <div class="field checkbox">
          <input id="order_updates" type="checkbox" checked={email.order_updates}
            onChange={(e) => setPrefs({ ...prefs, notifications: { email: { ...email, order_updates: (e.currentTarget as HTMLInputElement).checked } } })} />
          <label for="order_updates">{t("preferences.orderUpdates")}</label>
        </div>
        <div class="field checkbox">
          <input id="marketing" type="checkbox" checked={email.marketing}
            onChange={(e) => setPrefs({ ...prefs, notifications: { email: { ...email, marketing: (e.currentTarget as HTMLInputElement).checked } } })} />
          <label for="marketing">{t("preferences.marketing")}</label>
        </div>
        <FormError error={form.error} fields={["language", "currency", "notifications"]} />
        <button type="submit" disabled={form.busy}>{t("common.save")}</button>
      </form>
      <Status message={saved} />
    </Page>
  );
}
