import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Api } from "./api/client";
import type { Cart } from "./cart";
import type { RuntimeConfig } from "./config";
import type { Session } from "./session";

export interface Shop {
  readonly config: RuntimeConfig;
  readonly api: Api;
  readonly session: Session;
  readonly cart: Cart;
}

export const ShopContext = createContext<Shop | null>(null);

export function useShop(): Shop {
  const shop = useContext(ShopContext);
  if (!shop) throw new Error("useShop outside the shop");
  return shop;
}
