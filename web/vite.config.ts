// Vite builds the web client into dist/ (served by the `convene` binary at `/`); in
// development its server proxies /api (REST and the WebSocket) to a running Convene so
// that cookies are same-origin. CONVENE_URL picks that server (default :8080).
import { fileURLToPath } from "node:url";
import tailwindcss from "@tailwindcss/vite";
import { defineConfig } from "vitest/config";

const convene = process.env.CONVENE_URL ?? "http://127.0.0.1:8080";
const proxy = { "/api": { target: convene, ws: true, changeOrigin: false } };

export default defineConfig({
  plugins: [tailwindcss()],
  resolve: {
    alias: {
      // The generated wire types (crates/proto/typescript/protocol.ts), never hand-written.
      "@proto": fileURLToPath(new URL("../crates/proto/typescript/protocol.ts", import.meta.url)),
      // The generated REST bodies (crates/gateway/typescript/rest.ts).
      "@rest": fileURLToPath(new URL("../crates/gateway/typescript/rest.ts", import.meta.url)),
    },
  },
  server: { port: 5173, strictPort: true, proxy, fs: { allow: [".."] } },
  preview: { port: 5173, strictPort: true, proxy },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", sourcemap: false },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
});
