"""The HTTP API over `app.core`: middleware, security, body parsing, schemas, the error
responses and the routes (/predict, /tokenize, /explain, probes, /models, /metrics, the page)."""
