import { render } from "preact";
import { createApi } from "./api/client";
import { App } from "./app";
import { Cart } from "./cart";
import { readConfig } from "./config";
import { Session } from "./session";
import "./styles.css";

const root = document.getElementById("app");
if (root) {
  try {
    const config = readConfig();
    const session = new Session(config);
    const api = createApi(config, () => session.accessToken(), () => session.expire());
    session.attach(api);
    root.replaceChildren(); // the "Loading" placeholder of index.html
    render(<App shop={{ config, api, session, cart: new Cart() }} />, root);
  } catch (err) {
    const message = document.createElement("p");
    message.setAttribute("role", "alert");
    message.textContent = `The shop cannot start: ${err instanceof Error ? err.message : String(err)}`;
    root.replaceChildren(message);
  }
}
