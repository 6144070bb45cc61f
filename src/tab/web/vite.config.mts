/**
 * Builds the tab (React + Fluent UI v9) into dist/tab, served by Herald at /tab/ (src/tab/tab-static.ts).
 * `npm run build` runs it after tsc.
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root: here,
  base: "/tab/",
  logLevel: "warn",
  oxc: { jsx: { runtime: "automatic" } },
  build: {
    outDir: fileURLToPath(new URL("../../../dist/tab", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    // Inline nothing as data: URLs (the CSP allows data: images only).
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    chunkSizeWarningLimit: 1500,
    rolldownOptions: {
      // Fluent UI marks modules "use client" (for React Server Components); meaningless in a client-only bundle.
      onwarn(warning, warn) {
        if (warning.code !== "MODULE_LEVEL_DIRECTIVE") warn(warning);
      },
    },
  },
});
