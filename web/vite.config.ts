import { defineConfig } from "vite";

// Hashed assets under /assets/ (cached for a year by CloudFront and browsers); index.html and config.js are not
// hashed and never cached (cdk_constructs/storefront.py). No source maps in what ships.
export default defineConfig({
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    assetsDir: "assets",
    target: "es2022",
    sourcemap: false,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});
