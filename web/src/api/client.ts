import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { RuntimeConfig } from "../config";
import { ApiError, errorOf } from "./errors";
import type { paths as InventoryPaths } from "./generated/inventory";
import type { paths as OrdersPaths } from "./generated/orders";
import type { paths as ProductsPaths } from "./generated/products";
import type { paths as UsersPaths } from "./generated/users";
import { apiFetch } from "./http";

export type { components as OrdersComponents } from "./generated/orders";
export type { components as ProductsComponents } from "./generated/products";
export type { components as UsersComponents } from "./generated/users";
export type { components as InventoryComponents } from "./generated/inventory";

/** The API as the edge exposes it: one typed client per service (their routes share the API's base URL). */
export interface Api {
  readonly products: Client<ProductsPaths>;
  readonly orders: Client<OrdersPaths>;
  readonly users: Client<UsersPaths>;
  readonly inventory: Client<InventoryPaths>;
}

/** Supplies the access token a request carries, refreshed first when it is about to expire; none when signed out.
 * Not asked for the token endpoint itself (the refresh would wait on itself). */
export type TokenSource = () => Promise<string | null>;

const TOKEN_PATH = "/users/token";

/** ``rejected``: a request that carried an access token was answered 401 (revoked, or expired while it slept). */
export function createApi(config: RuntimeConfig, token: TokenSource, rejected: () => void = () => undefined): Api {
  const middleware: Middleware = {
    async onRequest({ request }) {
      request.headers.set("x-api-key", config.apiKey);
      if (!new URL(request.url).pathname.endsWith(TOKEN_PATH)) {
        const access = await token();
        if (access) request.headers.set("Authorization", `Bearer ${access}`);
      }
      return request;
    },
    onResponse({ request, response }) {
      if (response.status === 401 && request.headers.has("Authorization")) rejected();
      return response;
    },
  };
  const options = { baseUrl: config.apiUrl, fetch: apiFetch };
  const api: Api = {
    products: createClient<ProductsPaths>(options),
    orders: createClient<OrdersPaths>(options),
    users: createClient<UsersPaths>(options),
    inventory: createClient<InventoryPaths>(options),
  };
  for (const client of Object.values(api)) (client as Client<object>).use(middleware);
  return api;
}

/** The data of a successful call, else an ApiError built from the error body. */
export function data<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.response.ok) return result.data as T;
  throw errorOf(result.response.status, result.error);
}

/** For calls answered 204 (no body). */
export function done(result: { error?: unknown; response: Response }): void {
  if (!result.response.ok) throw errorOf(result.response.status, result.error);
}

export { ApiError };
