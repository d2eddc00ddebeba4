/// <reference types="vite/client" />
// Test-only (two dots in the name, so `npx convex deploy` skips it): every function module, for
// convex-test.
export const modules = import.meta.glob("./**/!(*.*.*)*.*s");
