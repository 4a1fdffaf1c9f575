// Casefile service worker bootstrap, generated from sw/bootstrap.js at build time.
// A worker must add its listeners during its first synchronous run, so they are
// added here and wait for the Rust module, which does the real work.
"use strict";
const VERSION = "__VERSION__";
const PRECACHE = __PRECACHE__;
const WASM = "__WASM__";
importScripts("__GLUE__");

// The module is loaded from this build's precache when it is there, so a
// restarted worker starts without a network (its own fetches skip its handler).
const ready = caches
  .match(WASM)
  .catch(() => undefined)
  .then((cached) => wasm_bindgen({ module_or_path: cached || fetch(WASM) }))
  .then(() => wasm_bindgen.configure(VERSION, PRECACHE));
ready.catch((err) => console.error("casefile-sw: the wasm module failed to start", err));

self.addEventListener("install", (e) => e.waitUntil(ready.then(() => wasm_bindgen.on_install())));
self.addEventListener("activate", (e) => e.waitUntil(ready.then(() => wasm_bindgen.on_activate())));
self.addEventListener("fetch", (e) =>
  // If the module cannot start, the page still reaches the network.
  e.respondWith(ready.then(() => wasm_bindgen.on_fetch(e), () => fetch(e.request))),
);
self.addEventListener("message", (e) => e.waitUntil(ready.then(() => wasm_bindgen.on_message(e.data))));
self.addEventListener("sync", (e) => e.waitUntil(ready.then(() => wasm_bindgen.on_sync())));
