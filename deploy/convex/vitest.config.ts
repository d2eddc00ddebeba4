import { defineConfig } from "vitest/config";

// convex-test runs the functions in the edge runtime, like Convex's own isolates, and must be
// inlined so that its `import.meta.glob` is processed by vite.
export default defineConfig({
  test: {
    environment: "edge-runtime",
    server: { deps: { inline: ["convex-test"] } },
    include: ["convex/**/*.test.ts"],
  },
});
