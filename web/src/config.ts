/** The runtime configuration: /config.js, written at deploy from the other stacks' values (the Web stack's
 * StorefrontConfig: the Edge stack's API URL and key, the Data stack's user pool and client, the region) or by
 * `make local` for the local edge. Never part of the bundle: one build serves every environment. */
export interface RuntimeConfig {
  /** The API's base URL, stage included, without a trailing slash. */
  readonly apiUrl: string;
  /** The web client's API key (usage plan): public by nature, it identifies the storefront's traffic. */
  readonly apiKey: string;
  readonly region: string;
  readonly userPoolId: string;
  readonly userPoolClientId: string;
}

declare global {
  interface Window {
    STOREFRONT_CONFIG?: unknown;
  }
}

const KEYS = ["apiUrl", "apiKey", "region", "userPoolId", "userPoolClientId"] as const;

export function readConfig(raw: unknown = window.STOREFRONT_CONFIG): RuntimeConfig {
  if (typeof raw !== "object" || raw === null) {
    throw new Error("the shop's configuration (config.js) did not load");
  }
  const values = raw as Record<string, unknown>;
  const missing = KEYS.filter((k) => typeof values[k] !== "string" || values[k] === "");
  if (missing.length > 0) throw new Error(`the shop's configuration lacks ${missing.join(", ")}`);
  const text = (k: (typeof KEYS)[number]) => values[k] as string;
  return {
    apiUrl: text("apiUrl").replace(/\/+$/, ""),
    apiKey: text("apiKey"),
    region: text("region"),
    userPoolId: text("userPoolId"),
    userPoolClientId: text("userPoolClientId"),
  };
}

/** The issuer of the pool's tokens: tokens from any other pool are not kept. */
export function issuer(config: RuntimeConfig): string {
  return `https://cognito-idp.${config.region}.amazonaws.com/${config.userPoolId}`;
}
