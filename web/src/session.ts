import { type Api, type UsersComponents, data, done } from "./api/client";
import { NetworkError } from "./api/errors";
import { issuer, type RuntimeConfig } from "./config";
import { Store } from "./store";

type TokensOut = UsersComponents["schemas"]["Tokens"];

export interface User {
  readonly sub: string;
  readonly email: string;
  readonly name: string;
  readonly groups: readonly string[];
  readonly isAdmin: boolean;
}

interface Tokens {
  readonly access: string;
  readonly id: string;
  readonly refresh: string | null;
  /** When the access and ID tokens expire (ms since the epoch). */
  readonly expiresAt: number;
}

/** Refresh this long before the tokens expire, so a request never leaves with one about to expire. */
export const REFRESH_MARGIN_MS = 60_000;
const ADMIN_GROUP = "admin";

function claims(token: string): Record<string, unknown> {
  const part = token.split(".")[1] ?? "";
  const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
  const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
}

/** The signed-in customer's tokens, in memory only (never localStorage or sessionStorage, where any script of the
 * origin could read them): a reload signs out. Refreshed before they expire; revoked at sign-out. */
export class Session {
  readonly user = new Store<User | null>(null);
  /** Why the session ended without the customer signing out (shown on the sign-in page), or "". */
  readonly ended = new Store<"" | "expired" | "offline-sign-out">("");
  private tokens: Tokens | null = null;
  private refreshing: Promise<string | null> | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private api: Api | null = null;

  constructor(private readonly config: RuntimeConfig) {}

  attach(api: Api): void {
    this.api = api;
  }

  private get client(): Api {
    if (!this.api) throw new Error("session used before the API client was attached");
    return this.api;
  }

  async signIn(email: string, password: string): Promise<User> {
    const tokens = data(await this.client.users.POST("/users/login", { body: { email, password } }));
    return this.keep(tokens, tokens.refresh_token ?? null);
  }

  /** The access token to send, refreshed first if it expires within the margin; null when signed out. */
  async accessToken(): Promise<string | null> {
    if (!this.tokens) return null;
    if (Date.now() < this.tokens.expiresAt - REFRESH_MARGIN_MS) return this.tokens.access;
    return this.refresh();
  }

  /** Renew the tokens with the refresh token (one refresh at a time). */
  refresh(): Promise<string | null> {
    this.refreshing ??= this.renew().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async renew(): Promise<string | null> {
    const current = this.tokens;
    if (!current?.refresh) return current?.access ?? null;
    try {
      const tokens = data(await this.client.users.POST("/users/token", { body: { refresh_token: current.refresh } }));
      this.keep(tokens, current.refresh);
      return this.tokens?.access ?? null;
    } catch (err) {
      if (err instanceof NetworkError && Date.now() < current.expiresAt) {
        this.schedule(Math.min(10_000, current.expiresAt - Date.now()));
        return current.access; // still valid: try again in a moment
      }
      this.clear("expired");
      return null;
    }
  }

  /** The API refused the access token (401): the session is over; the customer signs in again. */
  expire(): void {
    if (this.tokens) this.clear("expired");
  }

  /** Sign out: the API revokes the refresh tokens (GlobalSignOut); the tokens leave memory whatever happens. */
  async signOut(): Promise<void> {
    if (!this.tokens) return;
    try {
      done(await this.client.users.POST("/users/logout"));
      this.clear("");
    } catch (err) {
      this.clear(err instanceof NetworkError ? "offline-sign-out" : "");
    }
  }

  private keep(out: TokensOut, refresh: string | null): User {
    const access = claims(out.access_token);
    const id = claims(out.id_token);
    // Tokens of another pool or app client mean the configuration points at the wrong user pool: keep none.
    const expected = issuer(this.config);
    if (access.iss !== expected || id.iss !== expected || access.client_id !== this.config.userPoolClientId ||
        id.aud !== this.config.userPoolClientId || access.token_use !== "access" || id.token_use !== "id") {
      this.clear("");
      throw new Error(`the sign-in answered with tokens that are not of ${expected} for this shop's app client`);
    }
    this.tokens = { access: out.access_token, id: out.id_token, refresh, expiresAt: Date.now() + out.expires_in * 1000 };
    const groups = Array.isArray(access["cognito:groups"]) ? (access["cognito:groups"] as string[]) : [];
    const user: User = {
      sub: String(access.sub),
      email: String(id.email ?? ""),
      name: String(id.name ?? id.email ?? ""),
      groups,
      isAdmin: groups.includes(ADMIN_GROUP),
    };
    this.ended.set("");
    this.user.set(user);
    this.schedule(this.tokens.expiresAt - REFRESH_MARGIN_MS - Date.now());
    return user;
  }

  private schedule(inMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.refresh(), Math.max(1_000, inMs));
  }

  private clear(reason: "" | "expired" | "offline-sign-out"): void {
    clearTimeout(this.timer);
    this.tokens = null;
    this.user.set(null);
    this.ended.set(reason);
  }
}
