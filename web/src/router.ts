import { useEffect, useState } from "preact/hooks";
import { Store } from "./store";

/** The path and query of the page shown; pages are addressed by path (CloudFront and `make local` answer every
 * path without a file extension with index.html). */
export const location = new Store<URL>(new URL(window.location.href));

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  const url = new URL(to, window.location.origin);
  if (options.replace) window.history.replaceState(null, "", url);
  else window.history.pushState(null, "", url);
  location.set(url);
  window.scrollTo(0, 0);
}

window.addEventListener("popstate", () => location.set(new URL(window.location.href)));

export function useLocation(): URL {
  const [url, setUrl] = useState(location.value);
  useEffect(() => location.subscribe(setUrl), []);
  return url;
}

/** The parameters of ``pattern`` ("/orders/:id") in ``path``, or null when it does not match. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split("/").filter(Boolean);
  const got = path.split("/").filter(Boolean);
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (const [i, part] of want.entries()) {
    const segment = got[i] ?? "";
    if (part.startsWith(":")) params[part.slice(1)] = decodeURIComponent(segment);
    else if (part !== segment) return null;
  }
  return params;
}
