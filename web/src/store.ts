import { useEffect, useState } from "preact/hooks";

/** A value that components follow: ``useStore(store)`` re-renders them when it changes. */
export class Store<T> {
  private readonly listeners = new Set<(value: T) => void>();

  constructor(private current: T) {}

  get value(): T {
    return this.current;
  }

  set(value: T): void {
    this.current = value;
    for (const listener of [...this.listeners]) listener(value);
  }

  subscribe(listener: (value: T) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export function useStore<T>(store: Store<T>): T {
  const [value, setValue] = useState(store.value);
  useEffect(() => {
    setValue(store.value);
    return store.subscribe(setValue);
  }, [store]);
  return value;
}

/** What the shop tells the customer about the connection: offline, or waiting out a 429. */
export interface ConnectionState {
  readonly online: boolean;
  /** Seconds until a throttled request is retried; 0 when none waits. */
  readonly waitingSeconds: number;
}

export const connection = new Store<ConnectionState>({ online: navigator.onLine, waitingSeconds: 0 });

window.addEventListener("online", () => connection.set({ ...connection.value, online: true }));
window.addEventListener("offline", () => connection.set({ ...connection.value, online: false }));
