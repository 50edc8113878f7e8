import type { OrdersComponents } from "./api/client";
import { Store } from "./store";

type OrderIn = OrdersComponents["schemas"]["OrderIn"];

export interface CartLine {
  readonly productId: string;
  readonly name: string;
  readonly priceCents: number;
  readonly currency: string;
  readonly quantity: number;
}

/** A checkout whose outcome is not known yet (sent, no answer: the connection dropped, the API failed): it is sent
 * again with the same Idempotency-Key and body until the API answers, so it can never make two orders. */
export interface PendingCheckout {
  readonly key: string;
  readonly body: OrderIn;
}

export interface CartState {
  readonly lines: readonly CartLine[];
  readonly pending: PendingCheckout | null;
}

const KEY = "shop.cart.v1";
const EMPTY: CartState = { lines: [], pending: null };

function load(): CartState {
  try {
    const raw = localStorage.getItem(KEY);
    if (!raw) return EMPTY;
    const parsed = JSON.parse(raw) as Partial<CartState>;
    return { lines: Array.isArray(parsed.lines) ? parsed.lines : [], pending: parsed.pending ?? null };
  } catch {
    return EMPTY;
  }
}

/** The cart, kept in the browser (localStorage: it survives reloads, lost connections and sign-out, and holds
 * nothing secret); the same in every tab of the shop. */
export class Cart {
  readonly state = new Store<CartState>(load());

  constructor() {
    window.addEventListener("storage", (event) => {
      if (event.key === KEY) this.state.set(load());
    });
  }

  private save(next: CartState): void {
    localStorage.setItem(KEY, JSON.stringify(next));
    this.state.set(next);
  }

  get lines(): readonly CartLine[] {
    return this.state.value.lines;
  }

  get count(): number {
    return this.lines.reduce((n, l) => n + l.quantity, 0);
  }

  /** Locked while a checkout's outcome is unknown: what is sent again must be what was sent. */
  get locked(): boolean {
    return this.state.value.pending !== null;
  }

  add(line: Omit<CartLine, "quantity">, quantity: number): void {
    const existing = this.lines.find((l) => l.productId === line.productId);
    const lines = existing
      ? this.lines.map((l) => (l.productId === line.productId ? { ...l, ...line, quantity: l.quantity + quantity } : l))
      : [...this.lines, { ...line, quantity }];
    this.save({ ...this.state.value, lines });
  }

  setQuantity(productId: string, quantity: number): void {
    const lines = quantity > 0
      ? this.lines.map((l) => (l.productId === productId ? { ...l, quantity } : l))
      : this.lines.filter((l) => l.productId !== productId);
    this.save({ ...this.state.value, lines });
  }

  remove(productId: string): void {
    this.setQuantity(productId, 0);
  }

  /** The checkout to send: the pending one if its outcome is unknown, else a new one with a new key. */
  checkout(body: OrderIn): PendingCheckout {
    const pending = this.state.value.pending ?? { key: crypto.randomUUID(), body };
    this.save({ ...this.state.value, pending });
    return pending;
  }

  /** The API answered the checkout: placed (the cart empties) or refused (the cart stays, to be corrected). */
  settle(placed: boolean): void {
    this.save(placed ? EMPTY : { ...this.state.value, pending: null });
  }
}
