// What a production bundle (Vite) substitutes for query-core's dev checks.
window.process = { env: { NODE_ENV: "production" } };
