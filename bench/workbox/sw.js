// The JS peer for the worker benchmark: the same app shell and routes as
// Casefile's Rust worker, written the usual way with Workbox 7 (bundled
// locally by esbuild; `self.__WB_MANIFEST` is filled in from our build's
// precache list by scripts/bench-worker.mjs).
import { precacheAndRoute, createHandlerBoundToURL } from "workbox-precaching";
import { registerRoute, NavigationRoute } from "workbox-routing";
import { NetworkFirst } from "workbox-strategies";
import { Queue } from "workbox-background-sync";

precacheAndRoute(self.__WB_MANIFEST);
registerRoute(
  new NavigationRoute(createHandlerBoundToURL("/"), { denylist: [/^\/api\//, /^\/metrics$/] }),
);
registerRoute(
  ({ url, request }) =>
    request.method === "GET" && url.pathname.startsWith("/api/v1/") && !url.pathname.startsWith("/api/v1/events"),
  new NetworkFirst({ cacheName: "api", networkTimeoutSeconds: 4 }),
);

const queue = new Queue("casefile-writes");
for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
  registerRoute(
    ({ url }) => url.pathname.startsWith("/api/"),
    async ({ request }) => {
      try {
        return await fetch(request.clone());
      } catch {
        await queue.pushRequest({ request });
        return new Response(JSON.stringify({ queued: true }), { status: 202 });
      }
    },
    method,
  );
}

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "replay") {
    event.waitUntil(queue.replayRequests().then(() => event.source.postMessage({ type: "replayed" })));
  }
});
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
