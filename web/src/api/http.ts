import { connection } from "../store";
import { NetworkError } from "./errors";

/** Waits before each retry of a throttled request (API Gateway's 429 "throttled": the stage's or the usage plan's
 * rate, or a burst); the customer sees the wait counting down. A quota (429 "quota_exceeded") is not waited out. */
export const THROTTLE_WAITS_SECONDS = [1, 2, 4, 8];

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function isThrottled(response: Response): Promise<boolean> {
  if (response.status !== 429) return false;
  try {
    const body: unknown = await response.clone().json();
    return typeof body === "object" && body !== null && (body as { error?: unknown }).error === "throttled";
  } catch {
    return true; // a 429 without our JSON body: API Gateway's default throttling answer
  }
}

/** fetch as the storefront calls the API: a lost connection becomes a NetworkError (the caller keeps its state, e.g.
 * the cart), and a throttled request waits and is sent again (with the same headers: an order's Idempotency-Key
 * makes the retry safe). */
export async function apiFetch(request: Request): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    let response: Response;
    try {
      response = await fetch(request.clone());
    } catch (err) {
      connection.set({ ...connection.value, online: navigator.onLine });
      throw new NetworkError(err instanceof Error ? err.message : String(err));
    }
    const wait = THROTTLE_WAITS_SECONDS[attempt];
    if (wait === undefined || !(await isThrottled(response))) {
      if (!connection.value.online) connection.set({ ...connection.value, online: true });
      return response;
    }
    for (let left = wait; left > 0; left--) {
      connection.set({ ...connection.value, waitingSeconds: left });
      await sleep(1000);
    }
    connection.set({ ...connection.value, waitingSeconds: 0 });
  }
}
